package bftledger.node.replica;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import bftledger.crypto.KeyPair;
import bftledger.crypto.Sha256;
import bftledger.ledger.proto.SignedTransaction;
import bftledger.pbft.Request;
import bftledger.sdk.TransactionFactory;
import com.google.protobuf.ByteString;
import java.util.Optional;
import org.junit.jupiter.api.Test;

class VerifiedTransactionsTest {
    private final VerifiedTransactions validator = new VerifiedTransactions("chain", 2);
    private final TransactionFactory factory = new TransactionFactory("chain");
    private final KeyPair alice = KeyPair.deterministic("alice");

    private static Request request(SignedTransaction tx) {
        return new Request(TransactionFactory.id(tx), tx.toByteArray());
    }

    @Test
    void acceptsValidRequestsAndRefusesMismatchedOrForgedOnesEvenWhenTheIdIsCached() {
        SignedTransaction tx = factory.transfer(alice, KeyPair.deterministic("bob").publicKey(), 3);
        assertEquals(Optional.empty(), validator.problem(request(tx)));
        // Cached id, different bytes (signature flipped): verified again, and refused.
        byte[] sig = tx.getSignature().toByteArray();
        sig[5] ^= 1;
        SignedTransaction forged = tx.toBuilder().setSignature(ByteString.copyFrom(sig)).build();
        assertTrue(validator.problem(request(forged)).orElseThrow().startsWith("BAD_SIGNATURE"));
        // A request whose id is not the transaction's.
        assertTrue(validator.problem(new Request(Sha256.hash(new byte[] {1}), tx.toByteArray())).orElseThrow()
                .contains("not the transaction id"));
        assertTrue(validator.problem(request(new TransactionFactory("other").transfer(alice, KeyPair.deterministic("c").publicKey(), 1)))
                .orElseThrow().startsWith("WRONG_CHAIN_ID"));
    }

    @Test
    void executionTakesTheVerifiedTransactionAndNeverAnInvalidOne() {
        SignedTransaction tx = factory.transfer(alice, KeyPair.deterministic("bob").publicKey(), 3);
        validator.problem(request(tx));
        assertEquals(TransactionFactory.id(tx), validator.forExecution(request(tx)).id());
        // Evicted or never seen: verified again at execution.
        assertEquals(TransactionFactory.id(tx), validator.forExecution(request(tx)).id());
        SignedTransaction broken = tx.toBuilder().setSignature(ByteString.copyFrom(new byte[64])).build();
        assertThrows(IllegalStateException.class, () -> validator.forExecution(request(broken)));
    }

    @Test
    void aSubmitAfterThePrePrepareUsesTheVerdictOnlyForTheSameBytes() {
        SignedTransaction tx = factory.transfer(alice, KeyPair.deterministic("bob").publicKey(), 4);
        // The PRE-PREPARE carried it first; the client's submit of the same bytes gets that verdict.
        assertEquals(Optional.empty(), validator.problem(request(tx)));
        assertTrue(validator.validate(TransactionFactory.id(tx), tx.toByteArray()).ok());
        // Same id (same body), forged signature: never answered from the cache.
        byte[] sig = tx.getSignature().toByteArray();
        sig[0] ^= 1;
        SignedTransaction forged = tx.toBuilder().setSignature(ByteString.copyFrom(sig)).build();
        assertEquals(bftledger.ledger.TxVerdict.Reason.BAD_SIGNATURE,
                validator.validate(TransactionFactory.id(forged), forged.toByteArray()).reason());
        // And execution of the forged bytes is refused even though the id is cached.
        assertThrows(IllegalStateException.class, () -> validator.forExecution(request(forged)));
    }

    @Test
    void aTransactionIsVerifiedOnceThroughSubmitPrePrepareExecutionAndViewChange() {
        VerifiedTransactions roomy = new VerifiedTransactions("chain", 16);
        SignedTransaction tx = factory.transfer(alice, KeyPair.deterministic("bob").publicKey(), 5);
        assertTrue(roomy.validate(TransactionFactory.id(tx), tx.toByteArray()).ok()); // the client's submit
        assertEquals(Optional.empty(), roomy.problem(request(tx)));                     // the PRE-PREPARE
        assertEquals(TransactionFactory.id(tx), roomy.forExecution(request(tx)).id());   // its block executes
        assertEquals(Optional.empty(), roomy.problem(request(tx)));                     // a VIEW-CHANGE's certificate
        assertEquals(1, roomy.verifications());
    }
}
