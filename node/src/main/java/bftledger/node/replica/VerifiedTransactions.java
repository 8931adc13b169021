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
 * as were verified, compared as received, never re-serialized. Entries of executed batches are
 * dropped once the core loop says no view change can carry them any more, and the least
 * recently used ones at {@code capacity}; a miss only costs a second verification.
 */
public final class VerifiedTransactions implements RequestValidator {
    private record Entry(byte[] raw, TxVerdict verdict) {}

    /** A transaction one thread is verifying; others that need the same bytes wait for its verdict. */
    private static final class Pending {
        final Digest id;
        final byte[] raw;
        final java.util.concurrent.CompletableFuture<TxVerdict> verdict = new java.util.concurrent.CompletableFuture<>();

        Pending(Digest id, byte[] raw) {
            this.id = id;
            this.raw = raw;
        }
    }

    private final String chainId;
    private final Map<Digest, Entry> cache;
    /**
     * Transactions being verified right now, guarded by {@code cache}'s lock. Bounded by what
     * the verifying threads hold at once (each claims only its own call's transactions and
     * releases them when its batch is done), so it needs no bound of its own.
     */
    private final Map<Digest, Pending> inFlight = new java.util.HashMap<>();
    /** Executed batches' ids, oldest first, until {@link #forgetExecutedThrough} passes them; guarded by {@code cache}'s lock. */
    private final java.util.ArrayDeque<ExecutedBatch> executed = new java.util.ArrayDeque<>();
    /** Ids in {@link #executed}, at most the cache's capacity (beyond it the cache has evicted them anyway). */
    private int executedIds;
    private final int capacity;

    private record ExecutedBatch(long sequence, List<Digest> ids) {}
    private final java.util.concurrent.atomic.AtomicLong verifications = new java.util.concurrent.atomic.AtomicLong();

