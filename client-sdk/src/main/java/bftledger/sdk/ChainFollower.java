package bftledger.sdk;

import bftledger.ledger.ValidatorSets.ValidatorSet;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.LongSupplier;

/**
 * The validator sets a client holds, and how it keeps up with them. It starts from the network it
 * was given (genesis's set alone unless told more) and adopts a chain only when a replica proves a
 * VALIDATORS record whose sets extend the held ones ({@link Refresh}); the endpoints follow
 * ({@link Replicas#follow}). A failure that a set not held yet would explain asks for a refresh
 * ({@link #catchUp}): one at a time and at most one started per {@link #REFRESH_INTERVAL_NANOS},
 * so a replica that fails every answer costs at most one record read a second. A refresh that
 * fails changes nothing, so nothing is ever accepted because of one (see
 * ValidatorChangeTest#aFailedRefreshAcceptsNothingAndRefreshesAreRateLimited).
 *
 * <p>Not Bucket4j: the rule is "join the refresh under way, else start one if the last began a
 * second ago", one comparison, and a bucket does not join callers to the refresh under way.
 */
final class ChainFollower implements AutoCloseable {
    private static final System.Logger log = System.getLogger(LedgerClient.class.getName());
    static final long REFRESH_INTERVAL_NANOS = TimeUnit.SECONDS.toNanos(1);

    /**
     * Reads the VALIDATORS record, asking each replica in at most {@code roundsMax} rounds: the
     * chain it proves, which extends {@code held}'s, and the height it is proven at.
     */
    interface Refresh {
        Proven<ValidatorChain> read(Network held, long minHeight, Duration timeout, int roundsMax) throws LedgerClientException;
    }

    /** The network with the chain held, and the height that chain was proven at (0: given, not read). */
    private record Held(Network network, long provenAt) {}

    /** The sets whose validators' replies count now, the latest first, and the chain they come from. */
    record Signing(ValidatorChain chain, List<ValidatorSet> sets) {}

    private final AtomicReference<Held> held;
    /** The highest height the client knows the chain reached: proven, or agreed by f+1 replies. */
    private final AtomicLong knownHeight = new AtomicLong();
    private final Replicas replicas;
    private final Refresh refresh;
    private final Duration refreshTimeout;
    private final LongSupplier clock;
    private final ExecutorService refresher = Executors.newSingleThreadExecutor(r -> {
        Thread t = new Thread(r, "ledger-client-validators");
        t.setDaemon(true);
        return t;
    });
    private CompletableFuture<Void> underWay;
    private boolean refreshedBefore;
    private long lastStartNanos;

    /** {@code refreshTimeout} bounds a refresh the client starts by itself. */
    ChainFollower(Network network, Replicas replicas, Refresh refresh, Duration refreshTimeout, LongSupplier clock) {
        this.held = new AtomicReference<>(new Held(network, 0));
        this.replicas = replicas;
        this.refresh = refresh;
        this.refreshTimeout = refreshTimeout;
        this.clock = clock;
    }

    Network network() {
        return held.get().network();
    }

    ValidatorChain chain() {
        return network().validators();
    }

    /**
     * Whose reply signatures count: the latest set's validators, and while the client knows of no
     * height the latest set signs (it may still be pending) the set before it too, which orders
     * blocks until then. At most one change is pending at a time, so no other set can be signing
     * (see ValidatorChangeTest#untilTheNewSetSignsTheSetBeforeItStillCountsAndIsDialled).
     */
    Signing signing() {
        ValidatorChain chain = chain();
        ValidatorSet latest = chain.latest();
        if (latest.epoch() == 0 || latest.fromHeight() <= knownHeight.get()) {
            return new Signing(chain, List.of(latest));
        }
        return new Signing(chain, List.of(latest, chain.previous()));
    }

    /** Replies needed so that one comes from an honest validator of {@code set}. */
    static int weakQuorum(ValidatorSet set) {
        return (set.n() - 1) / 3 + 1;
    }

    /** f+1 of the latest set. */
    int weakQuorum() {
        return weakQuorum(chain().latest());
    }

