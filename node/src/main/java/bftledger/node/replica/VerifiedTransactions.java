package bftledger.node.replica;

import bftledger.crypto.Digest;
import bftledger.ledger.Transactions;
import bftledger.ledger.TxVerdict;
import bftledger.ledger.VerifiedTransaction;
import bftledger.pbft.Request;
import bftledger.pbft.RequestValidator;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;

/**
 * The ledger's transaction checks as the core's {@link RequestValidator}, with a bounded cache
 * of what passed, so a transaction's signature is verified once per replica whichever comes
 * first — the client's submit or the PRE-PREPARE carrying it (under load a backup often sees the
 * PRE-PREPARE first) — and not again when its block executes. A cache hit needs the same bytes
 * as were verified, compared as received, never re-serialized. The cache evicts least recently
 * used entries at {@code capacity}; a miss only costs a second verification.
 */
public final class VerifiedTransactions implements RequestValidator {
    private record Entry(byte[] raw, TxVerdict verdict) {}

    private final String chainId;
    private final Map<Digest, Entry> cache;
    private final java.util.concurrent.atomic.AtomicLong verifications = new java.util.concurrent.atomic.AtomicLong();

    public VerifiedTransactions(String chainId, int capacity) {
        this.chainId = chainId;
        this.cache = new LinkedHashMap<>(1024, 0.75f, true) {
            @Override
            protected boolean removeEldestEntry(Map.Entry<Digest, Entry> eldest) {
                return size() > capacity;
            }
        };
    }

    /** The request payload is the serialized SignedTransaction; its id must be the transaction id. */
    @Override
    public Optional<String> problem(Request request) {
        if (cached(request.id(), request.payload()) != null) {
            return Optional.empty();
        }
        return problemOf(verifyAndRemember(request.payload()), request.id());
    }

    /** What is wrong with a request given its payload's verdict: the verdict's reason, or an id that does not name the payload. */
    private static Optional<String> problemOf(TxVerdict verdict, Digest requestId) {
        if (!verdict.ok()) {
            return Optional.of(verdict.reason() + ": " + verdict.detail());
        }
        if (!verdict.transaction().id().equals(requestId)) {
            return Optional.of("request id is not the transaction id");
        }
        return Optional.empty();
    }

    /**
     * {@link #problem} for a PRE-PREPARE's requests: those not verified before are verified
     * together, as one signature batch.
     */
    @Override
    public List<Optional<String>> problems(List<Request> requests) {
        List<Digest> ids = new ArrayList<>(requests.size());
        List<byte[]> raws = new ArrayList<>(requests.size());
        for (Request r : requests) {
            ids.add(r.id());
            raws.add(r.payload());
        }
        TxVerdict[] verdicts = validateAll(ids, raws);
        List<Optional<String>> problems = new ArrayList<>(requests.size());
        for (int i = 0; i < verdicts.length; i++) {
            problems.add(problemOf(verdicts[i], ids.get(i)));
        }
        return problems;
    }

    /**
     * Verdicts on transactions whose ids the caller computed (or was told: a mismatch is the
     * caller's to find), in order: remembered ones for bytes verified before, the rest verified
     * together as one signature batch.
     */
    public TxVerdict[] validateAll(List<Digest> ids, List<byte[]> raws) {
        TxVerdict[] verdicts = new TxVerdict[raws.size()];
        List<Integer> misses = new ArrayList<>();
        for (int i = 0; i < raws.size(); i++) {
            verdicts[i] = cached(ids.get(i), raws.get(i));
            if (verdicts[i] == null) {
                misses.add(i);
            }
        }
        if (misses.isEmpty()) {
            return verdicts;
        }
        List<byte[]> missed = new ArrayList<>(misses.size());
        for (int i : misses) {
            missed.add(raws.get(i));
        }
        verifications.addAndGet(misses.size());
        List<TxVerdict> fresh = Transactions.validateBatch(missed, chainId);
        for (int k = 0; k < misses.size(); k++) {
            TxVerdict verdict = fresh.get(k);
            verdicts[misses.get(k)] = verdict;
            remember(missed.get(k), verdict);
        }
        return verdicts;
    }

    /**
     * The verdict on a submitted transaction whose id the caller computed from its body: the
     * remembered one when these exact bytes were verified before, else a fresh verification.
     */
    public TxVerdict validate(Digest id, byte[] signedTransactionBytes) {
        TxVerdict known = cached(id, signedTransactionBytes);
        return known != null ? known : verifyAndRemember(signedTransactionBytes);
    }

    public TxVerdict validate(byte[] signedTransactionBytes) {
        return verifyAndRemember(signedTransactionBytes);
    }

    private TxVerdict cached(Digest id, byte[] raw) {
        Entry e;
        synchronized (cache) {
            e = cache.get(id);
        }
        return e != null && Arrays.equals(e.raw(), raw) ? e.verdict() : null;
    }

    /** Full checks (signature included) done so far: cache misses. */
    public long verifications() {
        return verifications.get();
    }

    private TxVerdict verifyAndRemember(byte[] raw) {
        verifications.incrementAndGet();
        TxVerdict verdict = Transactions.validate(raw, chainId);
        remember(raw, verdict);
        return verdict;
    }

    private void remember(byte[] raw, TxVerdict verdict) {
        if (verdict.ok()) {
            synchronized (cache) {
                cache.put(verdict.transaction().id(), new Entry(raw, verdict));
            }
        }
    }

    /** The verified transaction for a committed request, from the cache or verified again. */
    public VerifiedTransaction forExecution(Request request) {
        Entry cached;
        synchronized (cache) {
            cached = cache.get(request.id());
        }
        if (cached != null && Arrays.equals(cached.raw(), request.payload())) {
            return cached.verdict().transaction();
        }
        verifications.incrementAndGet();
        TxVerdict verdict = Transactions.validate(request.payload(), chainId);
        if (!verdict.ok() || !verdict.transaction().id().equals(request.id())) {
            // 2f+1 replicas, f+1 of them honest, checked this request before committing it.
            throw new IllegalStateException("committed request " + request.id().shortHex() + " is not a valid transaction: "
                    + verdict);
        }
        return verdict.transaction();
    }
}
