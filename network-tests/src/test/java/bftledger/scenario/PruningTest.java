package bftledger.scenario;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import bftledger.api.proto.GetBlockRequest;
import bftledger.api.proto.GetBlockResponse;
import bftledger.api.proto.GetCertifiedHeaderRequest;
import bftledger.api.proto.GetCertifiedHeaderResponse;
import bftledger.api.proto.GetStatusResponse;
import bftledger.api.proto.GetTransactionRequest;
import bftledger.api.proto.GetTransactionResponse;
import bftledger.crypto.Digest;
import bftledger.crypto.KeyPair;
import bftledger.ledger.proto.SignedTransaction;
import bftledger.node.config.NodeConfig;
import bftledger.sdk.Committed;
import bftledger.sdk.LedgerClient;
import bftledger.sdk.LedgerClientException;
import bftledger.sdk.ProofVerifier;
import com.fasterxml.jackson.databind.JsonNode;
import com.google.protobuf.ByteString;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Pruning with real node processes: four nodes keep only their last
 * {@link NodeConfig#PRUNE_KEEP_BLOCKS_MIN} blocks whole while a client commits past that. An early
 * transaction is then no longer served with a proof by any replica (each says from which height it
 * keeps blocks, and the SDK and CLI say so), a resubmission of it is answered from the index with
 * its original receipt and is not executed again, an early block's header is still proven against
 * genesis, recent transactions are proven as before, the online and offline audits pass, and a
 * pruned node killed with SIGKILL restarts and catches up.
 */
class PruningTest {
    private static final long SEED = Long.getLong("bftledger.seed", System.nanoTime());
    private static final long KEEP = NodeConfig.PRUNE_KEEP_BLOCKS_MIN;

    @TempDir
    Path tmp;

    @Test
    @Timeout(value = 8, unit = TimeUnit.MINUTES)
    void nodesKeepTheirLatestBlocksWholeAndStillProveTheRest() throws Exception {
        String why = "seed " + SEED + " (replay with -Dbftledger.seed=" + SEED + ")";
        SplittableRandom random = new SplittableRandom(SEED);
        ScenarioCluster.Options options = ScenarioCluster.Options.asInit(SEED).withPruning(KEEP);
        try (ScenarioCluster cluster = ScenarioCluster.loopback(tmp.resolve("net"), options)) {
            cluster.startAll();
            List<Digest> recent = new ArrayList<>();
            try (LedgerClient client = LedgerClient.connect(cluster.clientNetwork())) {
                cluster.awaitReady(Duration.ofSeconds(90));
                KeyPair sender = cluster.accounts().get(0);
                SignedTransaction early = client.transactions().transfer(sender, KeyPair.deterministic("payee-early").publicKey(), 7);
                Committed first = client.submit(early, Duration.ofSeconds(60));

                // One transaction at a time, each in its own block, until every node pruned past the early one.
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(300);
                while (minPrunedBelow(cluster) <= first.height()) {
                    assertTrue(System.nanoTime() < deadline, why + ": the nodes did not prune past height " + first.height()
                            + " (pruned below " + minPrunedBelow(cluster) + ")");
                    recent.addAll(ScenarioChecks.transfers(cluster, client, random, 20, 1));
                }
                List<GetStatusResponse> statuses = cluster.awaitSameHeight(1, Duration.ofSeconds(60));
                assertTrue(statuses.get(0).getHeight() > KEEP, why);
                for (GetStatusResponse st : statuses) {
                    assertTrue(st.getPrunedBelow() > first.height(), why + ": node" + st.getReplica() + " status " + st);
                }

                // Every replica says where it keeps blocks from; none serves the early one with a proof.
                for (int i = 0; i < cluster.n(); i++) {
                    GetTransactionResponse t = cluster.stub(i, Duration.ofSeconds(10)).getTransaction(GetTransactionRequest.newBuilder()
                            .setTxId(ByteString.copyFrom(first.txId().bytes())).build());
                    assertFalse(t.getFound(), why);
                    assertEquals(first.height(), t.getHeight(), why);
                    assertTrue(t.getPrunedBelow() > first.height(), why + ": " + t);
                    GetBlockResponse b = cluster.stub(i, Duration.ofSeconds(10)).getBlock(GetBlockRequest.newBuilder()
                            .setHeight(first.height()).build());
                    assertFalse(b.getFound(), why);
                    assertTrue(b.getPrunedBelow() > first.height(), why + ": " + b);
                }
                LedgerClientException gone = assertThrows(LedgerClientException.class,
                        () -> client.transaction(first.txId(), Duration.ofSeconds(10)));
                assertTrue(gone.getMessage().contains("pruned"), why + ": " + gone.getMessage());
                JsonNode shown = ScenarioChecks.cliJson(cluster, "tx", "show", "--id", first.txId().hex(), "--genesis", cluster.genesisPath().toString(),
                        "--plaintext", "--timeout", "10s", "--json");
                assertFalse(shown.get("ok").asBoolean(), why + ": " + shown);
                assertTrue(shown.get("error").asText().contains("pruned: keeps whole blocks from height"), why + ": " + shown);

                // The pruned block's header is still proven from genesis, through a later certified header.
                GetCertifiedHeaderResponse h = cluster.stub(1, Duration.ofSeconds(10)).getCertifiedHeader(
                        GetCertifiedHeaderRequest.newBuilder().setExtendsHeight(first.height()).build());
                var proven = new ProofVerifier(cluster.clientNetwork()).verifyCertifiedHeader(h, first.height());
                assertTrue(proven.ok(), why + ": " + proven.problem());
                assertEquals(first.blockHash(), bftledger.crypto.Sha256.hash(h.getExtends().getHeader().toByteArray()), why);
                assertEquals(first.blockHash(), client.header(first.height(), bftledger.sdk.ReadOptions.defaults(),
                        Duration.ofSeconds(10)).blockHash(), why + ": the SDK proves a pruned block's header");

                // A resubmission is answered from the index (f+1 signed replies) with the receipt of its one execution:
                // executed again, it would have a receipt at a new height.
                Committed again = client.submit(early, Duration.ofSeconds(60));
                assertEquals(first.height(), again.height(), why);
                assertEquals(first.receipt(), again.receipt(), why);
                assertEquals(first.blockHash(), again.blockHash(), why);
                assertFalse(again.byProof(), why + ": its proof went with the block's body");

                // What the nodes keep whole is proven as before.
                ScenarioChecks.assertAllPresent(client, recent.subList(recent.size() - 40, recent.size()), why);
                JsonNode online = ScenarioChecks.cliJson(cluster, "audit", "--online", "--genesis", cluster.genesisPath().toString(), "--plaintext",
                        "--json");
                assertTrue(online.get("passed").asBoolean(), why + ": " + online);
                for (JsonNode node : online.get("nodes")) {
                    assertTrue(node.get("pruned_below").asLong() > first.height(), why + ": " + node);
                }

                // A pruned node killed mid-run reopens its store (tree and index brought level from
                // the kept blocks) and catches up while it is less than the kept window behind.
                cluster.kill9(3);
                recent.addAll(ScenarioChecks.transfers(cluster, client, random, 20, 4));
                cluster.start(3);
                cluster.awaitReady(Duration.ofSeconds(90));
                recent.addAll(ScenarioChecks.transfers(cluster, client, random, 20, 4));
                List<GetStatusResponse> end = cluster.awaitSameHeight(1, Duration.ofSeconds(120));
                for (GetStatusResponse st : end) {
                    assertEquals(end.get(0).getLastBlockHash(), st.getLastBlockHash(), why + ": node" + st.getReplica());
                }
                ScenarioChecks.assertAllPresent(client, recent.subList(recent.size() - 40, recent.size()), why);
            }
            assertTrue(cluster.logText(0).contains("event=pruned"), why);
            ScenarioChecks.stopAllAndAudit(cluster);
        }
    }


    /** The lowest pruning height over all nodes' metrics (1 while any has pruned nothing). */
    private static long minPrunedBelow(ScenarioCluster cluster) throws Exception {
        long min = Long.MAX_VALUE;
        for (int i = 0; i < cluster.n(); i++) {
            min = Math.min(min, (long) ScenarioChecks.metric(cluster.metrics(i), "bftledger_pruned_below_height"));
        }
        return min;
    }

}
