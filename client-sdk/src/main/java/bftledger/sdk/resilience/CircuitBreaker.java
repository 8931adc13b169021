package bftledger.sdk.resilience;

import java.util.function.LongSupplier;

/**
 * A per-replica circuit breaker. CLOSED: calls flow; {@code failureThreshold} consecutive
 * failures (errors or timeouts) open it. OPEN: no calls until {@code coolDownNanos} have passed,
 * so a dead or hung replica stops costing every caller a timeout. HALF_OPEN: exactly one probe
 * call is let through; its success closes the breaker, its failure opens it again for another
 * cool-down. A probe that never reports back counts as failed after a further cool-down, so the
 * breaker cannot stick half-open. Thread-safe; the clock is injected (nanoseconds).
 *
 * <p>Why not Resilience4j's breaker: a count-based window at a 100% failure rate would open it
 * the same way, but its half-open state either waits for the permitted probe forever or, with a
 * maximum wait, falls back to OPEN for a whole further wait, where this one lets a replacement
 * probe through at once (CircuitBreakerTest#aProbeThatNeverReportsDoesNotWedgeTheBreaker); and its
 * transition events carry no reason, where the SDK logs and reports why each replica's breaker
 * moved. An adapter keeping this API would be no shorter than the state machine.
 */
public final class CircuitBreaker {
    public enum State { CLOSED, OPEN, HALF_OPEN }

    /** Told of every state change, outside the breaker's lock. */
    public interface Listener {
        void onStateChange(int replica, State from, State to, String why);
    }

    private final int replica;
    private final int failureThreshold;
    private final long coolDownNanos;
    private final LongSupplier clock;
    private final Listener listener;
    private State state = State.CLOSED;
    private int consecutiveFailures;
    private long openedAtNanos;
    private long probeStartedNanos;
    private boolean probeInFlight;

    public CircuitBreaker(int replica, int failureThreshold, long coolDownNanos, LongSupplier clock, Listener listener) {
        if (failureThreshold < 1 || coolDownNanos <= 0) {
            throw new IllegalArgumentException("breaker: threshold >= 1 and cool-down > 0 required");
        }
        this.replica = replica;
        this.failureThreshold = failureThreshold;
        this.coolDownNanos = coolDownNanos;
        this.clock = clock;
        this.listener = listener;
    }

    /** Whether a call may go to this replica now. In HALF_OPEN, true once: the caller's call is the probe. */
    public boolean allowRequest() {
        Change change = null;
        boolean allowed;
        synchronized (this) {
            long now = clock.getAsLong();
            switch (state) {
                case CLOSED -> allowed = true;
                case OPEN -> {
                    if (now - openedAtNanos >= coolDownNanos) {
                        change = new Change(state, State.HALF_OPEN, "cool-down of " + coolDownNanos / 1_000_000 + " ms over; probing");
                        state = State.HALF_OPEN;
                        probeInFlight = true;
                        probeStartedNanos = now;
                        allowed = true;
                    } else {
                        allowed = false;
                    }
                }
                case HALF_OPEN -> {
                    if (probeInFlight && now - probeStartedNanos >= coolDownNanos) {
                        // The probe never reported: treat it as lost and let another through.
                        probeStartedNanos = now;
                        allowed = true;
                    } else if (!probeInFlight) {
                        probeInFlight = true;
                        probeStartedNanos = now;
                        allowed = true;
                    } else {
                        allowed = false;
                    }
                }
                default -> throw new AssertionError(state);
            }
        }
        tell(change);
        return allowed;
    }

    public void onSuccess() {
        Change change = null;
        synchronized (this) {
            consecutiveFailures = 0;
            if (state != State.CLOSED) {
                change = new Change(state, State.CLOSED, "call succeeded");
                state = State.CLOSED;
                probeInFlight = false;
            }
        }
        tell(change);
    }

    /** A failed call or a timeout; {@code why} goes into the state-change event. */
    public void onFailure(String why) {
        Change change = null;
        synchronized (this) {
            consecutiveFailures++;
            if (state == State.HALF_OPEN || (state == State.CLOSED && consecutiveFailures >= failureThreshold)) {
                change = new Change(state, State.OPEN, state == State.HALF_OPEN ? "probe failed: " + why
                        : consecutiveFailures + " consecutive failures, last: " + why);
                state = State.OPEN;
                openedAtNanos = clock.getAsLong();
                probeInFlight = false;
            }
        }
        tell(change);
    }

    public synchronized State state() {
        return state;
    }

    public int replica() {
        return replica;
    }

    private record Change(State from, State to, String why) {}

    private void tell(Change change) {
        if (change != null && listener != null) {
            listener.onStateChange(replica, change.from(), change.to(), change.why());
        }
    }
}
