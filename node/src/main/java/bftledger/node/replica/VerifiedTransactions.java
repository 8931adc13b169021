package bftledger.node.replica;

import bftledger.crypto.Digest;
import bftledger.ledger.Transactions;
import bftledger.ledger.TxVerdict;
import bftledger.ledger.VerifiedTransaction;
import bftledger.pbft.Request;
import bftledger.pbft.RequestValidator;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;

/**
 * The ledger's transaction checks as the core's {@link RequestValidator}, with a bounded cache
 * of what passed, so a transaction's signature is verified once per replica (at submit or in the
 * PRE-PREPARE) and not again when its block executes. The cache evicts least recently used
 * entries at {@code capacity}; a miss only costs a second verification.
 */
public final class VerifiedTransactions implements RequestValidator {
    private final String chainId;
    private final Map<Digest, VerifiedTransaction> cache;

    public VerifiedTransactions(String chainId, int capacity) {
        this.chainId = chainId;
        this.cache = new LinkedHashMap<>(1024, 0.75f, true) {
            @Override
            protected boolean removeEldestEntry(Map.Entry<Digest, VerifiedTransaction> eldest) {
                return size() > capacity;
            }
        };
    }

    /** The request payload is the serialized SignedTransaction; its id must be the transaction id. */
    @Override
    public Optional<String> problem(Request request) {
        VerifiedTransaction cached;
        synchronized (cache) {
            cached = cache.get(request.id());
        }
        // Same id and the same bytes as a transaction verified before (at submit, usually): the
        // signature check would repeat itself, so it is skipped.
        if (cached != null && java.util.Arrays.equals(cached.signed().toByteArray(), request.payload())) {
            return Optional.empty();
        }
        TxVerdict verdict = validate(request.payload());
        if (!verdict.ok()) {
            return Optional.of(verdict.reason() + ": " + verdict.detail());
        }
        if (!verdict.transaction().id().equals(request.id())) {
            return Optional.of("request id is not the transaction id");
        }
        return Optional.empty();
    }

    public TxVerdict validate(byte[] signedTransactionBytes) {
        TxVerdict verdict = Transactions.validate(signedTransactionBytes, chainId);
        if (verdict.ok()) {
            synchronized (cache) {
                cache.put(verdict.transaction().id(), verdict.transaction());
            }
        }
        return verdict;
    }

    /** The verified transaction for a committed request, from the cache or verified again. */
    public VerifiedTransaction forExecution(Request request) {
        VerifiedTransaction cached;
        synchronized (cache) {
            cached = cache.remove(request.id());
        }
        if (cached != null) {
            return cached;
        }
        TxVerdict verdict = Transactions.validate(request.payload(), chainId);
        if (!verdict.ok() || !verdict.transaction().id().equals(request.id())) {
            // 2f+1 replicas, f+1 of them honest, checked this request before committing it.
            throw new IllegalStateException("committed request " + request.id().shortHex() + " is not a valid transaction: "
                    + verdict);
        }
        return verdict.transaction();
    }
}