    /** The chain reached {@code height}; once that is the latest set's first, the set before it no longer counts. */
    void noteHeight(long height) {
        long before = knownHeight.getAndAccumulate(height, Math::max);
        long first = chain().latest().fromHeight();
        if (before < first && height >= first) {
            followEndpoints();
        }
    }

    /** Endpoints for the state now; under the lock that {@link #adopt} holds, so the last call sees the last state. */
    private synchronized void followEndpoints() {
        replicas.follow(network(), knownHeight.get());
    }

    /** Reads the record and adopts the chain it proves when it extends the held one; the chain held after. */
    ValidatorChain refresh(Duration timeout) throws LedgerClientException {
        return refresh(timeout, Integer.MAX_VALUE);
    }

    private ValidatorChain refresh(Duration timeout, int roundsMax) throws LedgerClientException {
        Held before = held.get();
        Proven<ValidatorChain> proven = refresh.read(before.network(), before.provenAt(), timeout, roundsMax);
        noteHeight(proven.height());
        adopt(proven.value(), proven.height());
        return chain();
    }

    /**
     * Holds {@code chain} when it extends the held one. The endpoints follow first: a submission
     * that settles under the new chain must not then go out to the validators that left (see
     * ValidatorChangeTest#repliesOfTheNewSetCountAndTheClientDialsItsValidators).
     */
    private synchronized void adopt(ValidatorChain chain, long provenAt) {
        Held now = held.get();
        ValidatorChain holding = now.network().validators();
        if (chain.extendsChain(holding) && chain.sets().size() > holding.sets().size()) {
            Network next = now.network().withValidators(chain);
            replicas.follow(next, knownHeight.get());
            held.set(new Held(next, provenAt));
            log.log(System.Logger.Level.INFO, "event=validators-adopted {0} proven-at={1}", chain, provenAt);
        } else if (chain.equals(holding)) {
            held.set(new Held(now.network(), Math.max(now.provenAt(), provenAt)));
        }
    }

    /**
     * Completes true once a chain later than {@code failedUnder} is held: at once when one already
     * is, else after a refresh, joined when one is under way and started when the last began at
     * least a second ago; false when none may start or it brought nothing new.
     */
    CompletableFuture<Boolean> catchUp(ValidatorChain failedUnder) {
        CompletableFuture<Void> refreshing;
        synchronized (this) {
            if (!chain().equals(failedUnder)) {
                return CompletableFuture.completedFuture(true);
            }
            if (underWay == null) {
                long now = clock.getAsLong();
                if (refreshedBefore && now - lastStartNanos < REFRESH_INTERVAL_NANOS) {
                    return CompletableFuture.completedFuture(false);
                }
                refreshedBefore = true;
                lastStartNanos = now;
                CompletableFuture<Void> started;
                try {
                    started = CompletableFuture.runAsync(this::refreshQuietly, refresher);
                } catch (RejectedExecutionException closed) {
                    return CompletableFuture.completedFuture(false);
                }
                underWay = started;
                started.whenComplete((v, e) -> finished(started));
            }
            refreshing = underWay == null ? CompletableFuture.completedFuture(null) : underWay;
        }
        return refreshing.handle((v, e) -> !chain().equals(failedUnder));
    }

    /** As {@link #catchUp(ValidatorChain)}, waiting for it until {@code deadlineNanos} at most. */
    boolean catchUp(ValidatorChain failedUnder, long deadlineNanos) {
        try {
            return catchUp(failedUnder).get(Math.max(1, deadlineNanos - System.nanoTime()), TimeUnit.NANOSECONDS);
        } catch (TimeoutException | ExecutionException e) {
            return false;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }

    private synchronized void finished(CompletableFuture<Void> refresh) {
        if (underWay == refresh) {
            underWay = null;
        }
    }

    /** One round: a refresh that finds no answer is tried again on the next failure that asks for one. */
    private void refreshQuietly() {
        try {
            refresh(refreshTimeout, 1);
        } catch (LedgerClientException | RuntimeException e) {
            log.log(System.Logger.Level.WARNING, "event=validators-refresh-failed held={0} why=\"{1}\"", chain(), e.getMessage());
        }
    }

    @Override
    public void close() {
        refresher.shutdownNow();
    }
}
