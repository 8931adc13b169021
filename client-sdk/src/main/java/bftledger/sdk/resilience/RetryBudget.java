package bftledger.sdk.resilience;

import java.util.function.LongSupplier;

/**
 * Caps retries at a fraction of calls over a sliding window, plus a small floor so a client
 * that makes few calls can still retry at all (the shape of gRPC's retry throttling and of
 * Finagle's RetryBudget). Without it, each layer that retries multiplies the load a sick
 * network sees; with it, retries add at most {@code ratio} to the call rate, whatever fails.
 *
 * <p>The window is split into {@link #SLOTS} slots so old calls age out gradually; the clock
 * is injected (nanoseconds) so tests drive time. Thread-safe.
 *
 * <p>Resilience4j has no counterpart: its Retry bounds the attempts of one call, not the retries
 * of all calls as a share of the call rate (RetryBudgetTest).
 */
public final class RetryBudget {
    static final int SLOTS = 10;

    private final double ratio;
    private final int minRetriesPerWindow;
    private final long slotNanos;
    private final LongSupplier clock;
    private final long[] calls = new long[SLOTS];
    private final long[] retries = new long[SLOTS];
    private long currentSlot;
    private long deniedTotal;

    public RetryBudget(double ratio, int minRetriesPerWindow, long windowNanos, LongSupplier clock) {
        if (ratio < 0 || ratio > 1 || minRetriesPerWindow < 0 || windowNanos < SLOTS) {
            throw new IllegalArgumentException("retry budget: ratio in [0,1], min >= 0, window >= " + SLOTS + " ns");
        }
        this.ratio = ratio;
        this.minRetriesPerWindow = minRetriesPerWindow;
        this.slotNanos = windowNanos / SLOTS;
        this.clock = clock;
        this.currentSlot = clock.getAsLong() / slotNanos;
    }

    /** Records a first attempt (not a retry); it earns {@code ratio} retries. */
    public synchronized void onCall() {
        advance();
        calls[(int) (currentSlot % SLOTS)]++;
    }

    /** Takes one retry from the budget; false means "do not retry now". */
    public synchronized boolean tryRetry() {
        advance();
        long windowCalls = 0;
        long windowRetries = 0;
        for (int i = 0; i < SLOTS; i++) {
            windowCalls += calls[i];
            windowRetries += retries[i];
        }
        if (windowRetries + 1 > minRetriesPerWindow + (long) Math.floor(ratio * windowCalls)) {
            deniedTotal++;
            return false;
        }
        retries[(int) (currentSlot % SLOTS)]++;
        return true;
    }

    /** Retries granted and first attempts in the current window, and denials ever (for status and tests). */
    public synchronized Snapshot snapshot() {
        advance();
        long c = 0;
        long r = 0;
        for (int i = 0; i < SLOTS; i++) {
            c += calls[i];
            r += retries[i];
        }
        return new Snapshot(c, r, deniedTotal);
    }

    public record Snapshot(long callsInWindow, long retriesInWindow, long deniedTotal) {}

    private void advance() {
        long now = clock.getAsLong() / slotNanos;
        if (now <= currentSlot) {
            return;
        }
        long steps = Math.min(now - currentSlot, SLOTS);
        for (long s = 1; s <= steps; s++) {
            int i = (int) ((currentSlot + s) % SLOTS);
            calls[i] = 0;
            retries[i] = 0;
        }
        currentSlot = now;
    }
}