    public VerifiedTransactions(String chainId, int capacity) {
        this.chainId = chainId;
        this.capacity = capacity;
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
        return problemOf(validate(request.id(), request.payload()), request.id());
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
     * together as one signature batch. A transaction another thread is verifying at this moment
     * (the client's submit and a PRE-PREPARE carrying it arrive together) is not verified a
     * second time: this call waits for that verdict after finishing its own batch.
     */
    public TxVerdict[] validateAll(List<Digest> ids, List<byte[]> raws) {
        TxVerdict[] verdicts = new TxVerdict[raws.size()];
        List<Integer> mine = new ArrayList<>();
        List<Pending> claims = new ArrayList<>();
        List<Integer> theirs = new ArrayList<>();
        List<Pending> awaited = new ArrayList<>();
        synchronized (cache) {
            for (int i = 0; i < raws.size(); i++) {
                Digest id = ids.get(i);
                byte[] raw = raws.get(i);
                Entry e = cache.get(id);
                if (e != null && Arrays.equals(e.raw(), raw)) {
                    verdicts[i] = e.verdict();
                    continue;
                }
                Pending pending = inFlight.get(id);
                if (pending != null && Arrays.equals(pending.raw, raw)) {
                    theirs.add(i);
                    awaited.add(pending);
                    continue;
                }
                mine.add(i);
                if (pending == null) {
                    Pending claim = new Pending(id, raw);
                    inFlight.put(id, claim);
                    claims.add(claim);
                } else {
                    claims.add(null); // other bytes under this id are in flight: verified here, not shared
                }
            }
        }
        if (!mine.isEmpty()) {
            verifyClaimed(mine, claims, raws, verdicts);
        }
        for (int k = 0; k < theirs.size(); k++) {
            int i = theirs.get(k);
            try {
                verdicts[i] = awaited.get(k).verdict.join();
            } catch (java.util.concurrent.CompletionException | java.util.concurrent.CancellationException e) {
                // The thread that claimed it failed (its exception is its own to report) and
                // released its claim: this call claims and verifies it now.
                verdicts[i] = validate(ids.get(i), raws.get(i));
            }
        }
        return verdicts;
    }

    /** Verifies this call's share as one batch, remembers and publishes the verdicts; claims are released whatever happens. */
    private void verifyClaimed(List<Integer> mine, List<Pending> claims, List<byte[]> raws, TxVerdict[] verdicts) {
        List<byte[]> missed = new ArrayList<>(mine.size());
        for (int i : mine) {
            missed.add(raws.get(i));
        }
        List<TxVerdict> fresh = null;
        Throwable failure = null;
        try {
            verifications.addAndGet(mine.size());
            fresh = Transactions.validateBatch(missed, chainId);
            synchronized (cache) {
                for (int k = 0; k < mine.size(); k++) {
                    TxVerdict verdict = fresh.get(k);
                    verdicts[mine.get(k)] = verdict;
                    if (verdict.ok()) {
                        cache.put(verdict.transaction().id(), new Entry(missed.get(k), verdict));
                    }
                }
            }
        } catch (RuntimeException | Error e) {
            failure = e;
            throw e;
        } finally {
            // Released and completed whatever happened: a waiter never waits for a claim that is gone.
            release(claims);
            for (int k = 0; k < claims.size(); k++) {
                Pending claim = claims.get(k);
                if (claim == null) {
                    continue;
                }
                if (failure == null) {
                    claim.verdict.complete(fresh.get(k));
                } else {
                    claim.verdict.completeExceptionally(failure);
                }
            }
        }
    }

    private void release(List<Pending> claims) {
        synchronized (cache) {
            for (Pending claim : claims) {
                if (claim != null) {
                    inFlight.remove(claim.id, claim);
                }
            }
        }
    }

    /**
     * The verdict on a submitted transaction whose id the caller computed from its body: the
     * remembered one when these exact bytes were verified before, else a fresh verification.
     */
    public TxVerdict validate(Digest id, byte[] signedTransactionBytes) {
        return validateAll(List.of(id), List.of(signedTransactionBytes))[0];
    }

    /** Full checks (signature included) done so far: cache misses. */
    public long verifications() {
        return verifications.get();
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

    /**
     * Notes that the batch at {@code sequence} executed with these requests. Their entries stay
     * until {@link #forgetExecutedThrough} passes the batch: until then a VIEW-CHANGE may carry
     * the batch's PRE-PREPARE, whose requests are then answered from here.
     */
    public void executed(long sequence, List<Request> requests) {
        List<Digest> ids = new ArrayList<>(requests.size());
        for (Request r : requests) {
            ids.add(r.id());
        }
        synchronized (cache) {
            executed.addLast(new ExecutedBatch(sequence, ids));
            executedIds += ids.size();
            while (executedIds > capacity) {
                forget(executed.removeFirst());
            }
        }
    }

    /**
     * Drops the entries of batches executed at or below {@code sequence}. The core loop passes a
     * watermark window below the stable checkpoint: VIEW-CHANGEs carry certificates only above
     * their sender's stable checkpoint, and a sender more than a window behind ours would have
     * to fetch state before it votes again. Beyond that the ledger answers for those transactions
     * (replays are refused from its index, a resubmission gets its receipt, after one more
     * verification). Kept, entries would wait seconds for eviction, and entries that live that
     * long are what the young collections copy over and over.
     */
    public void forgetExecutedThrough(long sequence) {
        synchronized (cache) {
            while (!executed.isEmpty() && executed.peekFirst().sequence() <= sequence) {
                forget(executed.removeFirst());
            }
        }
    }

    /** Entries remembered now (executed or not); for tests and metrics. */
    public int remembered() {
        synchronized (cache) {
            return cache.size();
        }
    }

    private void forget(ExecutedBatch batch) {
        executedIds -= batch.ids().size();
        for (Digest id : batch.ids()) {
            cache.remove(id);
        }
    }
}
