package bftledger.sdk.resilience;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;
import org.junit.jupiter.api.Test;

/** Full-jitter bounds over many seeded draws. */
class BackoffTest {
    private static final long SEED = Long.getLong("bftledger.seed", System.nanoTime());

    @Test
    void ceilingDoublesUpToTheMax() {
        assertEquals(50, Backoff.ceilingMillis(0, 50, 2_000));
        assertEquals(100, Backoff.ceilingMillis(1, 50, 2_000));
        assertEquals(1_600, Backoff.ceilingMillis(5, 50, 2_000));
        assertEquals(2_000, Backoff.ceilingMillis(6, 50, 2_000));
        assertEquals(2_000, Backoff.ceilingMillis(10_000, 50, 2_000), "no overflow at huge attempts");
    }

    @Test
    void drawsStayInZeroToCeilingAndSpreadOut() {
        Random random = new Random(SEED);
        for (int attempt = 0; attempt < 12; attempt++) {
            long ceiling = Backoff.ceilingMillis(attempt, 50, 2_000);
            long min = Long.MAX_VALUE;
            long max = Long.MIN_VALUE;
            for (int i = 0; i < 2_000; i++) {
                long d = Backoff.fullJitterMillis(attempt, 50, 2_000, random);
                assertTrue(d >= 0 && d <= ceiling, "seed " + SEED + ": " + d + " outside [0," + ceiling + "]");
                min = Math.min(min, d);
                max = Math.max(max, d);
            }
            // Full jitter covers the whole range, not just the top (equal jitter) or one point.
            assertTrue(min <= ceiling / 10 && max >= ceiling * 9 / 10, "seed " + SEED + " attempt " + attempt
                    + ": draws in [" + min + "," + max + "] of [0," + ceiling + "]");
        }
    }
}
