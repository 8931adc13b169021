package bftledger.node.edge;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.LongSupplier;

/**
 * One {@link TokenBucket} per key (a client address, a sender key), at most {@code keysMax} of
 * them: the least recently used bucket is evicted when a new key arrives at the bound, so a
 * flood of distinct keys costs bounded memory. An evicted key comes back with a full bucket;
 * that is why it sits behind the per-address limit and the in-flight caps, which bound what
 * rotating keys can gain.
 */
public final class KeyedRateLimiter<K> {
    private final long ratePerSecond;
    private final long burst;
    private final int keysMax;
    private final LongSupplier clock;
    private final LinkedHashMap<K, TokenBucket> buckets;

    public KeyedRateLimiter(long ratePerSecond, long burst, int keysMax, LongSupplier clock) {
        if (keysMax < 1) {
            throw new IllegalArgumentException("keysMax must be at least 1");
        }
        this.ratePerSecond = ratePerSecond;
        this.burst = burst;
        this.keysMax = keysMax;
        this.clock = clock;
        this.buckets = new LinkedHashMap<>(16, 0.75f, true) {
            @Override
            protected boolean removeEldestEntry(Map.Entry<K, TokenBucket> eldest) {
                return size() > KeyedRateLimiter.this.keysMax;
            }
        };
    }

    /** 0 when {@code key} may go now (a token is taken), else the milliseconds until it may. */
    public long tryAcquire(K key) {
        TokenBucket bucket;
        synchronized (buckets) {
            bucket = buckets.computeIfAbsent(key, k -> new TokenBucket(ratePerSecond, burst, clock));
        }
        return bucket.tryTake() ? 0 : bucket.millisUntilToken();
    }

    public int size() {
        synchronized (buckets) {
            return buckets.size();
        }
    }
}
