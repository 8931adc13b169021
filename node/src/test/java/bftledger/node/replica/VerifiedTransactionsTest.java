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

    @Test
    void executedTransactionsAreKeptUntilAStableCheckpointCoversThem() {
        VerifiedTransactions roomy = new VerifiedTransactions("chain", 64);
        java.util.List<Request> first = new java.util.ArrayList<>();
        java.util.List<Request> second = new java.util.ArrayList<>();
        for (int i = 0; i < 3; i++) {
            first.add(request(factory.transfer(KeyPair.deterministic("a" + i), alice.publicKey(), 1 + i)));
            second.add(request(factory.transfer(KeyPair.deterministic("b" + i), alice.publicKey(), 1 + i)));
        }
        roomy.problems(first);
        roomy.problems(second);
        for (Request r : first) {
            roomy.forExecution(r);
        }
        roomy.executed(16, first);
        for (Request r : second) {
            roomy.forExecution(r);
        }
        roomy.executed(17, second);
        assertEquals(6, roomy.verifications());
        roomy.forgetExecutedThrough(15);
        assertEquals(6, roomy.remembered(), "nothing executed at or below 15");
        roomy.problems(first); // a VIEW-CHANGE carrying batch 16 before the core loop lets it go
        assertEquals(6, roomy.verifications());
        roomy.forgetExecutedThrough(16);
        assertEquals(3, roomy.remembered());
        roomy.problems(second);
        assertEquals(6, roomy.verifications(), "batch 17 is above the stable checkpoint");
        roomy.problems(first);
        assertEquals(9, roomy.verifications(), "batch 16 was forgotten: verified again if it ever comes back");
    }

    @Test
    void executedIdsTrackedAreBoundedByTheCapacity() {
        VerifiedTransactions small = new VerifiedTransactions("chain", 4);
        for (int seq = 1; seq <= 5; seq++) {
            java.util.List<Request> batch = java.util.List.of(
                    request(factory.transfer(KeyPair.deterministic("s" + seq), alice.publicKey(), seq)),
                    request(factory.transfer(KeyPair.deterministic("t" + seq), alice.publicKey(), seq)));
            small.problems(batch);
            for (Request r : batch) {
                small.forExecution(r);
            }
            small.executed(seq, batch); // two ids per batch: beyond four, the oldest batches are forgotten first
        }
        assertTrue(small.remembered() <= 4, "at most the two newest batches: " + small.remembered());
    }

    /**
     * A PRE-PREPARE's requests checked together: the verdicts are per request (a forged one among
     * valid ones is named, the others pass), the valid ones are remembered, and a request
     * verified before is not verified again.
     */
    @Test
    void aPrePreparesRequestsAreCheckedTogetherWithVerdictsPerRequest() {
        VerifiedTransactions roomy = new VerifiedTransactions("chain", 64);
        java.util.List<Request> requests = new java.util.ArrayList<>();
        for (int i = 0; i < 12; i++) {
            requests.add(request(factory.transfer(KeyPair.deterministic("sender" + i), alice.publicKey(), i + 1)));
        }
        SignedTransaction seen = factory.transfer(alice, KeyPair.deterministic("bob").publicKey(), 9);
        assertTrue(roomy.validate(TransactionFactory.id(seen), seen.toByteArray()).ok()); // submitted earlier
        requests.add(request(seen));
        SignedTransaction tx = factory.transfer(alice, KeyPair.deterministic("bob").publicKey(), 10);
        byte[] sig = tx.getSignature().toByteArray();
        sig[3] ^= 1;
        requests.add(4, request(tx.toBuilder().setSignature(ByteString.copyFrom(sig)).build()));
        requests.add(7, new Request(Sha256.hash(new byte[] {7}), requests.get(0).payload()));

        java.util.List<Optional<String>> problems = roomy.problems(requests);
        assertEquals(requests.size(), problems.size());
        for (int i = 0; i < problems.size(); i++) {
            if (i == 4) {
                assertTrue(problems.get(i).orElseThrow().startsWith("BAD_SIGNATURE"), problems.get(i).toString());
            } else if (i == 7) {
                assertTrue(problems.get(i).orElseThrow().contains("not the transaction id"));
            } else {
                assertEquals(Optional.empty(), problems.get(i), "request " + i);
            }
        }
        // One verification each for the 12 new ones, the forged one and the mislabelled copy; none for the one submitted before.
        assertEquals(1 + 14, roomy.verifications());
        assertEquals(Optional.empty(), roomy.problem(requests.get(0)));
        assertEquals(1 + 14, roomy.verifications(), "a request checked in a batch is remembered");
    }

    @Test
    void transactionsVerifiedByTwoThreadsAtOnceAreVerifiedOnce() throws Exception {
        // Every thread gets the same 48 transactions, split differently into calls, all started
        // together: each transaction is then either remembered, in flight (waited for) or
        // claimed, so the count is exact whatever the interleaving.
        VerifiedTransactions shared = new VerifiedTransactions("chain", 1024);
        java.util.List<SignedTransaction> txs = new java.util.ArrayList<>();
        for (int i = 0; i < 48; i++) {
            txs.add(factory.transfer(KeyPair.deterministic("sender-" + i), KeyPair.deterministic("bob").publicKey(), 1 + i));
        }
        int threads = 4;
        java.util.concurrent.CyclicBarrier start = new java.util.concurrent.CyclicBarrier(threads);
        java.util.concurrent.ExecutorService pool = java.util.concurrent.Executors.newFixedThreadPool(threads);
        try {
            java.util.List<java.util.concurrent.Future<Boolean>> results = new java.util.ArrayList<>();
            for (int t = 0; t < threads; t++) {
                int callSize = 1 + t * 7;
                boolean reversed = t % 2 == 1;
                results.add(pool.submit(() -> {
                    java.util.List<SignedTransaction> order = new java.util.ArrayList<>(txs);
                    if (reversed) {
                        java.util.Collections.reverse(order);
                    }
                    start.await();
                    boolean allOk = true;
                    for (int from = 0; from < order.size(); from += callSize) {
                        java.util.List<SignedTransaction> call = order.subList(from, Math.min(order.size(), from + callSize));
                        java.util.List<bftledger.crypto.Digest> ids = new java.util.ArrayList<>();
                        java.util.List<byte[]> raws = new java.util.ArrayList<>();
                        for (SignedTransaction tx : call) {
                            ids.add(TransactionFactory.id(tx));
                            raws.add(tx.toByteArray());
                        }
                        for (bftledger.ledger.TxVerdict v : shared.validateAll(ids, raws)) {
                            allOk &= v.ok();
                        }
                    }
                    return allOk;
                }));
            }
            for (java.util.concurrent.Future<Boolean> r : results) {
                assertTrue(r.get(60, java.util.concurrent.TimeUnit.SECONDS));
            }
        } finally {
            pool.shutdownNow();
        }
        assertEquals(txs.size(), shared.verifications());
    }
}
