package bftledger.scenario;

import bftledger.crypto.Digest;
import bftledger.crypto.KeyPair;
import bftledger.ledger.proto.Receipt;
import bftledger.ledger.proto.SignedTransaction;
import bftledger.sdk.Committed;
import bftledger.sdk.LedgerClient;
import bftledger.sdk.LedgerClientException;
import bftledger.sdk.TransactionFactory;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;

/**
 * The bank test's load: signed transfers among a fixed set of funded accounts, up to
 * {@code inFlightMax} outstanding at once through one SDK client, until stopped. Amounts are
 * large against the balances so overdrafts happen (they commit as FAILED and move nothing),
 * which is what makes "no negative balance" a check that can fail.
 *
 * <p>Every outcome is recorded: {@link Ack}s (proven committed: f+1 matching signed replies or a
 * certificate with inclusion proof), ambiguous ones (timeout or no agreement: may or may not have
 * committed; the checker asks nothing of them but that they execute at most once) and rejected
 * ones. A history survives several {@link #run} phases so a class-wide check sees all of them.
 */
public final class BankWorkload {
    /** A transaction proven committed, as the client was told. */
    public record Ack(Digest txId, long height, Digest blockHash, Receipt.Status status, String evidence) {}

    /** A transaction whose fate the client could not learn, with why. */
    public record Unknown(Digest txId, String why) {}

    private final List<KeyPair> accounts;
    private final long amountMax;
    private final int inFlightMax;
    private final Duration submitTimeout;
    private final SplittableRandom random;
    private final List<Ack> acks = new ArrayList<>();
    private final List<Unknown> ambiguous = new ArrayList<>();
    private final List<Unknown> rejected = new ArrayList<>();
    private volatile Thread runner;
    private volatile boolean stopping;
    private final List<CompletableFuture<?>> outstanding = new ArrayList<>();
    private volatile OutcomeListener listener;

    /**
     * Told each outcome with when it was submitted and when it completed ({@link System#nanoTime}):
     * the chaos run (package bftledger.chaos) builds its commit timeline and latencies from these.
     * Called under the workload's lock, so it must be quick and must not call back into the workload.
     */
    public interface OutcomeListener {
        void outcome(Digest txId, long submittedNanos, long completedNanos, boolean acknowledged);
    }

    /** Sets the one listener (null for none); outcomes before the call are not replayed. */
    public void listener(OutcomeListener l) {
        listener = l;
    }

    public BankWorkload(List<KeyPair> accounts, long amountMax, int inFlightMax, Duration submitTimeout, long seed) {
        if (accounts.size() < 2) {
            throw new IllegalArgumentException("a bank needs at least two accounts");
        }
        this.accounts = List.copyOf(accounts);
        this.amountMax = amountMax;
        this.inFlightMax = inFlightMax;
        this.submitTimeout = submitTimeout;
        this.random = new SplittableRandom(seed);
    }

    /** Starts submitting in the background until {@link #stop}. */
    public synchronized void start(LedgerClient client) {
        if (runner != null) {
            throw new IllegalStateException("already running");
        }
        stopping = false;
        Semaphore window = new Semaphore(inFlightMax);
        Thread t = new Thread(() -> {
            while (!stopping) {
                try {
                    if (!window.tryAcquire(100, TimeUnit.MILLISECONDS)) {
                        continue;
                    }
                } catch (InterruptedException e) {
                    return;
                }
                CompletableFuture<Committed> f = submit(client, next(client));
                f.whenComplete((c, e) -> window.release());
            }
        }, "bank-workload");
        t.setDaemon(true);
        runner = t;
        t.start();
    }

    /** Stops submitting and waits (bounded by the submit timeout) for every outstanding submission's outcome. */
    public void stop() throws InterruptedException {
        Thread t = runner;
        if (t == null) {
            return;
        }
        stopping = true;
        t.join(10_000);
        runner = null;
        List<CompletableFuture<?>> pending;
        synchronized (this) {
            pending = new ArrayList<>(outstanding);
        }
        for (CompletableFuture<?> f : pending) {
            try {
                f.get(submitTimeout.toMillis() + 5_000, TimeUnit.MILLISECONDS);
            } catch (Exception ignored) {
                // The outcome was recorded by the completion handler; only the wait is bounded here.
            }
        }
    }

