package bftledger.node.edge;

import java.util.function.LongSupplier;

/**
 * A token bucket: holds at most {@code burst} tokens, refilled at {@code ratePerSecond}; each
 * admitted request takes one. Integer arithmetic in micro-tokens, so no drift from floating
 * point. Thread-safe; the clock (nanoseconds) is injected so tests drive time.
 */
public final class TokenBucket {
    private static final long MICRO = 1_000_000;

    private final long ratePerSecond;
    private final long capacityMicro;
    private final LongSupplier clock;
    private long tokensMicro;
    private long lastNanos;

    public TokenBucket(long ratePerSecond, long burst, LongSupplier clock) {
        if (ratePerSecond < 1 || burst < 1) {
            throw new IllegalArgumentException("token bucket: rate and burst must be at least 1");
        }
        this.ratePerSecond = ratePerSecond;
        this.capacityMicro = burst * MICRO;
        this.clock = clock;
        this.tokensMicro = capacityMicro;
        this.lastNanos = clock.getAsLong();
    }

    /** Takes one token if there is one. */
    public synchronized boolean tryTake() {
        refill();
        if (tokensMicro >= MICRO) {
            tokensMicro -= MICRO;
            return true;
        }
        return false;
    }

    /** Milliseconds until a token will be there (0 when one is there now): the retry-after hint. */
    public synchronized long millisUntilToken() {
        refill();
        if (tokensMicro >= MICRO) {
            return 0;
        }
        long missingMicro = MICRO - tokensMicro;
        // tokens/s * micro = micro-tokens per second; ceil(missing * 1000 / rate / MICRO) ms.
        return Math.max(1, (missingMicro * 1_000 + ratePerSecond * MICRO - 1) / (ratePerSecond * MICRO));
    }

    private void refill() {
        long now = clock.getAsLong();
        long elapsed = now - lastNanos;
        if (elapsed <= 0) {
            return;
        }
        long elapsedMicros = elapsed / 1_000;
        // Only whole microseconds are consumed, so frequent calls do not lose the remainders.
        lastNanos += elapsedMicros * 1_000;
        // rate micro-tokens per microsecond; capped so the product cannot overflow.
        long addMicro = ratePerSecond * Math.min(elapsedMicros, 3_600_000_000L);
        tokensMicro = Math.min(capacityMicro, tokensMicro + Math.min(addMicro, capacityMicro));
    }
}
