package bftledger.ledger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import bftledger.crypto.Domain;
import bftledger.crypto.KeyPair;
import bftledger.crypto.ParallelVerifier;
import bftledger.crypto.Sha256;
import bftledger.ledger.TxVerdict.Reason;
import bftledger.ledger.proto.PutRecord;
import bftledger.ledger.proto.SignedTransaction;
import bftledger.ledger.proto.TransactionBody;
import bftledger.ledger.proto.Transfer;
import com.google.protobuf.ByteString;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.bouncycastle.math.ec.rfc8032.Ed25519;
import org.junit.jupiter.api.Test;

class TransactionsTest {
    private static final String CHAIN = TestLedger.CHAIN;
    private final KeyPair alice = KeyPair.deterministic("alice");
    private final KeyPair bob = KeyPair.deterministic("bob");

    private TransactionBody.Builder base() {
        return TransactionBody.newBuilder().setChainId(CHAIN).setSender(ByteString.copyFrom(alice.publicKey().bytes())).setNonce(1);
    }

    private TransactionBody transfer(long amount) {
        return base().setTransfer(Transfer.newBuilder().setTo(ByteString.copyFrom(bob.publicKey().bytes())).setAmount(amount)).build();
    }

    /** Signs whatever bytes are given, as a client in another language would. */
    private SignedTransaction signRaw(ByteString body, KeyPair key) {
        return SignedTransaction.newBuilder().setBody(body)
                .setSignature(ByteString.copyFrom(key.sign(Domain.TRANSACTION, body.toByteArray()))).build();
    }

    private Reason reasonOf(SignedTransaction tx) {
        return Transactions.validate(tx, CHAIN).reason();
    }

    @Test
    void validTransferVerifiesAndIdIsHashOfBody() {
        SignedTransaction tx = Transactions.sign(transfer(10), alice);
        TxVerdict v = Transactions.validate(tx.toByteArray(), CHAIN);
        assertTrue(v.ok(), v.toString());
        assertEquals(Sha256.hash(tx.getBody().toByteArray()), v.transaction().id());
        assertEquals(Transactions.id(tx), v.transaction().id());
        assertEquals(alice.publicKey(), v.transaction().sender());
        assertEquals(tx, v.transaction().signed());
    }

    @Test
    void unknownFieldsAnywhereInTheBodyAreMalformed() {
        com.google.protobuf.UnknownFieldSet extra = com.google.protobuf.UnknownFieldSet.newBuilder()
                .addField(99, com.google.protobuf.UnknownFieldSet.Field.newBuilder().addVarint(7).build()).build();
        TransactionBody top = transfer(10).toBuilder().setUnknownFields(extra).build();
        TransactionBody inTransfer = base().setTransfer(Transfer.newBuilder().setTo(ByteString.copyFrom(bob.publicKey().bytes()))
                .setAmount(10).setUnknownFields(extra)).build();
        TransactionBody inPut = base().setPutRecord(PutRecord.newBuilder().setKey("k").setValue(ByteString.copyFromUtf8("v"))
                .setUnknownFields(extra)).build();
        for (TransactionBody body : List.of(top, inTransfer, inPut)) {
            TxVerdict v = Transactions.validate(signRaw(body.toByteString(), alice), CHAIN);
            assertEquals(Reason.MALFORMED, v.reason(), body.toString());
            assertTrue(v.detail().contains("unknown fields"), v.detail());
            assertTrue(Blocks.hasUnknownFields(body), "the generic walk agrees");
        }
        assertTrue(Transactions.validate(signRaw(transfer(10).toByteString(), alice), CHAIN).ok());
    }

