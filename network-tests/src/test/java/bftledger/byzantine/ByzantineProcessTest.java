package bftledger.byzantine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import bftledger.api.proto.GetEvidenceRequest;
import bftledger.api.proto.GetStatusResponse;
import bftledger.api.proto.LedgerApiGrpc;
import bftledger.crypto.KeyFiles;
import bftledger.crypto.KeyPair;
import bftledger.ledger.proto.Receipt;
import bftledger.sdk.Committed;
import bftledger.sdk.LedgerClient;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Byzantine replicas as real processes: four node JVMs over loopback gRPC with real LMDB and real
 * signatures, node 0 (the primary of view 0) running one of the simulator's strategies through
 * {@link ByzantineNodeMain}. The honest nodes must keep one ledger, move the view away from the
 * faulty primary, keep committing SDK transfers, and — for equivocation — hold signed evidence that
 * the online audit (its own JVM) verifies and turns into {@code "culprits":[0]}.
 * The strategy's seed is printed and can be replayed with {@code -Dbftledger.seed=N}.
 */
class ByzantineProcessTest {
    private static final Duration SUBMIT_TIMEOUT = Duration.ofSeconds(60);
    private static final int TRANSFERS = 6;

    @TempDir
    Path tmp;

    private static long seed() {
        String s = System.getProperty("bftledger.seed");
        return s != null ? Long.parseLong(s) : System.nanoTime();
    }

    @Test
    @Timeout(value = 5, unit = TimeUnit.MINUTES)
    void equivocatingPrimaryIsVotedOutAndNamedByTheAudit() throws Exception {
        long seed = seed();
        String ctx = " [seed " + seed + ", replay with -Dbftledger.seed=" + seed + "]";
        try (ProcessCluster cluster = new ProcessCluster(tmp.resolve("net"), 4)) {
            cluster.startByzantine(0, "equivocate-primary", seed);
            for (int i = 1; i < 4; i++) {
                cluster.startHonest(i);
            }
            try (LedgerClient client = LedgerClient.connect(cluster.network())) {
                cluster.awaitReady(client, Duration.ofSeconds(90), 0, 1, 2, 3);
                submitTransfers(cluster, client, ctx);
                List<GetStatusResponse> honest = cluster.awaitAgreement(client, TRANSFERS, Duration.ofSeconds(60), 1, 2, 3);
                for (GetStatusResponse s : honest) {
                    assertTrue(s.getView() >= 1, "node" + s.getReplica() + " never left view 0" + ctx);
                    assertNotEquals(0, s.getPrimary(), "node" + s.getReplica() + " still follows the equivocator" + ctx);
                }
                // Every honest node that holds evidence holds it against replica 0 only; at least one holds some.
                int holders = 0;
                for (int i = 1; i < 4; i++) {
                    var evidence = evidence(cluster, i);
                    for (var e : evidence) {
                        assertEquals(0, e.getReplica(), "node" + i + " accuses replica " + e.getReplica() + ctx);
                    }
                    holders += evidence.isEmpty() ? 0 : 1;
                }
                assertTrue(holders >= 1, "no honest node holds evidence against the equivocating primary" + ctx);
            }
            ProcessCluster.CliResult audit = cluster.cli(Duration.ofSeconds(90), "audit", "--online", "--json",
                    "--genesis", cluster.genesis().toString());
            assertEquals(List.of(0), culprits(audit.out()), "audit output: " + audit.out() + ctx);
            assertTrue(audit.out().contains("\"passed\":true"), "the honest ledgers must agree: " + audit.out() + ctx);
            assertTrue(audit.out().contains("\"verified\":true"), audit.out() + ctx);
        }
    }

    @Test
    @Timeout(value = 5, unit = TimeUnit.MINUTES)
    void silentPrimaryIsReplacedAndNobodyIsAccused() throws Exception {
        long seed = seed();
        String ctx = " [seed " + seed + "]";
        try (ProcessCluster cluster = new ProcessCluster(tmp.resolve("net"), 4)) {
            cluster.startByzantine(0, "silent", seed);
            for (int i = 1; i < 4; i++) {
                cluster.startHonest(i);
            }
            try (LedgerClient client = LedgerClient.connect(cluster.network())) {
                // A silent node answers clients (status) but no peer hears from it.
                cluster.awaitReady(client, Duration.ofSeconds(90), 1, 2, 3);
                submitTransfers(cluster, client, ctx);
                List<GetStatusResponse> honest = cluster.awaitAgreement(client, TRANSFERS, Duration.ofSeconds(60), 1, 2, 3);
                for (GetStatusResponse s : honest) {
                    assertNotEquals(0, s.getPrimary(), "node" + s.getReplica() + " still waits for the silent primary" + ctx);
                }
                for (int i = 1; i < 4; i++) {
                    assertTrue(evidence(cluster, i).isEmpty(), "silence is not equivocation, node" + i + " holds evidence" + ctx);
                }
            }
            ProcessCluster.CliResult audit = cluster.cli(Duration.ofSeconds(90), "audit", "--online", "--json",
                    "--genesis", cluster.genesis().toString());
            assertEquals(List.of(), culprits(audit.out()), "audit output: " + audit.out() + ctx);
            assertFalse(audit.out().contains("DIVERGES"), audit.out());
        }
    }

    private static void submitTransfers(ProcessCluster cluster, LedgerClient client, String ctx) throws Exception {
        KeyPair[] accounts = new KeyPair[4];
        for (int j = 0; j < 4; j++) {
            accounts[j] = KeyFiles.readKeyPair(cluster.account(j));
        }
        for (int t = 0; t < TRANSFERS; t++) {
            Committed c = client.submit(client.transactions().transfer(accounts[t % 4], accounts[(t + 1) % 4].publicKey(), 5),
                    SUBMIT_TIMEOUT);
            assertEquals(Receipt.Status.SUCCESS, c.receipt().getStatus(), "transfer " + t + ctx);
        }
    }

    private static List<bftledger.api.proto.Evidence> evidence(ProcessCluster cluster, int node) throws Exception {
        String address = cluster.network().addresses().get(node);
        ManagedChannel channel = ManagedChannelBuilder.forTarget(address).usePlaintext().build();
        try {
            return LedgerApiGrpc.newBlockingStub(channel).withDeadlineAfter(10, TimeUnit.SECONDS)
                    .getEvidence(GetEvidenceRequest.getDefaultInstance()).getEvidenceList();
        } finally {
            channel.shutdownNow();
        }
    }

    /** The top-level "culprits" list of the audit's JSON. */
    static List<Integer> culprits(String json) {
        Matcher m = Pattern.compile("\"culprits\":\\[([0-9,]*)\\]").matcher(json);
        assertTrue(m.find(), "no culprits list in: " + json);
        String body = m.group(1);
        return body.isEmpty() ? List.of() : java.util.Arrays.stream(body.split(",")).map(Integer::valueOf).toList();
    }
}
