package bftledger.scenario;

import bftledger.crypto.Digest;
import bftledger.crypto.KeyPair;
import bftledger.node.cli.Main;
import bftledger.sdk.Committed;
import bftledger.sdk.LedgerClient;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;

/** Load and checks the multi-process scenarios share: transfers, metrics, lost transactions, audits. */
public final class ScenarioChecks {
    private ScenarioChecks() {
    }

    /**
     * Submits {@code count} transfers from the cluster's accounts to twenty payees drawn from
     * {@code random}, at most {@code window} in flight; every one must commit. Their ids.
     */
    public static List<Digest> transfers(ScenarioCluster cluster, LedgerClient client, SplittableRandom random, int count,
                                         int window) throws Exception {
        List<KeyPair> senders = cluster.accounts();
        Semaphore inFlight = new Semaphore(window);
        List<CompletableFuture<Committed>> results = new ArrayList<>();
        for (int t = 0; t < count; t++) {
            KeyPair from = senders.get(random.nextInt(senders.size()));
            inFlight.acquire();
            CompletableFuture<Committed> f = client.submitAsync(client.transactions().transfer(from,
                    KeyPair.deterministic("payee" + random.nextInt(20)).publicKey(), 1 + random.nextInt(9)), Duration.ofSeconds(120));
            f.whenComplete((c, e) -> inFlight.release());
            results.add(f);
        }
        List<Digest> acknowledged = new ArrayList<>();
        for (CompletableFuture<Committed> f : results) {
            acknowledged.add(f.get(150, TimeUnit.SECONDS).txId());
        }
        return acknowledged;
    }

    /** The value of {@code series} (a metric name, with or without labels) in a Prometheus scrape; fails when absent. */
    public static double metric(String scrape, String series) {
        for (String line : scrape.split("\n")) {
            if (line.startsWith(series + " ") || (!series.contains("{") && line.startsWith(series + "{"))) {
                return Double.parseDouble(line.substring(line.lastIndexOf(' ') + 1));
            }
        }
        throw new AssertionError(series + " not in the scrape");
    }

    /** Every acknowledged transaction is found, proven, through the client. */
    public static void assertAllPresent(LedgerClient client, List<Digest> acknowledged, String why) throws Exception {
        for (Digest id : acknowledged) {
            if (client.transaction(id, Duration.ofSeconds(30)).isEmpty()) {
                throw new AssertionError(why + ": acknowledged " + id.hex() + " lost");
            }
        }
    }

    private static final com.fasterxml.jackson.databind.ObjectMapper JSON = new com.fasterxml.jackson.databind.ObjectMapper();

    /** Runs the CLI as its own process where the client sits (give it --json) and parses its last line. */
    public static com.fasterxml.jackson.databind.JsonNode cliJson(ScenarioCluster cluster, String... args) throws Exception {
        String out = cluster.runInClientHost(Duration.ofMinutes(3), args).strip();
        return JSON.readTree(out.substring(out.lastIndexOf('\n') + 1));
    }

    /** Stops every node (SIGTERM), then the offline audit must pass on each data directory. */
    public static void stopAllAndAudit(ScenarioCluster cluster) throws InterruptedException {
        cluster.stopAll();
        for (int i = 0; i < cluster.n(); i++) {
            int rc = Main.run("audit", "--data", cluster.data(i).toString(), "--genesis", cluster.genesisPath().toString(), "--json");
            if (rc != 0) {
                throw new AssertionError("offline audit of node" + i + " exited " + rc);
            }
        }
    }
}