    @Test
    void signatureFollowsThePublishedRuleExactly() {
        SignedTransaction tx = Transactions.sign(transfer(10), alice);
        byte[] prefix = "bftledger/v1/transaction\0".getBytes(StandardCharsets.US_ASCII);
        byte[] body = tx.getBody().toByteArray();
        byte[] message = new byte[prefix.length + body.length];
        System.arraycopy(prefix, 0, message, 0, prefix.length);
        System.arraycopy(body, 0, message, prefix.length, body.length);
        assertTrue(Ed25519.verify(tx.getSignature().toByteArray(), 0, alice.publicKey().bytes(), 0, message, 0, message.length));
    }

    @Test
    void bodyBytesAreNeverReserialized() {
        // A valid body encoded with fields out of order (nonce before chain id): still valid, id over these bytes.
        TransactionBody body = transfer(3);
        ByteString reordered = TransactionBody.newBuilder().setNonce(1).build().toByteString()
                .concat(body.toBuilder().clearNonce().build().toByteString());
        SignedTransaction tx = signRaw(reordered, alice);
        TxVerdict v = Transactions.validate(tx, CHAIN);
        assertTrue(v.ok(), v.toString());
        assertEquals(Sha256.hash(reordered.toByteArray()), v.transaction().id());
        assertTrue(!v.transaction().id().equals(Transactions.id(Transactions.sign(body, alice))));
    }

    @Test
    void oversized() {
        byte[] big = new byte[Transactions.MAX_TRANSACTION_BYTES + 1];
        assertEquals(Reason.OVERSIZED, Transactions.validate(big, CHAIN).reason());
        SignedTransaction tx = Transactions.sign(base().setPutRecord(PutRecord.newBuilder().setKey("k")
                .setValue(ByteString.copyFrom(new byte[Transactions.MAX_TRANSACTION_BYTES]))).build(), alice);
        assertEquals(Reason.OVERSIZED, reasonOf(tx));
    }

    @Test
    void malformed() {
        assertEquals(Reason.MALFORMED, Transactions.validate(new byte[] {(byte) 0xff, (byte) 0xff, 0x01}, CHAIN).reason());
        assertEquals(Reason.MALFORMED, reasonOf(SignedTransaction.newBuilder().setSignature(ByteString.copyFrom(new byte[64])).build()));
        assertEquals(Reason.MALFORMED, reasonOf(signRaw(ByteString.copyFrom(new byte[] {0x0a, 0x7f}), alice)));
        // Unknown field 99 appended to a good body.
        ByteString withUnknown = transfer(1).toByteString().concat(ByteString.copyFrom(new byte[] {(byte) 0x98, 0x06, 0x01}));
        assertEquals(Reason.MALFORMED, reasonOf(signRaw(withUnknown, alice)));
    }

    @Test
    void wrongChainId() {
        assertEquals(Reason.WRONG_CHAIN_ID, reasonOf(Transactions.sign(transfer(1).toBuilder().setChainId("other").build(), alice)));
    }

    @Test
    void badSenderKey() {
        assertEquals(Reason.BAD_SENDER_KEY, reasonOf(signRaw(transfer(1).toBuilder()
                .setSender(ByteString.copyFrom(new byte[31])).build().toByteString(), alice)));
        byte[] notAPoint = new byte[32];
        notAPoint[0] = 2; // y = 2 has no x on the curve
        assertEquals(Reason.BAD_SENDER_KEY, reasonOf(signRaw(transfer(1).toBuilder()
                .setSender(ByteString.copyFrom(notAPoint)).build().toByteString(), alice)));
    }

    @Test
    void badSignature() {
        SignedTransaction good = Transactions.sign(transfer(1), alice);
        byte[] sig = good.getSignature().toByteArray();
        sig[5] ^= 1;
        assertEquals(Reason.BAD_SIGNATURE, reasonOf(good.toBuilder().setSignature(ByteString.copyFrom(sig)).build()));
        assertEquals(Reason.BAD_SIGNATURE, reasonOf(good.toBuilder().setSignature(ByteString.copyFrom(new byte[63])).build()));
        assertEquals(Reason.BAD_SIGNATURE, reasonOf(good.toBuilder().clearSignature().build()));
        // Signed by someone else, and signed by the sender under another domain.
        assertEquals(Reason.BAD_SIGNATURE, reasonOf(signRaw(good.getBody(), bob)));
        assertEquals(Reason.BAD_SIGNATURE, reasonOf(good.toBuilder()
                .setSignature(ByteString.copyFrom(alice.sign(Domain.COMMIT, good.getBody().toByteArray()))).build()));
        assertThrows(IllegalArgumentException.class, () -> Transactions.sign(transfer(1), bob));
    }

