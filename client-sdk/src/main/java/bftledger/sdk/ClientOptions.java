package bftledger.sdk;

import bftledger.sdk.resilience.CircuitBreaker;
import java.time.Duration;
import java.util.Random;
import java.util.function.LongSupplier;

/**
 * How a {@link LedgerClient} calls replicas. Immutable; start from {@link #defaults()} and
 * change fields with the {@code with...} methods.
 *
 * @param callDeadline        gRPC deadline of one read or status call to one replica (the
 *                            replica sees it and stops working on the call when it passes)
 * @param submitWaitMax       longest one submit call asks a replica to hold it before PENDING;
 *                            the call's deadline is this plus {@code callDeadline}
 * @param backoffBase         first retry waits up to this (full jitter)
 * @param backoffMax          no retry waits longer than this
 * @param retryBudgetRatio    retries allowed as a share of first attempts over the window
 * @param retryBudgetMin      retries allowed per window whatever the call count
 * @param retryBudgetWindow   the sliding window of the retry budget
 * @param breakerFailures     consecutive failures or timeouts that open a replica's breaker
 * @param breakerCoolDown     how long an open breaker refuses calls before one probe
 * @param ambiguityLookup     after a submit deadline passes, how long the SDK spends looking
 *                            the transaction id up (GetTransaction) to settle whether it committed
 * @param random              jitter source; seed it in tests
 * @param clock               nanosecond clock for budget and breakers; a fake one in tests
 * @param breakerListener     told of every breaker state change (may be null)
 * @param batchTransactionsMax most transactions one SubmitTransactions call carries to a replica
 *                            (a replica refuses more than its own bound, 256 by default)
 * @param batchesInFlightMax  SubmitTransactions calls outstanding per replica; submissions made
 *                            while that many are out wait and go together in the next call, so
 *                            under load calls (and the replicas' reply signatures) carry many
 *                            transactions each, and a lone submission goes out at once
 */
