package bftledger.scenario;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * f+1 = 2 Byzantine replicas of 4, beyond what PBFT tolerates: node0 (primary of view 0) equivocates
 * its PRE-PREPAREs and node1 equivocates its PREPAREs and COMMITs, so the honest node2 and node3
 * may commit different blocks at one height. Agreement may break; what must not break is the
 * audit: when the honest ledgers fork, the online audit fails and names culprits, and whatever
 * happens it never names an honest node. Each honest ledger on its own stays valid (certificates,
 * links, money conserved), which the per-node checks verify.
 */
@Timeout(value = 4, unit = TimeUnit.MINUTES)
class FPlusOneByzantineTest {
    private static final long SEED = Long.getLong("bftledger.seed", System.nanoTime());
    private static final List<Integer> HONEST = List.of(2, 3);
    private static final List<Integer> BYZANTINE = List.of(0, 1);

    @TempDir
    Path tmp;

    @Test
    void twoByzantineReplicasForkIsDetectedAndCulpritsNamed() throws Exception {
        String why = "seed " + SEED + " (replay with -Dbftledger.seed=" + SEED + ")";
        try (ScenarioCluster cluster = ScenarioCluster.loopback(tmp.resolve("fplus1"), ScenarioCluster.Options.defaults(SEED))) {
            cluster.startByzantine(0, "equivocate-primary");
            cluster.startByzantine(1, "equivocate-backup");
            cluster.start(2);
            cluster.start(3);
            cluster.awaitReady(Duration.ofSeconds(90));
            BankWorkload workload = new BankWorkload(cluster.accounts(), 3_000, 8, Duration.ofSeconds(20), SEED);
            workload.start(cluster.client());
            // Liveness is not owed beyond f faults: run for a bounded time, then judge what happened.
            workload.waitForMoreAcks(30, Duration.ofSeconds(40));
            workload.stop();

            BankChecker perNode = new BankChecker(cluster, workload, List.of(2));
            BankChecker other = new BankChecker(cluster, workload, List.of(3));
            perNode.balances();
            other.balances();
            long h2 = cluster.statuses().get(2).orElseThrow().getHeight();
            long h3 = cluster.statuses().get(3).orElseThrow().getHeight();
            BankChecker honestPair = new BankChecker(cluster, workload, HONEST).identicalAt(Math.min(h2, h3));
            boolean forked = !honestPair.violations().isEmpty();

            OnlineAuditResult audit = OnlineAuditResult.run(cluster.genesisPath());
            System.out.println("f+1 Byzantine: forked=" + forked + " heights node2=" + h2 + " node3=" + h3 + " audit passed="
                    + audit.passed() + " culprits=" + audit.culprits() + "; " + workload.summary());
            perNode.require(BYZANTINE.containsAll(audit.culprits()), "audit-accuses-only-byzantine", audit.culprits(),
                    "online audit culprits " + audit.culprits() + " include an honest node: " + audit.json());
            if (forked) {
                perNode.require(!audit.passed(), "audit-detects-fork", HONEST, "honest ledgers differ ("
                        + honestPair.violations() + ") but the online audit passed: " + audit.json());
                perNode.require(!audit.culprits().isEmpty(), "audit-names-culprits", HONEST,
                        "honest ledgers forked but the audit names no culprit with signed evidence: " + audit.json());
            }
            perNode.assertOk("f+1 Byzantine, node2, " + why);
            other.assertOk("f+1 Byzantine, node3, " + why);

            cluster.stopAll();
            BankChecker offline2 = new BankChecker(cluster, workload, List.of(2)).offline();
            BankChecker offline3 = new BankChecker(cluster, workload, List.of(3)).offline();
            // Acknowledged means f+1 matching replies; with f+1 liars a receipt may name a block an
            // honest node does not hold. Only the ledgers' own validity is owed here.
            assertTrue(offline2.violations().stream().allMatch(v -> v.check().startsWith("acknowledged")),
                    "node2's ledger on its own: " + offline2.violations() + "; " + why);
            assertTrue(offline3.violations().stream().allMatch(v -> v.check().startsWith("acknowledged")),
                    "node3's ledger on its own: " + offline3.violations() + "; " + why);
        }
    }
}