    /**
     * Submits {@code count} transfers one after another and returns how many were proven
     * committed within {@code timeout} each: the checker's progress probe.
     */
    public int probe(LedgerClient client, int count, Duration timeout) {
        int committed = 0;
        for (int k = 0; k < count; k++) {
            CompletableFuture<Committed> f = submit(client, next(client), timeout);
            try {
                f.get(timeout.toMillis() + 5_000, TimeUnit.MILLISECONDS);
                committed++;
            } catch (Exception e) {
                // Recorded as ambiguous or rejected by submit's handler.
            }
        }
        return committed;
    }

    private synchronized SignedTransaction next(LedgerClient client) {
        int from = random.nextInt(accounts.size());
        int to = random.nextInt(accounts.size() - 1);
        if (to >= from) {
            to++;
        }
        long amount = 1 + random.nextLong(amountMax);
        return client.transactions().transfer(accounts.get(from), accounts.get(to).publicKey(), amount);
    }

    private CompletableFuture<Committed> submit(LedgerClient client, SignedTransaction tx) {
        return submit(client, tx, submitTimeout);
    }

    private CompletableFuture<Committed> submit(LedgerClient client, SignedTransaction tx, Duration timeout) {
        Digest id = TransactionFactory.id(tx);
        long submitted = System.nanoTime();
        CompletableFuture<Committed> f = client.submitAsync(tx, timeout);
        synchronized (this) {
            outstanding.add(f);
        }
        f.whenComplete((c, e) -> record(id, c, e, f, submitted));
        return f;
    }

    private synchronized void record(Digest id, Committed c, Throwable e, CompletableFuture<?> f, long submitted) {
        outstanding.remove(f);
        OutcomeListener told = listener;
        if (told != null) {
            told.outcome(id, submitted, System.nanoTime(), c != null);
        }
        if (c != null) {
            acks.add(new Ack(c.txId(), c.height(), c.blockHash(), c.receipt().getStatus(), c.evidence()));
            return;
        }
        Throwable cause = e instanceof CompletionException && e.getCause() != null ? e.getCause() : e;
        if (cause instanceof LedgerClientException l && l.kind() == LedgerClientException.Kind.REJECTED) {
            rejected.add(new Unknown(id, l.getMessage()));
        } else {
            ambiguous.add(new Unknown(id, String.valueOf(cause)));
        }
    }

    /**
     * Waits until {@code more} acknowledgements beyond the current count have arrived, polling
     * under a deadline; fails with {@code what} and the workload summary otherwise.
     */
    public void awaitMoreAcks(int more, Duration bound, String what) {
        if (!waitForMoreAcks(more, bound)) {
            throw new AssertionError(what + ": fewer than " + more + " transfers acknowledged within " + bound + "; " + summary());
        }
    }

    /** As {@link #awaitMoreAcks} but returns false at the deadline instead of failing. */
    public boolean waitForMoreAcks(int more, Duration bound) {
        int target = acksCount() + more;
        long deadline = System.nanoTime() + bound.toNanos();
        while (acksCount() < target) {
            if (System.nanoTime() > deadline) {
                return false;
            }
            try {
                Thread.sleep(50);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new AssertionError("interrupted", e);
            }
        }
        return true;
    }

    public synchronized int acksCount() {
        return acks.size();
    }

    public synchronized List<Ack> acks() {
        return List.copyOf(acks);
    }

    public synchronized List<Unknown> ambiguous() {
        return List.copyOf(ambiguous);
    }

    public synchronized List<Unknown> rejected() {
        return List.copyOf(rejected);
    }

    public synchronized String summary() {
        long failed = acks.stream().filter(a -> a.status() != Receipt.Status.SUCCESS).count();
        return acks.size() + " acknowledged (" + failed + " FAILED for funds), " + ambiguous.size() + " ambiguous, "
                + rejected.size() + " rejected";
    }
}
