package bftledger.scenario;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import bftledger.api.proto.GetBlockRequest;
import bftledger.api.proto.GetBlockResponse;
import bftledger.api.proto.GetStatusResponse;
import bftledger.byzantine.LyingAnswers;
import bftledger.crypto.Digest;
import bftledger.ledger.proto.CommitSignature;
import bftledger.node.config.NodeConfig;
import bftledger.sdk.LedgerClient;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * State sync with real node processes: node 3's data directory is wiped while clients submit,
 * and it comes back with {@code state.sync=true}. It builds its store from the others' state
 * snapshots (taken every {@link NodeConfig.StateSync#INTERVAL_MIN} blocks) instead of replaying
 * every block, while node 0 is the {@code lie} adversary, honest in consensus and serving altered
 * state: the joining node names node 0 and takes the state from the honest ones. It then catches
 * up, signs commits again, no acknowledged transaction is lost, every ledger ends identical, and
 * the offline audit passes on every node, the synced one's history verified from genesis.
 */
class StateSyncTest {
    private static final long SEED = Long.getLong("bftledger.seed", System.nanoTime());
    private static final int LIAR = 0;
    private static final int JOINER = 3;
    private static final long INTERVAL = NodeConfig.StateSync.INTERVAL_MIN;

    @TempDir
    Path tmp;

    @Test
    @Timeout(value = 8, unit = TimeUnit.MINUTES)
    void aWipedNodeJoinsFromCheckedSnapshotsAndRefusesTheForgedOnes() throws Exception {
        String why = "seed " + SEED + " (replay with -Dbftledger.seed=" + SEED + ")";
        SplittableRandom random = new SplittableRandom(SEED);
        try (ScenarioCluster cluster = ScenarioCluster.loopback(tmp.resolve("net"), ScenarioCluster.Options.asInit(SEED))) {
            for (int i = 0; i < cluster.n(); i++) {
                cluster.configure(i, "snapshot.interval.blocks", Long.toString(INTERVAL));
                // At this test's block rate a snapshot every 64 blocks is one every few seconds.
                cluster.configure(i, "snapshot.keep", "4");
            }
            cluster.startByzantine(LIAR, LyingAnswers.STRATEGY);
            for (int i = 1; i < cluster.n(); i++) {
                cluster.start(i);
            }
            List<Digest> acknowledged = new ArrayList<>();
            try (LedgerClient client = LedgerClient.connect(cluster.clientNetwork())) {
                cluster.awaitReady(Duration.ofSeconds(90));
                // Two snapshot heights behind the tip, a few transactions per block.
                long reached = 0;
                while (reached < 2 * INTERVAL + 8) {
                    acknowledged.addAll(ScenarioChecks.transfers(cluster, client, random, 24, 3));
                    reached = cluster.awaitSameHeight(1, Duration.ofSeconds(60)).get(0).getHeight();
                }
                for (int i = 1; i < cluster.n(); i++) {
                    assertTrue(cluster.logText(i).contains("event=state-snapshot "), why + ": node" + i + " took no snapshot");
                }

                // Node 3 loses its disk; clients keep submitting while it joins again.
                cluster.stop(JOINER);
                deleteRecursively(cluster.data(JOINER));
                cluster.configure(JOINER, "state.sync", "true");
                cluster.configure(JOINER, "rejoin.non.voting", "true");
                AtomicBoolean stop = new AtomicBoolean();
                CompletableFuture<List<Digest>> during = CompletableFuture.supplyAsync(() -> {
                    List<Digest> ids = new ArrayList<>();
                    SplittableRandom r = new SplittableRandom(SEED + 1);
                    try {
                        while (!stop.get()) {
                            ids.addAll(ScenarioChecks.transfers(cluster, client, r, 8, 2));
                        }
                    } catch (Exception e) {
                        throw new IllegalStateException(e);
                    }
                    return ids;
                });
                cluster.start(JOINER);
                String log = awaitLog(cluster, JOINER, "event=state-synced", Duration.ofSeconds(120), why);
                Matcher synced = Pattern.compile("event=state-synced replica=3 height=(\\d+)").matcher(log);
                assertTrue(synced.find(), why + ": " + log);
                long height = Long.parseLong(synced.group(1));
                assertTrue(height >= 2 * INTERVAL && height % INTERVAL == 0, why + ": synced to " + height);
                assertTrue(log.contains("event=state-sync-peer-refused replica=3 peer=" + LIAR), why
                        + ": the liar's forged state was not refused:\n" + log);
                for (int honest = 1; honest < JOINER; honest++) {
                    assertTrue(!log.contains("event=state-sync-peer-refused replica=3 peer=" + honest), why + ": honest node"
                            + honest + " refused:\n" + log);
                }
                cluster.awaitReady(Duration.ofSeconds(90));
                stop.set(true);
                acknowledged.addAll(during.get(180, TimeUnit.SECONDS));

                // It catches up, and once past what it may have signed before, it signs commits again.
                long signedFrom = cluster.awaitSameHeight(1, Duration.ofSeconds(120)).get(0).getHeight();
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
                boolean signs = false;
                while (!signs) {
                    assertTrue(System.nanoTime() < deadline, why + ": node" + JOINER + " signs no commit after joining");
                    acknowledged.addAll(ScenarioChecks.transfers(cluster, client, random, 8, 2));
                    long tip = cluster.awaitSameHeight(signedFrom, Duration.ofSeconds(60)).get(0).getHeight();
                    GetBlockResponse block = cluster.stub(1, Duration.ofSeconds(10)).getBlock(GetBlockRequest.newBuilder()
                            .setHeight(tip).build());
                    signs = block.getBlock().getCertificate().getSignaturesList().stream()
                            .map(CommitSignature::getReplica).anyMatch(r -> r == JOINER);
                }
                List<GetStatusResponse> end = cluster.awaitSameHeight(1, Duration.ofSeconds(120));
                for (GetStatusResponse st : end) {
                    assertEquals(end.get(0).getLastBlockHash(), st.getLastBlockHash(), why + ": node" + st.getReplica());
                }
                GetStatusResponse joined = end.stream().filter(st -> st.getReplica() == JOINER).findFirst().orElseThrow();
                assertEquals(height, joined.getPrunedBelow(), why + ": the synced store keeps whole blocks from the snapshot");
                ScenarioChecks.assertAllPresent(client, acknowledged.subList(Math.max(0, acknowledged.size() - 60),
                        acknowledged.size()), why);
            }
            ScenarioChecks.stopAllAndAudit(cluster);
        }
    }

    private static String awaitLog(ScenarioCluster cluster, int node, String text, Duration timeout, String why) throws Exception {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (true) {
            String log = cluster.logText(node);
            if (log.contains(text)) {
                return log;
            }
            assertTrue(System.nanoTime() < deadline, why + ": node" + node + " never logged " + text + ":\n" + log);
            assertTrue(cluster.running(node), why + ": node" + node + " exited:\n" + log);
            Thread.sleep(200);
        }
    }

    private static void deleteRecursively(Path dir) throws Exception {
        try (var paths = Files.walk(dir)) {
            for (Path p : paths.sorted(Comparator.reverseOrder()).toList()) {
                Files.delete(p);
            }
        }
    }
}
