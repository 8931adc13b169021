package bftledger.scenario;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import bftledger.api.proto.GetStatusResponse;
import bftledger.crypto.Digest;
import bftledger.crypto.KeyPair;
import bftledger.ledger.proto.Receipt;
import bftledger.node.cli.Main;
import bftledger.sdk.Committed;
import bftledger.sdk.LedgerClient;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Crashes with real processes: a backup kept down (SIGKILL) while the others move several
 * checkpoints on catches up through verified blocks; the primary SIGKILLed under load is
 * replaced by a view change and every submission still commits; all four SIGKILLed at once and
 * restarted lose no acknowledged transaction and do not fork; the audit passes everywhere.
 */
class CrashRecoveryTest {
    private static final long SEED = Long.getLong("bftledger.seed", System.nanoTime());

    @TempDir
    Path tmp;

    private final List<Digest> acknowledged = new ArrayList<>();

    /** Submits {@code count} transfers with at most {@code window} in flight; all must commit with SUCCESS. */
    private void load(LedgerClient client, List<KeyPair> senders, SplittableRandom random, int count, int window,
                      Runnable midway) throws Exception {
        Semaphore inFlight = new Semaphore(window);
        List<CompletableFuture<Committed>> results = new ArrayList<>();
        for (int t = 0; t < count; t++) {
            if (t == count / 4 && midway != null) {
                midway.run();
            }
            KeyPair from = senders.get(random.nextInt(senders.size()));
            inFlight.acquire();
            CompletableFuture<Committed> f = client.submitAsync(client.transactions().transfer(from,
                    KeyPair.deterministic("r" + random.nextInt(20)).publicKey(), 1 + random.nextInt(9)), Duration.ofSeconds(120));
            f.whenComplete((c, e) -> inFlight.release());
            results.add(f);
        }
        for (CompletableFuture<Committed> f : results) {
            Committed c = f.get(150, TimeUnit.SECONDS);
            assertEquals(Receipt.Status.SUCCESS, c.receipt().getStatus(), "seed " + SEED);
            acknowledged.add(c.txId());
        }
    }

    private static void assertOneLedger(List<GetStatusResponse> statuses, String when) {
        for (GetStatusResponse s : statuses) {
            assertEquals(statuses.get(0).getLastBlockHash(), s.getLastBlockHash(), when + ": node" + s.getReplica() + " forked");
        }
    }

    @Test
    @Timeout(value = 8, unit = TimeUnit.MINUTES)
    void backupCatchUpPrimaryCrashAndWholeClusterCrash() throws Exception {
        String why = "seed " + SEED + " (replay with -Dbftledger.seed=" + SEED + ")";
        SplittableRandom random = new SplittableRandom(SEED);
        try (ScenarioCluster cluster = ScenarioCluster.loopback(tmp.resolve("net"), ScenarioCluster.Options.asInit(SEED))) {
            cluster.startAll();
            List<KeyPair> senders = new ArrayList<>();
            for (int j = 0; j < 4; j++) {
                senders.add(cluster.accounts().get(j));
            }
            try (LedgerClient client = LedgerClient.connect(cluster.clientNetwork())) {
                cluster.awaitReady(Duration.ofSeconds(90));
                load(client, senders, random, 40, 8, null);

                // 1. A backup down while the others pass several checkpoints (K = 16 blocks): small
                //    windows make many blocks, so its peers garbage-collect the log it would need.
                cluster.kill9(3);
                long downAt = client.statuses(Duration.ofSeconds(5)).get(0).orElseThrow().getHeight();
                load(client, senders, random, 120, 2, null);
                long upAt = client.statuses(Duration.ofSeconds(5)).get(0).orElseThrow().getHeight();
                assertTrue(upAt - downAt > 32, why + ": expected more than two checkpoint intervals while node3 was down, got "
                        + (upAt - downAt) + " blocks");
                cluster.start(3);
                cluster.awaitReady(Duration.ofSeconds(90));
                load(client, senders, random, 60, 2, null);
                List<GetStatusResponse> caughtUp = cluster.awaitSameHeight(upAt, Duration.ofSeconds(120));
                assertOneLedger(caughtUp, "after node3 caught up");

                // 2. The primary SIGKILLed under load: a view change elects another, every submission commits.
                int primary = caughtUp.get(0).getPrimary();
                long viewBefore = caughtUp.get(0).getView();
                load(client, senders, random, 80, 8, () -> {
                    try {
                        cluster.kill9(primary);
                    } catch (IOException e) {
                        throw new UncheckedIOException(e);
                    }
                });
                // Asked until every live node answers: one status call can miss 5 s on two busy cores.
                List<Optional<GetStatusResponse>> live = client.statuses(Duration.ofSeconds(5));
                for (long until = System.nanoTime() + Duration.ofSeconds(30).toNanos();
                        System.nanoTime() < until && !answeredInNewView(live, primary, viewBefore); ) {
                    live = client.statuses(Duration.ofSeconds(5));
                }
                for (int i = 0; i < 4; i++) {
                    if (i != primary) {
                        assertTrue(live.get(i).orElseThrow().getView() > viewBefore, why + ": node" + i + " changed view");
                    }
                }
                cluster.start(primary);
                cluster.awaitReady(Duration.ofSeconds(90));
                load(client, senders, random, 20, 4, null);

                // 3. All four SIGKILLed at once, then restarted: nothing acknowledged is lost, no fork.
                cluster.kill9All();
                cluster.startAll();
                cluster.awaitReady(Duration.ofSeconds(90));
                load(client, senders, random, 20, 4, null);
                List<GetStatusResponse> end = cluster.awaitSameHeight(1, Duration.ofSeconds(120));
                assertOneLedger(end, "after the whole-cluster crash");
                for (Digest id : acknowledged) {
                    assertTrue(client.transaction(id, Duration.ofSeconds(30)).isPresent(), why + ": acknowledged " + id + " lost");
                }
            }
            for (int i = 0; i < 4; i++) {
                cluster.stop(i);
            }
            for (int i = 0; i < 4; i++) {
                assertEquals(0, Main.run("audit", "--data", cluster.data(i).toString(), "--genesis", cluster.genesisPath().toString(),
                        "--json"), "offline audit of node" + i);
            }
        }
    }

    private static boolean answeredInNewView(List<Optional<GetStatusResponse>> statuses, int killed, long viewBefore) {
        for (int i = 0; i < statuses.size(); i++) {
            if (i != killed && statuses.get(i).map(s -> s.getView() <= viewBefore).orElse(true)) {
                return false;
            }
        }
        return true;
    }
}
