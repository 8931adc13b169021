package bftledger.node.edge;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/** The per-key token buckets and their bounded map, on a fake clock. */
class KeyedRateLimiterTest {
    private static final long SEED = Long.getLong("bftledger.seed", System.nanoTime());
    private final AtomicLong now = new AtomicLong(5_000_000_000L);

    @Test
    void burstThenRateAndAHonestHint() {
        KeyedRateLimiter<String> bucket = new KeyedRateLimiter<>(10, 3, 1, now::get);
        assertEquals(0, bucket.tryAcquire("k"));
        assertEquals(0, bucket.tryAcquire("k"));
        assertEquals(0, bucket.tryAcquire("k"));
        assertEquals(100, bucket.tryAcquire("k"), "burst spent; 10/s: one token per 100 ms");
        now.addAndGet(TimeUnit.MILLISECONDS.toNanos(99));
        assertEquals(1, bucket.tryAcquire("k"));
        now.addAndGet(TimeUnit.MILLISECONDS.toNanos(1));
        assertEquals(0, bucket.tryAcquire("k"));
        now.addAndGet(TimeUnit.HOURS.toNanos(5));
        for (int i = 0; i < 3; i++) {
            assertEquals(0, bucket.tryAcquire("k"));
        }
        assertTrue(bucket.tryAcquire("k") > 0, "a long idle refills to the burst, not beyond");
    }

    @Test
    void aBudgetIsSpentByTakingAndCheckedWithoutSpending() {
        KeyedRateLimiter<String> budget = new KeyedRateLimiter<>(1, 4, 10, now::get);
        assertEquals(0, budget.waitMillis("never-seen"), "an unknown key has its whole budget");
        assertEquals(0, budget.size(), "checking creates no bucket");
        budget.take("k", 3);
        for (int i = 0; i < 10; i++) {
            assertEquals(0, budget.waitMillis("k"), "checking takes nothing");
        }
        budget.take("k", 5);
        assertEquals(5_000, budget.waitMillis("k"), "4 taken beyond what was left are a debt: at 1/s, 5 s to a token");
        now.addAndGet(TimeUnit.MILLISECONDS.toNanos(4_999));
        assertEquals(1, budget.waitMillis("k"));
        now.addAndGet(TimeUnit.MILLISECONDS.toNanos(1));
        assertEquals(0, budget.waitMillis("k"));
        budget.take("k", 0);
        assertEquals(0, budget.waitMillis("k"), "taking nothing spends nothing");
        assertEquals(0, budget.waitMillis("other"), "keys are independent");
    }

    @Test
    void admittedNeverExceedsBurstPlusRateTimesElapsed() {
        SplittableRandom random = new SplittableRandom(SEED);
        long rate = 1 + random.nextInt(1_000);
        long burst = 1 + random.nextInt(100);
        long start = now.get();
        KeyedRateLimiter<String> bucket = new KeyedRateLimiter<>(rate, burst, 1, now::get);
        long admitted = 0;
        // Attempts (about 10,000/s) outpace the rate, so a token is never left to overflow the burst.
        for (int i = 0; i < 200_000; i++) {
            now.addAndGet(random.nextLong(TimeUnit.MICROSECONDS.toNanos(200)));
            if (bucket.tryAcquire("k") == 0) {
                admitted++;
            }
            long bound = burst + rate * (now.get() - start) / 1_000_000_000L;
            assertTrue(admitted <= bound, "seed " + SEED + ": " + admitted + " admitted, bound " + bound);
        }
        long elapsedSeconds = (now.get() - start) / 1_000_000_000L;
        assertTrue(admitted >= rate * elapsedSeconds * 9 / 10, "seed " + SEED + ": the rate is actually granted ("
                + admitted + " in " + elapsedSeconds + " s at " + rate + "/s)");
    }

    @Test
    void perKeyBucketsAreIndependentAndTheMapIsBounded() {
        KeyedRateLimiter<String> limiter = new KeyedRateLimiter<>(1, 2, 100, now::get);
        assertEquals(0, limiter.tryAcquire("flooder"));
        assertEquals(0, limiter.tryAcquire("flooder"));
        assertTrue(limiter.tryAcquire("flooder") > 0, "flooder limited");
        assertEquals(0, limiter.tryAcquire("honest"), "another key is not");
        for (int i = 0; i < 10_000; i++) {
            limiter.tryAcquire("k" + i);
        }
        assertEquals(100, limiter.size(), "least recently used keys are evicted at the bound");
    }
}
