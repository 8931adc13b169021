package bftledger.chaos;

import static org.junit.jupiter.api.Assertions.assertTrue;

import bftledger.chaos.FaultSchedule.Fault;
import bftledger.scenario.BankChecker;
import bftledger.scenario.BankWorkload;
import bftledger.scenario.ScenarioCluster;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The chaos run's STORAGE fault kind, through the chaos runner's own code on four real node JVMs
 * on loopback with the bank workload running: each damage in turn (a flipped byte in the index,
 * an emptied WAL, a flipped byte in the WAL, a WAL from an older copy) on a backup, then the node
 * started again. It must be healthy again under the chaos bound and, after a WAL damage, vote
 * again (it rejoined non-voting); afterwards the bank checks and the offline audit hold on every
 * node, as at the end of a chaos run.
 */
class ChaosStorageFaultTest {
    private static final long SEED = Long.getLong("bftledger.seed", System.nanoTime());
    private static final List<Integer> ALL = List.of(0, 1, 2, 3);

    @TempDir
    Path tmp;

    @Test
    @Timeout(value = 8, unit = TimeUnit.MINUTES)
    void everyStorageDamageIsUndoneByARestart() throws Exception {
        String why = "seed " + SEED + " (replay with -Dbftledger.seed=" + SEED + ")";
        try (ScenarioCluster cluster = ScenarioCluster.loopback(tmp.resolve("chaos"), ScenarioCluster.Options.defaults(SEED))) {
            cluster.startAll();
            cluster.awaitReady(Duration.ofSeconds(90));
            BankWorkload workload = new BankWorkload(cluster.accounts(), 3_000, 8, Duration.ofSeconds(30), SEED);
            workload.start(cluster.client());
            try {
                workload.awaitMoreAcks(20, Duration.ofSeconds(60), "before the faults");
                List<String> damages = List.of(StoreDamage.INDEX_FLIPPED_BYTE, StoreDamage.WAL_EMPTIED,
                        StoreDamage.WAL_FLIPPED_BYTE, StoreDamage.WAL_OLDER_COPY);
                for (int k = 0; k < damages.size(); k++) {
                    int node = (cluster.primary(ALL) + 1 + k % 3) % 4;
                    Fault fault = new Fault(k, FaultSchedule.Kind.STORAGE, node, null, damages.get(k), 3_000, 0);
                    String done = ChaosMain.damage(cluster, node, fault, workload);
                    long logFrom = Files.size(cluster.log(node));
                    long height = cluster.statuses().stream().flatMap(java.util.Optional::stream)
                            .mapToLong(s -> s.getHeight()).max().orElse(0);
                    cluster.start(node);
                    assertTrue(ChaosMain.awaitHealthy(cluster, node, height), why + ": not healthy after " + fault.describe()
                            + " (" + done + "): " + cluster.describe());
                    if (StoreDamage.walDamage(fault.damage())) {
                        assertTrue(ChaosMain.awaitLogged(cluster, node, logFrom, "event=non-voting", Duration.ZERO),
                                why + ": node" + node + " rejoined without voting after " + done);
                        assertTrue(ChaosMain.awaitLogged(cluster, node, logFrom, "event=voting-again", Duration.ofSeconds(120)),
                                why + ": node" + node + " did not vote again after " + done);
                    } else {
                        assertTrue(Files.readString(cluster.log(node)).substring((int) logFrom).contains("event=txindex-unreadable"),
                                why + ": node" + node + " noticed its damaged index");
                    }
                    workload.awaitMoreAcks(10, Duration.ofSeconds(60), "after " + fault.describe());
                }
            } finally {
                workload.stop();
            }
            new BankChecker(cluster, workload, ALL).progress(3, Duration.ofSeconds(30)).converged(Duration.ofSeconds(60))
                    .acknowledgedPresent().balances().noEvidence().assertOk("storage faults, " + why);
            cluster.awaitSettled(ALL, Duration.ofSeconds(1), Duration.ofSeconds(30));
            cluster.stopAll();
            new BankChecker(cluster, workload, ALL).offline().assertOk("storage faults, offline audit, " + why);
        }
    }
}
