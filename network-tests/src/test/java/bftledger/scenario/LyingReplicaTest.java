package bftledger.scenario;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import bftledger.api.proto.GetTransactionResponse;
import bftledger.api.proto.TransactionProof;
import bftledger.byzantine.LyingAnswers;
import bftledger.crypto.KeyPair;
import bftledger.ledger.proto.Block;
import bftledger.ledger.proto.BlockHeader;
import bftledger.ledger.proto.Receipt;
import bftledger.sdk.Committed;
import bftledger.sdk.LedgerClient;
import bftledger.sdk.LedgerClientException;
import bftledger.sdk.Proven;
import bftledger.sdk.ReadOptions;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A replica that lies in every answer it gives clients ({@link LyingAnswers}: altered receipts,
 * balances, records, histories, blocks, headers and certificates), on real processes: the SDK
 * and the CLI reject each altered answer, name and count the replica, and still get the right
 * answer from the others, because they accept nothing but what verifies against the genesis.
 */
class LyingReplicaTest {
    private static final long SEED = Long.getLong("bftledger.seed", System.nanoTime());
    private static final int LIAR = 0;
    /** Asked of the liar alone per kind of read: enough to go through every kind of lie. */
    private static final int LIES_PER_KIND = 5;
    private static final Duration TIMEOUT = Duration.ofSeconds(30);

    @TempDir
    Path tmp;

    @Test
    void everyAlteredAnswerIsRejectedAndTheRightOneComesFromTheOthers() throws Exception {
        try (ScenarioCluster cluster = ScenarioCluster.loopback(tmp.resolve("net"), ScenarioCluster.Options.asInit(SEED))) {
            cluster.startAll();
            cluster.awaitReady(Duration.ofSeconds(90));
            LedgerClient client = cluster.client();
            KeyPair alice = cluster.accounts().get(0);
            KeyPair bob = cluster.accounts().get(1);
            Committed paid = client.submit(client.transactions().transfer(alice, bob.publicKey(), 7), TIMEOUT);
            Committed unfunded = client.submit(client.transactions().transfer(KeyPair.deterministic("pauper"), bob.publicKey(), 5),
                    TIMEOUT);
            assertEquals(Receipt.Status.FAILED, unfunded.receipt().getStatus());
            for (String value : List.of("one", "two", "three")) {
                client.submit(client.transactions().put(alice, "note", value.getBytes(StandardCharsets.UTF_8)), TIMEOUT);
            }
            long balance = client.account(bob.publicKey(), ReadOptions.defaults().atLeast(unfunded.height()), TIMEOUT).value();

            cluster.stop(LIAR);
            cluster.startByzantine(LIAR, LyingAnswers.STRATEGY);
            cluster.awaitReady(Duration.ofSeconds(90));
            try (LedgerClient fresh = LedgerClient.over(cluster.clientNetwork(), cluster.channels())) {
                ReadOptions liarOnly = ReadOptions.defaults().onlyReplica(LIAR);
                int asked = 0;
                for (int i = 0; i < LIES_PER_KIND; i++) {
                    rejected(() -> fresh.transaction(unfunded.txId(), liarOnly, TIMEOUT));
                    rejected(() -> fresh.account(bob.publicKey(), liarOnly, TIMEOUT));
                    rejected(() -> fresh.record(alice.publicKey(), "note", liarOnly, TIMEOUT));
                    rejected(() -> fresh.recordHistory(alice.publicKey(), "note", 10, liarOnly, TIMEOUT));
                    rejected(() -> fresh.block(unfunded.height(), liarOnly, TIMEOUT));
                    rejected(() -> fresh.certifiedHeader(liarOnly, TIMEOUT));
                    asked += 6;
                }
                assertTrue(fresh.rejectedAnswers(LIAR) >= asked, "every altered answer counted against replica " + LIAR
                        + ": " + fresh.rejectedAnswers(LIAR) + " of " + asked);

                // Asked of anyone (the liar first in one of every n reads), the right answers.
                for (int i = 0; i < cluster.n(); i++) {
                    GetTransactionResponse tx = fresh.transaction(unfunded.txId(), TIMEOUT).orElseThrow().value();
                    assertEquals(Receipt.Status.FAILED, tx.getProof().getReceipt().getStatus(), "the FAILED transfer stays FAILED");
                    assertEquals(Receipt.Status.SUCCESS, fresh.transaction(paid.txId(), TIMEOUT).orElseThrow().value()
                            .getProof().getReceipt().getStatus());
                    assertEquals(balance, fresh.account(bob.publicKey(), TIMEOUT).value());
                    assertEquals("three", fresh.record(alice.publicKey(), "note", ReadOptions.defaults(), TIMEOUT).value()
                            .orElseThrow().value().toStringUtf8());
                    List<TransactionProof> history = fresh.recordHistory(alice.publicKey(), "note", 10, ReadOptions.defaults(),
                            TIMEOUT).value();
                    assertEquals(3, history.size(), "three writes, newest first");
                    Proven<Block> block = fresh.block(unfunded.height(), ReadOptions.defaults(), TIMEOUT).orElseThrow();
                    assertEquals(unfunded.height(), BlockHeader.parseFrom(block.value().getHeader()).getHeight());
                    assertTrue(fresh.certifiedHeader(ReadOptions.defaults(), TIMEOUT).height() >= unfunded.height());
                }
            }

            // The CLI: the liar alone proves nothing; anyone gives the proven receipt.
            String genesis = cluster.genesisPath().toString();
            JsonNode alone = json(cluster.runInClientHost(Duration.ofSeconds(120), "tx", "show", "--genesis", genesis, "--id",
                    unfunded.txId().hex(), "--replica", Integer.toString(LIAR), "--timeout", "5s", "--json", "--plaintext"));
            assertFalse(alone.path("ok").asBoolean(true), alone.toString());
            assertTrue(alone.path("error").asText().contains("rejected"), alone.toString());
            JsonNode anyone = json(cluster.runInClientHost(Duration.ofSeconds(120), "tx", "show", "--genesis", genesis, "--id",
                    unfunded.txId().hex(), "--json", "--plaintext"));
            assertEquals("FAILED", anyone.path("status").asText(), anyone.toString());
            assertTrue(anyone.path("proven").asBoolean(), anyone.toString());
            JsonNode account = json(cluster.runInClientHost(Duration.ofSeconds(120), "account", "show", "--genesis", genesis,
                    "--account", bob.publicKey().hex(), "--json", "--plaintext"));
            assertEquals(balance, account.path("balance").asLong(), account.toString());
            cluster.stop(LIAR);
        } catch (AssertionError | Exception e) {
            throw new AssertionError("seed " + SEED + " (replay with -Dbftledger.seed=" + SEED + ")", e);
        }
    }

    private interface Read {
        Object read() throws Exception;
    }

    /** A read of the liar alone fails, naming what did not verify. */
    private static void rejected(Read read) {
        LedgerClientException e = assertThrows(LedgerClientException.class, () -> {
            Object answer = read.read();
            if (answer instanceof Optional<?> o && o.isEmpty()) {
                throw new AssertionError("the liar's answer was taken as absence");
            }
        });
        assertTrue(e.getMessage().contains("rejected"), e.getMessage());
    }

    private static JsonNode json(String output) throws Exception {
        String[] lines = output.strip().split("\n");
        return new ObjectMapper().readTree(lines[lines.length - 1]);
    }
}