    @Test
    void operationRules() {
        assertEquals(Reason.NO_OPERATION, reasonOf(Transactions.sign(base().build(), alice)));
        assertEquals(Reason.ZERO_AMOUNT, reasonOf(Transactions.sign(transfer(0), alice)));
        assertEquals(Reason.BAD_RECIPIENT, reasonOf(Transactions.sign(base().setTransfer(Transfer.newBuilder()
                .setTo(ByteString.copyFrom(new byte[5])).setAmount(1)).build(), alice)));
        assertEquals(Reason.SELF_TRANSFER, reasonOf(Transactions.sign(base().setTransfer(Transfer.newBuilder()
                .setTo(ByteString.copyFrom(alice.publicKey().bytes())).setAmount(1)).build(), alice)));
    }

    @Test
    void recordBounds() {
        assertEquals(Reason.BAD_RECORD_KEY, reasonOf(put("", 0)));
        assertEquals(Reason.BAD_RECORD_KEY, reasonOf(put("k".repeat(Transactions.MAX_RECORD_KEY_BYTES + 1), 0)));
        assertEquals(Reason.BAD_RECORD_KEY, reasonOf(put("é".repeat(Transactions.MAX_RECORD_KEY_BYTES / 2 + 1), 0)),
                "the bound is in UTF-8 bytes, not characters");
        assertEquals(Reason.OK, reasonOf(put("k".repeat(Transactions.MAX_RECORD_KEY_BYTES), 0)));
        assertEquals(Reason.RECORD_VALUE_TOO_LARGE, reasonOf(put("k", Transactions.MAX_RECORD_VALUE_BYTES + 1)));
        assertEquals(Reason.OK, reasonOf(put("k", Transactions.MAX_RECORD_VALUE_BYTES)));
        assertEquals(Reason.OK, reasonOf(put("k", 0)), "an empty value is allowed");
    }

    @Test
    void parallelValidationGivesTheSameVerdictsInOrder() {
        SignedTransaction good = Transactions.sign(transfer(1), alice);
        byte[] sig = good.getSignature().toByteArray();
        sig[0] ^= 1;
        List<SignedTransaction> txs = new ArrayList<>();
        for (int i = 0; i < 40; i++) {
            txs.add(Transactions.sign(transfer(i + 1), alice));
        }
        txs.add(3, good.toBuilder().setSignature(ByteString.copyFrom(sig)).build());
        txs.add(7, Transactions.sign(transfer(0), alice));
        txs.add(20, Transactions.sign(transfer(1).toBuilder().setChainId("x").build(), alice));
        txs.add(SignedTransaction.getDefaultInstance());
        try (ParallelVerifier verifier = new ParallelVerifier(2, 16)) {
            List<TxVerdict> parallel = Transactions.validateAll(txs, CHAIN, verifier);
            assertSameVerdicts(txs.size(), i -> Transactions.validate(txs.get(i), CHAIN), parallel);
            assertEquals(Reason.BAD_SIGNATURE, parallel.get(3).reason());
            assertEquals(Reason.ZERO_AMOUNT, parallel.get(7).reason());
            assertEquals(Reason.WRONG_CHAIN_ID, parallel.get(20).reason());
            assertEquals(Reason.MALFORMED, parallel.get(txs.size() - 1).reason());
        }
    }