public record ClientOptions(Duration callDeadline, Duration submitWaitMax, Duration backoffBase, Duration backoffMax,
                            double retryBudgetRatio, int retryBudgetMin, Duration retryBudgetWindow, int breakerFailures,
                            Duration breakerCoolDown, Duration ambiguityLookup, Random random, LongSupplier clock,
                            CircuitBreaker.Listener breakerListener, int batchTransactionsMax, int batchesInFlightMax) {
    public ClientOptions {
        positive(callDeadline, "callDeadline");
        positive(submitWaitMax, "submitWaitMax");
        positive(backoffBase, "backoffBase");
        positive(backoffMax, "backoffMax");
        positive(retryBudgetWindow, "retryBudgetWindow");
        positive(breakerCoolDown, "breakerCoolDown");
        positive(ambiguityLookup, "ambiguityLookup");
        if (retryBudgetRatio < 0 || retryBudgetRatio > 1 || retryBudgetMin < 0 || breakerFailures < 1) {
            throw new IllegalArgumentException("retryBudgetRatio in [0,1], retryBudgetMin >= 0, breakerFailures >= 1");
        }
        if (batchTransactionsMax < 1 || batchesInFlightMax < 1) {
            throw new IllegalArgumentException("batchTransactionsMax and batchesInFlightMax must be at least 1");
        }
        if (random == null || clock == null) {
            throw new IllegalArgumentException("random and clock are required");
        }
    }

    private static void positive(Duration d, String name) {
        if (d == null || d.isNegative() || d.isZero()) {
            throw new IllegalArgumentException(name + " must be a positive duration");
        }
    }

    /**
     * 5 s per read, 5 s submit waits, 50 ms..2 s backoff, 10% + 10 retries per 10 s, breaker 5
     * failures / 5 s, up to 256 transactions per submit call and 4 calls out per replica.
     */
    public static ClientOptions defaults() {
        return new ClientOptions(Duration.ofSeconds(5), Duration.ofSeconds(5), Duration.ofMillis(50), Duration.ofSeconds(2),
                0.1, 10, Duration.ofSeconds(10), 5, Duration.ofSeconds(5), Duration.ofSeconds(3), new Random(),
                System::nanoTime, null, 256, 4);
    }

    public ClientOptions withCallDeadline(Duration d) {
        return new ClientOptions(d, submitWaitMax, backoffBase, backoffMax, retryBudgetRatio, retryBudgetMin,
                retryBudgetWindow, breakerFailures, breakerCoolDown, ambiguityLookup, random, clock, breakerListener, batchTransactionsMax, batchesInFlightMax);
    }

    public ClientOptions withSubmitWaitMax(Duration d) {
        return new ClientOptions(callDeadline, d, backoffBase, backoffMax, retryBudgetRatio, retryBudgetMin,
                retryBudgetWindow, breakerFailures, breakerCoolDown, ambiguityLookup, random, clock, breakerListener, batchTransactionsMax, batchesInFlightMax);
    }

    public ClientOptions withBackoff(Duration base, Duration max) {
        return new ClientOptions(callDeadline, submitWaitMax, base, max, retryBudgetRatio, retryBudgetMin,
                retryBudgetWindow, breakerFailures, breakerCoolDown, ambiguityLookup, random, clock, breakerListener, batchTransactionsMax, batchesInFlightMax);
    }

    public ClientOptions withRetryBudget(double ratio, int min, Duration window) {
        return new ClientOptions(callDeadline, submitWaitMax, backoffBase, backoffMax, ratio, min,
                window, breakerFailures, breakerCoolDown, ambiguityLookup, random, clock, breakerListener, batchTransactionsMax, batchesInFlightMax);
    }

    public ClientOptions withBreaker(int failures, Duration coolDown) {
        return new ClientOptions(callDeadline, submitWaitMax, backoffBase, backoffMax, retryBudgetRatio, retryBudgetMin,
                retryBudgetWindow, failures, coolDown, ambiguityLookup, random, clock, breakerListener, batchTransactionsMax, batchesInFlightMax);
    }

    public ClientOptions withAmbiguityLookup(Duration d) {
        return new ClientOptions(callDeadline, submitWaitMax, backoffBase, backoffMax, retryBudgetRatio, retryBudgetMin,
                retryBudgetWindow, breakerFailures, breakerCoolDown, d, random, clock, breakerListener, batchTransactionsMax, batchesInFlightMax);
    }

    public ClientOptions withRandom(Random r) {
        return new ClientOptions(callDeadline, submitWaitMax, backoffBase, backoffMax, retryBudgetRatio, retryBudgetMin,
                retryBudgetWindow, breakerFailures, breakerCoolDown, ambiguityLookup, r, clock, breakerListener, batchTransactionsMax, batchesInFlightMax);
    }

    public ClientOptions withClock(LongSupplier c) {
        return new ClientOptions(callDeadline, submitWaitMax, backoffBase, backoffMax, retryBudgetRatio, retryBudgetMin,
                retryBudgetWindow, breakerFailures, breakerCoolDown, ambiguityLookup, random, c, breakerListener, batchTransactionsMax, batchesInFlightMax);
    }

    public ClientOptions withBreakerListener(CircuitBreaker.Listener l) {
        return new ClientOptions(callDeadline, submitWaitMax, backoffBase, backoffMax, retryBudgetRatio, retryBudgetMin,
                retryBudgetWindow, breakerFailures, breakerCoolDown, ambiguityLookup, random, clock, l, batchTransactionsMax, batchesInFlightMax);
    }

    public ClientOptions withBatching(int transactionsMax, int inFlightMax) {
        return new ClientOptions(callDeadline, submitWaitMax, backoffBase, backoffMax, retryBudgetRatio, retryBudgetMin,
                retryBudgetWindow, breakerFailures, breakerCoolDown, ambiguityLookup, random, clock, breakerListener,
                transactionsMax, inFlightMax);
    }
}
