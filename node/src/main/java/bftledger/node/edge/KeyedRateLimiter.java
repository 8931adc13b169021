package bftledger.node.edge;

import io.github.bucket4j.Bucket;
import io.github.bucket4j.ConsumptionProbe;
import io.github.bucket4j.EstimationProbe;
import io.github.bucket4j.TimeMeter;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.LongSupplier;

/**
 * A token bucket per key (a client address, a sender key): each holds at most {@code burst}
 * tokens, refilled at {@code ratePerSecond}, and an admitted call takes one. The buckets are
 * Bucket4j's; what this class adds is the bound Bucket4j's local buckets do not have: at most
 * {@code keysMax} keys, the least recently used evicted when a new key arrives at the bound, so a
 * flood of distinct keys costs bounded memory. An evicted key comes back with a full bucket; that
 * is why it sits behind the per-address limit and the in-flight caps, which bound what rotating
 * keys can gain (see KeyedRateLimiterTest). The clock (nanoseconds) is injected so tests drive time.
 */
public final class KeyedRateLimiter<K> {
    private final long ratePerSecond;
    private final long burst;
    private final int keysMax;
    private final TimeMeter clock;
    private final LinkedHashMap<K, Bucket> buckets;

    public KeyedRateLimiter(long ratePerSecond, long burst, int keysMax, LongSupplier clock) {
        if (ratePerSecond < 1 || burst < 1 || keysMax < 1) {
            throw new IllegalArgumentException("rate limiter: rate, burst and keysMax must be at least 1");
        }
        this.ratePerSecond = ratePerSecond;
        this.burst = burst;
        this.keysMax = keysMax;
        this.clock = new TimeMeter() {
            @Override
            public long currentTimeNanos() {
                return clock.getAsLong();
            }

            @Override
            public boolean isWallClockBased() {
                return false;
            }
        };
        this.buckets = new LinkedHashMap<>(16, 0.75f, true) {
            @Override
            protected boolean removeEldestEntry(Map.Entry<K, Bucket> eldest) {
                return size() > KeyedRateLimiter.this.keysMax;
            }
        };
    }

    /** 0 when {@code key} may go now (a token is taken), else the milliseconds until it may: the retry-after hint. */
    public long tryAcquire(K key) {
        Bucket bucket;
        synchronized (buckets) {
            bucket = buckets.computeIfAbsent(key, k -> newBucket());
        }
        ConsumptionProbe probe = bucket.tryConsumeAndReturnRemaining(1);
        if (probe.isConsumed()) {
            return 0;
        }
        return hintMillis(probe.getNanosToWaitForRefill());
    }

    /**
     * 0 when {@code key} has a token left (a key never seen has a full bucket), else the
     * milliseconds until it has one. Takes nothing: for a budget spent by {@link #take} elsewhere.
     */
    public long waitMillis(K key) {
        Bucket bucket;
        synchronized (buckets) {
            bucket = buckets.get(key);
        }
        if (bucket == null) {
            return 0;
        }
        EstimationProbe probe = bucket.estimateAbilityToConsume(1);
        return probe.canBeConsumed() ? 0 : hintMillis(probe.getNanosToWaitForRefill());
    }

    /**
     * Takes {@code count} tokens from {@code key}'s bucket, into debt when fewer are left: what
     * is charged after the fact (calls admitted while earlier ones were still being checked) is
     * paid for by a longer wait, so in the long run no more than the rate gets through.
     */
    public void take(K key, long count) {
        if (count < 1) {
            return;
        }
        Bucket bucket;
        synchronized (buckets) {
            bucket = buckets.computeIfAbsent(key, k -> newBucket());
        }
        bucket.consumeIgnoringRateLimits(count);
    }

    /** A wait as a retry-after hint: whole milliseconds, rounded up, at least 1. */
    private static long hintMillis(long nanos) {
        return Math.max(1, (nanos + 999_999) / 1_000_000);
    }

    public int size() {
        synchronized (buckets) {
            return buckets.size();
        }
    }

    private Bucket newBucket() {
        return Bucket.builder()
                .addLimit(limit -> limit.capacity(burst).refillGreedy(ratePerSecond, Duration.ofSeconds(1)))
                .withCustomTimePrecision(clock)
                .build();
    }
}
