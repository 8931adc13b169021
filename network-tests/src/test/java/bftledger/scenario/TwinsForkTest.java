package bftledger.scenario;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import bftledger.ledger.BlockStore;
import bftledger.ledger.Blocks;
import bftledger.ledger.proto.Block;
import bftledger.netfault.NetnsSupport;
import bftledger.sdk.Network;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * f+1 Byzantine replicas that break agreement for certain: twins. Replicas 0 and 1 each run twice
 * (same key, two processes with their own data), one copy in namespace network X with honest
 * node2, the other in network Y with honest node3. Each side has 2f+1 = 3 signers, so each
 * commits its own client's transfers: the honest ledgers fork at height 1. Checked: each honest
 * ledger is valid on its own (offline audit, money conserved, its side's acknowledged transfers
 * present); the two blocks at the fork height differ; the two commit certificates prove exactly
 * the twins faulty (signed both sides, verified with genesis keys alone), never an honest node;
 * and the online audit, run over all four nodes brought together afterwards, fails and names
 * exactly the twins as culprits from the two certificates, never an honest node. Needs root and namespaces; skipped with the reason otherwise.
 */
@Timeout(value = 4, unit = TimeUnit.MINUTES)
class TwinsForkTest {
    private static final long SEED = Long.getLong("bftledger.seed", System.nanoTime());

    @TempDir
    Path tmp;

    @Test
    void twinsForkTheHonestNodesAndTheCertificatesNameThem() throws Exception {
        Optional<String> unavailable = NetnsSupport.check();
        Assumptions.assumeTrue(unavailable.isEmpty(), () -> "twins fork scenario skipped: " + unavailable.orElse(""));
        String why = "seed " + SEED + " (replay with -Dbftledger.seed=" + SEED + ")";
        long pid = ProcessHandle.current().pid();
        Path dir = tmp.resolve("twins");
        BankWorkload wx;
        BankWorkload wy;
        try (ScenarioCluster x = ScenarioCluster.netns(dir, "twx" + pid, ScenarioCluster.Options.defaults(SEED));
             ScenarioCluster y = ScenarioCluster.netnsTwin(x, "twy" + pid, "-y", null)) {
            for (int i : List.of(0, 1, 2)) {
                x.start(i);
            }
            for (int i : List.of(0, 1, 3)) {
                y.start(i);
            }
            x.awaitReady(Duration.ofSeconds(90), List.of(0, 1, 2));
            y.awaitReady(Duration.ofSeconds(90), List.of(0, 1, 3));
            wx = new BankWorkload(x.accounts(), 3_000, 4, Duration.ofSeconds(20), SEED);
            wy = new BankWorkload(y.accounts(), 3_000, 4, Duration.ofSeconds(20), SEED + 1);
            wx.start(x.client());
            wy.start(y.client());
            wx.awaitMoreAcks(10, Duration.ofSeconds(60), "side X (twins 0,1 + node2), " + why);
            wy.awaitMoreAcks(10, Duration.ofSeconds(60), "side Y (twins 0,1 + node3), " + why);
            wx.stop();
            wy.stop();
            // Beyond f, the twins alone are f+1 matching replies: a transfer can be acknowledged
            // before the honest node of its side has executed it. Let each honest node reach its
            // side's highest acknowledged height before it is stopped and checked on its own.
            awaitHeight(x, 2, wx, why);
            awaitHeight(y, 3, wy, why);
            x.stopAll();
            y.stopAll();

            // Each honest ledger on its own: valid, money conserved, its side's acknowledgements present.
            new BankChecker(x, wx, List.of(2)).offline().assertOk("twins, node2's own ledger, " + why);
            new BankChecker(y, wy, List.of(3)).offline().assertOk("twins, node3's own ledger, " + why);

            // The fork, proven from the blocks and their certificates alone.
            Block b2;
            Block b3;
            try (BlockStore s2 = BlockStore.open(x.data(2).resolve("ledger"), x.genesis(), 256L << 20);
                 BlockStore s3 = BlockStore.open(y.data(3).resolve("ledger"), y.genesis(), 256L << 20)) {
                b2 = s2.block(1).orElseThrow();
                b3 = s3.block(1).orElseThrow();
            }
            assertNotEquals(Blocks.hash(b2), Blocks.hash(b3), "twins on two sides should fork the honest nodes at height 1; " + why);
            List<Integer> proven = BankChecker.doubleSigners(b2.getCertificate(), b3.getCertificate(),
                    Network.fromGenesisBytes(x.genesis().bytes()).validatorKeys());
            assertEquals(List.of(0, 1), proven, "replicas proven faulty by the two certificates at height 1 (view "
                    + b2.getCertificate().getView() + "/" + b3.getCertificate().getView() + "); " + why);

            // All four brought together (replicas 0 and 1 with side X's data): the online audit sees the fork.
            try (ScenarioCluster z = ScenarioCluster.netnsTwin(x, "twz" + pid, "-z", List.of("data", "data", "data", "data-y"))) {
                z.startAll();
                z.awaitAnswering(Duration.ofSeconds(90));
                String json = z.runInClientHost(Duration.ofSeconds(60), "audit", "--online", "--genesis",
                        z.genesisPath().toString(), "--timeout", "10s", "--json", "--plaintext");
                System.out.println("twins fork: online audit " + json);
                OnlineAuditResult audit = OnlineAuditResult.parse(1, json);
                assertFalse(audit.passed(), "online audit over forked nodes passed: " + json + "; " + why);
                assertTrue(json.contains("diverge") || json.contains("different block"), "online audit names no divergence: " + json);
                // The checker itself must see the fork it is meant to catch, online and offline.
                BankChecker online = new BankChecker(z, wx, List.of(2, 3)).identicalAt(1);
                assertTrue(online.violations().stream().anyMatch(v -> v.check().equals("identical-ledgers") && v.heights().equals(List.of(1L))),
                        "checker missed the fork online: " + online.violations());
                // The two certificates at the fork height are signed evidence: the audit must name exactly the
                // twins from them (no honest node saw both sides, so no node stored evidence), never an honest node.
                assertEquals(List.of(0, 1), audit.culprits(), "online audit's culprits should be exactly the twins [0, 1]: " + json + "; " + why);
                z.stopAll();
                BankChecker offline = new BankChecker(z, wx, List.of(2, 3)).offline();
                assertTrue(offline.violations().stream().anyMatch(v -> v.check().equals("identical-ledgers-offline")
                        && v.heights().equals(List.of(1L))), "checker missed the fork offline: " + offline.violations());
                assertTrue(offline.violations().stream().anyMatch(v -> v.check().equals("acknowledged-present-offline")
                        && v.nodes().equals(List.of(3))), "checker missed side X's acknowledged transfers absent from node3: "
                        + offline.violations());
            }
        }
    }

    private static void awaitHeight(ScenarioCluster cluster, int node, BankWorkload workload, String why)
            throws InterruptedException {
        long target = workload.acks().stream().mapToLong(BankWorkload.Ack::height).max().orElse(0);
        long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        long height = -1;
        while (System.nanoTime() < deadline) {
            height = cluster.statuses().get(node).map(bftledger.api.proto.GetStatusResponse::getHeight).orElse(-1L);
            if (height >= target) {
                return;
            }
            Thread.sleep(100);
        }
        throw new AssertionError("node" + node + " stayed at height " + height + ", below its side's acknowledged height "
                + target + " for 30 s, " + why);
    }
}
