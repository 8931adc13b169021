package bftledger.scenario;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * A slow network on real processes, through our TCP proxy (this kernel has no netem): every byte
 * into each node passes its FaultProxy. With 20-40 ms on every link, then 400-500 ms into the
 * primary, then every link stalled for longer than the request timeout, the bank workload keeps
 * committing; afterwards one ledger, every acknowledged transfer everywhere, money conserved, and
 * the offline audit passes on every data directory.
 */
@Timeout(value = 4, unit = TimeUnit.MINUTES)
class SlowNetworkScenarioTest {
    private static final long SEED = Long.getLong("bftledger.seed", System.nanoTime());
    private static final List<Integer> ALL = List.of(0, 1, 2, 3);

    @TempDir
    Path tmp;

    @Test
    void latencyThenSlowLinksToThePrimaryThenAStall() throws Exception {
        String why = "seed " + SEED + " (replay with -Dbftledger.seed=" + SEED + ")";
        try (ScenarioCluster cluster = ScenarioCluster.loopbackProxied(tmp.resolve("slow"), ScenarioCluster.Options.defaults(SEED))) {
            cluster.startAll();
            cluster.awaitReady(Duration.ofSeconds(90));
            BankWorkload workload = new BankWorkload(cluster.accounts(), 3_000, 8, Duration.ofSeconds(30), SEED);
            for (int i : ALL) {
                cluster.proxy(i).setLatency(Duration.ofMillis(20), Duration.ofMillis(20));
            }
            workload.start(cluster.client());
            workload.awaitMoreAcks(20, Duration.ofSeconds(60), "with 20-40 ms on every link, " + why);

            int primary = cluster.primary(ALL);
            cluster.proxy(primary).setLatency(Duration.ofMillis(400), Duration.ofMillis(100));
            workload.awaitMoreAcks(10, Duration.ofSeconds(90), "with 400-500 ms into primary node" + primary + ", " + why);

            // Every link held for longer than the request timeout (200 ticks of 20 ms), then released.
            for (int i : ALL) {
                cluster.proxy(i).pause();
            }
            Thread.sleep(6_000);
            for (int i : ALL) {
                cluster.proxy(i).setLatency(Duration.ZERO, Duration.ZERO);
                cluster.proxy(i).unpause();
            }
            workload.awaitMoreAcks(10, Duration.ofSeconds(90), "after the stall, " + why);
            workload.stop();
            new BankChecker(cluster, workload, ALL)
                    .progress(3, Duration.ofSeconds(30))
                    .converged(Duration.ofSeconds(60))
                    .acknowledgedPresent()
                    .balances()
                    .assertOk("slow network, " + why);
            System.out.println("slow network: " + workload.summary() + ";" + cluster.describe());
            cluster.awaitSettled(ALL, Duration.ofSeconds(1), Duration.ofSeconds(30));
            cluster.stopAll();
            new BankChecker(cluster, workload, ALL).offline().assertOk("slow network, offline audit, " + why);
        }
    }
}
