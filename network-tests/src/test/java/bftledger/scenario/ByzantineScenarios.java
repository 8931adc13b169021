package bftledger.scenario;

import bftledger.api.proto.GetStatusResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.io.TempDir;

/**
 * Shared lifecycle of the Byzantine scenario classes: one loopback cluster per class; each
 * scenario restarts one node as a Byzantine process ({@code bftledger.byzantine.ByzantineNodeMain} with a
 * simulator strategy), runs the bank workload through it, checks the honest nodes, then restores
 * the node as honest and checks that all four agree again. At the end, the offline audit on every
 * data directory (the restored node's ledger was written by its honest core from certified blocks).
 */
abstract class ByzantineScenarios {
    static final long SEED = Long.getLong("bftledger.seed", System.nanoTime());
    static final List<Integer> ALL = List.of(0, 1, 2, 3);

    @TempDir
    static Path tmp;

    ScenarioCluster cluster;
    BankWorkload workload;

    static String why() {
        return "seed " + SEED + " (replay with -Dbftledger.seed=" + SEED + ")";
    }

    @BeforeAll
    void up() throws Exception {
        cluster = ScenarioCluster.loopback(tmp.resolve(getClass().getSimpleName()), ScenarioCluster.Options.defaults(SEED));
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
            new BankChecker(c, workload, ALL).offline().assertOk(getClass().getSimpleName() + ", offline audit, " + why());
        }
    }

    int primary() {
        return cluster.primary(ALL);
    }

    long view(int node) {
        return cluster.statuses().get(node).map(GetStatusResponse::getView).orElse(-1L);
    }

    static List<Integer> honestWithout(int byzantine) {
        List<Integer> honest = new ArrayList<>(ALL);
        honest.remove(Integer.valueOf(byzantine));
        return honest;
    }

    /**
     * Restarts {@code node} with {@code strategy}, keeps the workload running until {@code acks}
     * more transfers are acknowledged, stops it and checks the honest nodes; returns the checker
     * so a scenario can add its own requirements before {@link BankChecker#assertOk}.
     */
    BankChecker runWithByzantine(int node, String strategy, int acks) throws Exception {
        cluster.stop(node);
        cluster.startByzantine(node, strategy);
        cluster.awaitReady(Duration.ofSeconds(90));
        workload.start(cluster.client());
        workload.awaitMoreAcks(acks, Duration.ofSeconds(90), "with node" + node + " running " + strategy + ", " + why());
        workload.stop();
        return new BankChecker(cluster, workload, honestWithout(node))
                .progress(3, Duration.ofSeconds(45))
                .converged(Duration.ofSeconds(60))
                .acknowledgedPresent()
                .balances();
    }

    /** Restarts {@code node} honest; all four must agree again. */
    void restoreHonest(int node, String scenario) throws Exception {
        cluster.stop(node);
        cluster.start(node);
        cluster.awaitReady(Duration.ofSeconds(90));
        new BankChecker(cluster, workload, ALL)
                .progress(2, Duration.ofSeconds(45))
                .converged(Duration.ofSeconds(60))
                .assertOk(scenario + ", after node" + node + " was restored honest, " + why());
        System.out.println(scenario + ": " + workload.summary() + ";" + cluster.describe());
    }

    static Optional<String> none() {
        return Optional.empty();
    }
}
