package bftledger.sdk.resilience;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/** Retries stay within min + ratio x calls over the sliding window. */
class RetryBudgetTest {
    private static final long SEED = Long.getLong("bftledger.seed", System.nanoTime());
    private final AtomicLong now = new AtomicLong(0);
    private final long window = TimeUnit.SECONDS.toNanos(10);

    @Test
    void floorThenRatio() {
        RetryBudget budget = new RetryBudget(0.1, 2, window, now::get);
        assertTrue(budget.tryRetry());
        assertTrue(budget.tryRetry());
        assertFalse(budget.tryRetry(), "the floor is spent and no calls earned more");
        for (int i = 0; i < 20; i++) {
            budget.onCall();
        }
        assertTrue(budget.tryRetry());
        assertTrue(budget.tryRetry());
        assertFalse(budget.tryRetry(), "20 calls earn 2 retries at 10%");
        assertEquals(2, budget.snapshot().deniedTotal(), "two denials counted");
    }

    @Test
    void oldCallsAndRetriesAgeOut() {
        RetryBudget budget = new RetryBudget(0.5, 0, window, now::get);
        for (int i = 0; i < 10; i++) {
            budget.onCall();
        }
        for (int i = 0; i < 5; i++) {
            assertTrue(budget.tryRetry());
        }
        assertFalse(budget.tryRetry());
        now.addAndGet(window + 1);
        assertFalse(budget.tryRetry(), "the calls that earned retries are out of the window");
        budget.onCall();
        budget.onCall();
        assertTrue(budget.tryRetry());
    }

    @Test
    void randomScheduleNeverExceedsTheBudget() {
        SplittableRandom random = new SplittableRandom(SEED);
        double ratio = 0.1;
        int min = 3;
        RetryBudget budget = new RetryBudget(ratio, min, window, now::get);
        long slot = window / RetryBudget.SLOTS;
        // Every granted retry and every call with its time, to recount any window afterwards.
        java.util.List<long[]> log = new java.util.ArrayList<>();
        for (int step = 0; step < 20_000; step++) {
            now.addAndGet(random.nextLong(slot / 5));
            if (random.nextInt(3) == 0) {
                budget.onCall();
                log.add(new long[] {now.get(), 0});
            } else if (budget.tryRetry()) {
                log.add(new long[] {now.get(), 1});
                // The budget counts in whole slots; recount over the slots it looks at.
                long currentSlot = now.get() / slot;
                long calls = 0;
                long retries = 0;
                for (long[] e : log) {
                    if (e[0] / slot > currentSlot - RetryBudget.SLOTS) {
                        if (e[1] == 0) {
                            calls++;
                        } else {
                            retries++;
                        }
                    }
                }
                assertTrue(retries <= min + (long) Math.floor(ratio * calls), "seed " + SEED + " step " + step + ": "
                        + retries + " retries for " + calls + " calls in the window");
            }
            if (log.size() > 5_000) {
                log.subList(0, 1_000).clear();
            }
        }
    }
}
