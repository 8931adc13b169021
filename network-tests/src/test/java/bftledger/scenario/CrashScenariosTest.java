package bftledger.scenario;

import static org.junit.jupiter.api.Assertions.assertTrue;

import bftledger.api.proto.GetStatusResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Process faults on four real node JVMs on loopback, one shared cluster, the bank workload running
 * through each fault: a backup SIGSTOPped while the others garbage-collect the log it would need,
 * then resumed (it catches up); the primary SIGKILLed under load (a view change replaces it); all
 * four SIGKILLed at once and restarted. After each: progress, one ledger, every acknowledged
 * transfer present everywhere, money conserved. At the end, the offline audit on every data dir.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
@Timeout(value = 3, unit = TimeUnit.MINUTES)
class CrashScenariosTest {
    private static final long SEED = Long.getLong("bftledger.seed", System.nanoTime());
    private static final List<Integer> ALL = List.of(0, 1, 2, 3);
    /** Checkpoint interval K of the node's consensus config: a paused node must fall more than this behind. */
    private static final int CHECKPOINT_INTERVAL = 16;

    @TempDir
    static Path tmp;

    private ScenarioCluster cluster;
    private BankWorkload workload;

    private String why() {
        return "seed " + SEED + " (replay with -Dbftledger.seed=" + SEED + ")";
    }

    @BeforeAll
    void up() throws Exception {
        cluster = ScenarioCluster.loopback(tmp.resolve("crash"), ScenarioCluster.Options.defaults(SEED));
        cluster.startAll();
        cluster.awaitReady(Duration.ofSeconds(90));
        workload = new BankWorkload(cluster.accounts(), 3_000, 8, Duration.ofSeconds(30), SEED);
    }

    @AfterAll
    void down() throws Exception {
        if (cluster == null) {
            return;
        }
        try (ScenarioCluster c = cluster) {
            if (workload == null) {
                return;
            }
            workload.stop();
            c.awaitSettled(ALL, Duration.ofSeconds(1), Duration.ofSeconds(30));
            c.stopAll();
            new BankChecker(c, workload, ALL).offline().assertOk("crash scenarios, offline audit, " + why());
        }
    }

    private void checkAfterFault(String scenario) {
        new BankChecker(cluster, workload, ALL)
                .progress(3, Duration.ofSeconds(30))
                .converged(Duration.ofSeconds(60))
                .acknowledgedPresent()
                .balances()
                .assertOk(scenario + ", " + why());
    }

    @Test
    @Order(1)
    void replicaPausedPastCheckpointGarbageCollectionCatchesUp() throws Exception {
        int primary = cluster.primary(ALL);
        int paused = (primary + 1) % 4;
        workload.start(cluster.client());
        workload.awaitMoreAcks(10, Duration.ofSeconds(60), "before the pause");
        cluster.pause(paused);
        long pausedAt = cluster.statuses().stream().flatMap(Optional::stream).mapToLong(GetStatusResponse::getHeight).max().orElse(0);
        // The others must move their stable checkpoint more than one interval past the paused node,
        // so the log it would need to catch up by messages is garbage-collected.
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(90);
        long stable = 0;
        while (stable <= pausedAt + CHECKPOINT_INTERVAL) {
            assertTrue(System.nanoTime() < deadline, "others did not pass two checkpoints beyond the paused node's height "
                    + pausedAt + " within 90 s: " + cluster.describe() + "; " + workload.summary() + "; " + why());
            Thread.sleep(200);
            stable = cluster.statuses().stream().flatMap(Optional::stream).mapToLong(GetStatusResponse::getStableCheckpoint)
                    .min().orElse(0);
        }
        cluster.resume(paused);
        workload.awaitMoreAcks(10, Duration.ofSeconds(60), "after the resume");
        workload.stop();
        checkAfterFault("paused node" + paused + " from height " + pausedAt + " past stable checkpoint " + stable);
    }

    @Test
    @Order(2)
    void primaryKilledUnderLoad() throws Exception {
        int primary = cluster.primary(ALL);
        long viewBefore = cluster.statuses().get(primary).orElseThrow().getView();
        workload.start(cluster.client());
        workload.awaitMoreAcks(20, Duration.ofSeconds(60), "before the kill");
        cluster.kill9(primary);
        workload.awaitMoreAcks(20, Duration.ofSeconds(90), "with the primary node" + primary + " killed");
        for (int i : ALL) {
            if (i != primary) {
                long view = cluster.statuses().get(i).orElseThrow().getView();
                assertTrue(view > viewBefore, "node" + i + " still in view " + view + " after primary node" + primary
                        + " was killed; " + why());
            }
        }
        cluster.start(primary);
        cluster.awaitReady(Duration.ofSeconds(90));
        workload.awaitMoreAcks(10, Duration.ofSeconds(60), "after the old primary restarted");
        workload.stop();
        checkAfterFault("primary node" + primary + " killed under load");
    }

    @Test
    @Order(3)
    void allNodesKilledAndRestarted() throws Exception {
        workload.start(cluster.client());
        workload.awaitMoreAcks(20, Duration.ofSeconds(60), "before the kill");
        cluster.kill9All();
        cluster.startAll();
        cluster.awaitReady(Duration.ofSeconds(90));
        workload.awaitMoreAcks(20, Duration.ofSeconds(90), "after the whole-cluster restart");
        workload.stop();
        checkAfterFault("all nodes killed");
    }
}
