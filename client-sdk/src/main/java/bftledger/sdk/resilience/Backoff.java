package bftledger.sdk.resilience;

import java.util.Random;

/**
 * Exponential backoff with full jitter (AWS architecture blog, "Exponential Backoff and
 * Jitter"): the wait before retry {@code attempt} (0 = first retry) is uniform in
 * [0, min(max, base * 2^attempt)]. Full jitter spreads clients that failed together, so they do
 * not come back together.
 *
 * <p>Why not Resilience4j's {@code IntervalFunction.ofExponentialRandomBackoff}: it jitters by a
 * factor around the exponential value instead of over [0, ceiling], and draws from
 * {@code Math.random()}, where the caller hands this one its own seeded generator, so retry
 * timing replays in tests (BackoffTest).
 */
public final class Backoff {
    private Backoff() {}

    /** The ceiling for {@code attempt}: min(max, base * 2^attempt), without overflow. */
    public static long ceilingMillis(int attempt, long baseMillis, long maxMillis) {
        if (baseMillis <= 0 || maxMillis <= 0) {
            throw new IllegalArgumentException("backoff base and max must be positive");
        }
        int shift = Math.min(Math.max(attempt, 0), 30);
        long ceiling = baseMillis << shift;
        return ceiling <= 0 || ceiling > maxMillis ? maxMillis : ceiling;
    }

    /** A wait drawn uniformly from [0, ceiling] with {@code random} (callers synchronize on it if shared). */
    public static long fullJitterMillis(int attempt, long baseMillis, long maxMillis, Random random) {
        long ceiling = ceilingMillis(attempt, baseMillis, maxMillis);
        synchronized (random) {
            return (long) (random.nextDouble() * (ceiling + 1)) ;
        }
    }
}
