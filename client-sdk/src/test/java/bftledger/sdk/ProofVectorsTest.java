package bftledger.sdk;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import bftledger.api.proto.GetAccountResponse;
import bftledger.api.proto.GetBlockResponse;
import bftledger.api.proto.GetRecordHistoryResponse;
import bftledger.api.proto.GetRecordResponse;
import bftledger.api.proto.TransactionProof;
import bftledger.crypto.Digest;
import bftledger.crypto.Domain;
import bftledger.crypto.PublicKey;
import bftledger.crypto.Sha256;
import bftledger.crypto.SparseMerkleTree;
import bftledger.ledger.Proofs;
import bftledger.ledger.proto.HeaderProof;
import bftledger.ledger.proto.SignedTransaction;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The client contract's proof test vectors ({@code docs/test-vectors/proofs-v1.json}, built from
 * the node's own store by the node module's {@code ProofVectorsTest}): the SDK's verifier gives
 * every case exactly its stated verdict, valid answers and forgeries alike. An implementation in
 * another language checks itself against the same file.
 */
class ProofVectorsTest {
    private static final HexFormat HEX = HexFormat.of();

    @Test
    void everyVectorGetsItsVerdict() throws Exception {
        JsonNode file = new ObjectMapper().readTree(Path.of("..", "docs", "test-vectors", "proofs-v1.json").toFile());
        Network network = Network.fromGenesisBytes(HEX.parseHex(file.get("genesis").asText()));
        assertEquals(file.get("genesis_hash").asText(), network.genesisHash().hex());
        ProofVerifier verifier = new ProofVerifier(network);
        List<String> wrong = new ArrayList<>();
        int checked = 0;
        for (JsonNode c : file.get("cases")) {
            boolean expected = c.get("valid").asBoolean();
            boolean got = verdict(verifier, c);
            if (got != expected) {
                wrong.add(c.get("name").asText() + ": expected " + (expected ? "valid" : "invalid"));
            }
            checked++;
        }
        assertTrue(wrong.isEmpty(), "verdicts that differ from the vectors: " + wrong);
        assertTrue(checked >= 30, "only " + checked + " cases");
    }

    private static boolean verdict(ProofVerifier verifier, JsonNode c) throws Exception {
        switch (c.get("kind").asText()) {
            case "transaction_proof" -> {
                TransactionProof p = TransactionProof.parseFrom(bytes(c, "proof"));
                return verifier.verify(p).ok() && Sha256.hash(p.getTransaction().getBody().toByteArray()).hex()
                        .equals(c.get("tx_id").asText());
            }
            case "account" -> {
                GetAccountResponse r = GetAccountResponse.parseFrom(bytes(c, "response"));
                return verifier.verifyAccount(key(c, "account"), r).ok() && r.getBalance() == c.get("balance").asLong();
            }
            case "record" -> {
                GetRecordResponse r = GetRecordResponse.parseFrom(bytes(c, "response"));
                return verifier.verifyRecord(key(c, "owner"), c.get("key").asText(), r).ok();
            }
            case "record_history" -> {
                GetRecordHistoryResponse r = GetRecordHistoryResponse.parseFrom(bytes(c, "response"));
                PublicKey owner = key(c, "owner");
                String key = c.get("key").asText();
                return verifier.verifyRecord(owner, key, r.getCurrent()).ok() && verifier.verifyHistory(owner, key,
                        Digest.of(r.getCurrent().getWriterTxId().toByteArray()), r).ok();
            }
            case "block" -> {
                Proofs.Checked<ProofVerifier.ProvenHeader> h = verifier.verifyBlock(GetBlockResponse.parseFrom(bytes(c, "response")));
                return h.ok() && h.value().height() == c.get("height").asLong();
            }
            case "header_proof" -> {
                Proofs.Checked<ProofVerifier.ProvenHeader> h = verifier.header(HeaderProof.parseFrom(bytes(c, "proof")));
                return h.ok() && h.value().height() == c.get("height").asLong();
            }
            case "state_tree" -> {
                List<SparseMerkleTree.Change> leaves = new ArrayList<>();
                for (JsonNode leaf : c.get("leaves")) {
                    leaves.add(new SparseMerkleTree.Change(Digest.fromHex(leaf.get("key").asText()),
                            Digest.fromHex(leaf.get("value_hash").asText())));
                }
                return SparseMerkleTree.build(leaves).root().hash().hex().equals(c.get("root").asText());
            }
            case "signed_transaction" -> {
                SignedTransaction tx = SignedTransaction.parseFrom(bytes(c, "signed_transaction"));
                byte[] body = tx.getBody().toByteArray();
                return key(c, "sender").verify(Domain.TRANSACTION, body, tx.getSignature().toByteArray())
                        && Sha256.hash(body).hex().equals(c.get("tx_id").asText());
            }
            default -> throw new AssertionError("unknown kind " + c.get("kind"));
        }
    }

    private static byte[] bytes(JsonNode c, String field) {
        return HEX.parseHex(c.get(field).asText());
    }

    private static PublicKey key(JsonNode c, String field) {
        return PublicKey.of(bytes(c, field));
    }
}
