package bftledger.sdk.resilience;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/** The breaker's state machine driven by a fake clock. */
class CircuitBreakerTest {
    private final AtomicLong now = new AtomicLong(1_000);
    private final List<String> events = new ArrayList<>();
    private final CircuitBreaker breaker = new CircuitBreaker(2, 3, 100, now::get,
            (replica, from, to, why) -> events.add(replica + ":" + from + "->" + to));

    @Test
    void opensAfterConsecutiveFailuresOnly() {
        breaker.onFailure("x");
        breaker.onFailure("x");
        breaker.onSuccess(); // resets the run
        breaker.onFailure("x");
        breaker.onFailure("x");
        assertEquals(CircuitBreaker.State.CLOSED, breaker.state());
        assertTrue(breaker.allowRequest());
        breaker.onFailure("timeout");
        assertEquals(CircuitBreaker.State.OPEN, breaker.state());
        assertFalse(breaker.allowRequest(), "open refuses during the cool-down");
        assertEquals(List.of("2:CLOSED->OPEN"), events);
    }

    @Test
    void halfOpenLetsExactlyOneProbeThenClosesOnSuccess() {
        for (int i = 0; i < 3; i++) {
            breaker.onFailure("x");
        }
        now.addAndGet(99);
        assertFalse(breaker.allowRequest());
        now.addAndGet(1);
        assertTrue(breaker.allowRequest(), "the probe");
        assertEquals(CircuitBreaker.State.HALF_OPEN, breaker.state());
        assertFalse(breaker.allowRequest(), "only one probe at a time");
        breaker.onSuccess();
        assertEquals(CircuitBreaker.State.CLOSED, breaker.state());
        assertTrue(breaker.allowRequest());
        assertEquals(List.of("2:CLOSED->OPEN", "2:OPEN->HALF_OPEN", "2:HALF_OPEN->CLOSED"), events);
    }

    @Test
    void failedProbeReopensForAFullCoolDown() {
        for (int i = 0; i < 3; i++) {
            breaker.onFailure("x");
        }
        now.addAndGet(100);
        assertTrue(breaker.allowRequest());
        now.addAndGet(50);
        breaker.onFailure("probe timed out");
        assertEquals(CircuitBreaker.State.OPEN, breaker.state());
        now.addAndGet(99);
        assertFalse(breaker.allowRequest(), "cool-down restarts at the failed probe");
        now.addAndGet(1);
        assertTrue(breaker.allowRequest());
    }

    @Test
    void aProbeThatNeverReportsDoesNotWedgeTheBreaker() {
        for (int i = 0; i < 3; i++) {
            breaker.onFailure("x");
        }
        now.addAndGet(100);
        assertTrue(breaker.allowRequest());
        now.addAndGet(99);
        assertFalse(breaker.allowRequest());
        now.addAndGet(1);
        assertTrue(breaker.allowRequest(), "a lost probe is replaced after another cool-down");
    }
}