    /** Transactions as received on the wire, signatures checked as one batch: the same verdicts as one by one. */
    @Test
    void batchValidationOfReceivedBytesGivesTheSameVerdictsInOrder() {
        List<byte[]> raws = new ArrayList<>();
        for (int i = 0; i < 30; i++) {
            raws.add(Transactions.sign(transfer(i + 1), alice).toByteArray());
        }
        SignedTransaction good = Transactions.sign(transfer(7), alice);
        byte[] sig = good.getSignature().toByteArray();
        sig[40] ^= 4;
        raws.add(5, good.toBuilder().setSignature(ByteString.copyFrom(sig)).build().toByteArray());
        raws.add(9, new byte[] {1, 2, 3});                                              // does not parse
        raws.add(12, new byte[Transactions.MAX_TRANSACTION_BYTES + 1]);                 // oversized
        raws.add(15, Transactions.sign(transfer(0), alice).toByteArray());              // zero amount
        raws.add(Transactions.sign(transfer(1).toBuilder().setChainId("x").build(), alice).toByteArray());
        List<TxVerdict> batch = Transactions.validateBatch(raws, CHAIN);
        assertSameVerdicts(raws.size(), i -> Transactions.validate(raws.get(i), CHAIN), batch);
        assertEquals(Reason.BAD_SIGNATURE, batch.get(5).reason());
        assertEquals(Reason.MALFORMED, batch.get(9).reason());
        assertEquals(Reason.OVERSIZED, batch.get(12).reason());
        assertEquals(Reason.ZERO_AMOUNT, batch.get(15).reason());
        assertEquals(Reason.WRONG_CHAIN_ID, batch.get(raws.size() - 1).reason());
        assertEquals(Reason.OK, batch.get(0).reason());
    }

    /** Valid transactions from several senders: one batch equation settles them all. */
    @Test
    void validTransactionsFromManySendersPassAsOneBatch() throws Exception {
        List<byte[]> raws = new ArrayList<>();
        for (int i = 0; i < 24; i++) {
            KeyPair sender = KeyPair.deterministic("sender " + (i % 9));
            raws.add(Transactions.sign(Transactions.transfer(CHAIN, sender.publicKey(), i, bob.publicKey(), 5 + i), sender)
                    .toByteArray());
        }
        long passedBefore = bftledger.crypto.SignatureBatch.batchesPassed();
        long failedBefore = bftledger.crypto.SignatureBatch.batchesFailed();
        List<TxVerdict> verdicts = Transactions.validateBatch(raws, CHAIN);
        for (int i = 0; i < raws.size(); i++) {
            assertEquals(Reason.OK, verdicts.get(i).reason(), "at " + i);
            assertEquals(Sha256.hash(SignedTransaction.parseFrom(raws.get(i)).getBody().toByteArray()), verdicts.get(i).transaction().id());
        }
        assertEquals(passedBefore + 1, bftledger.crypto.SignatureBatch.batchesPassed());
        assertEquals(failedBefore, bftledger.crypto.SignatureBatch.batchesFailed());
    }

    /** {@code got} holds {@code count} verdicts, each equal to the one-by-one verdict {@code one} gives at its index. */
    private static void assertSameVerdicts(int count, java.util.function.IntFunction<TxVerdict> one, List<TxVerdict> got) {
        assertEquals(count, got.size());
        for (int i = 0; i < count; i++) {
            TxVerdict expected = one.apply(i);
            assertEquals(expected.reason(), got.get(i).reason(), "at " + i);
            assertEquals(expected.detail(), got.get(i).detail(), "at " + i);
            assertEquals(expected.transaction(), got.get(i).transaction(), "at " + i);
        }
    }

    private SignedTransaction put(String key, int valueBytes) {
        return Transactions.sign(base().setPutRecord(PutRecord.newBuilder().setKey(key)
                .setValue(ByteString.copyFrom(new byte[valueBytes]))).build(), alice);
    }
}
