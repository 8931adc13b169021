package bftledger.pbft;

import bftledger.crypto.Digest;
import java.util.Set;

/**
 * A backup's request timer (4.4), counted in ticks: the request it runs for, how often it was
 * held because this replica was catching up, and what the node's failure detector said at the
 * latest tick (for the primary-silence rule). It keeps time; {@link Replica} decides what an
 * expiry means.
 */
final class RequestTimer {
    /** See {@link Replica}'s catching-up rule: at most this many extra timeouts while catching up. */
    static final int CATCH_UP_HOLDS_MAX = 4;

    private final Config config;
    /** Ticks until expiry; -1 when stopped. */
    private int ticksLeft = -1;
    /** The pending request the timer runs for (4.4: the timer belongs to one request). */
    private Digest timedRequest;
    /** lastExecuted when the timer was last armed or held. */
    private long executedAtStart;
    /** Times the timer was held for {@link #timedRequest} because this replica was catching up. */
    private int catchUpHolds;
    /** The node's failure detector at the latest tick: 2f others heard recently (see {@link Event.Tick}). */
    private boolean quorumHeard = true;
    /** The detector at the latest tick: replicas not heard recently (see {@link Event.Tick}). */
    private Set<Integer> silentReplicas = Set.of();
    /** Consecutive ticks with the timer running, 2f others heard and the primary silent. */
    private int primarySilentTicks;

    RequestTimer(Config config) {
        this.config = config;
    }

    boolean running() {
        return ticksLeft > 0;
    }

    Digest timedRequest() {
        return timedRequest;
    }

    boolean quorumHeard() {
        return quorumHeard;
    }

    /** Takes the failure detector's view at this tick; true when this replica hears a quorum again. */
    boolean detected(Event.Tick t) {
        boolean healed = !quorumHeard && t.quorumHeard();
        quorumHeard = t.quorumHeard();
        silentReplicas = t.silentReplicas();
        return healed;
    }

    /**
     * Runs the timer for the oldest of {@code pending} (in arrival order) unless it already runs
     * for one of them; a new request starts with no catch-up holds.
     */
    void watch(Set<Digest> pending, int timeoutTicks, long lastExecuted) {
        if (ticksLeft < 0 || timedRequest == null || !pending.contains(timedRequest)) {
            Digest oldest = pending.iterator().next();
            if (!oldest.equals(timedRequest)) {
                catchUpHolds = 0;
            }
            timedRequest = oldest;
            arm(timeoutTicks, lastExecuted);
        }
    }

    /** Nothing to wait for. */
    void clear() {
        ticksLeft = -1;
        timedRequest = null;
    }

    /** Stops the timer; it remembers its request, so re-arming for the same one keeps its holds. */
    void stop() {
        ticksLeft = -1;
    }

    /** A full timeout from now for {@link #timedRequest}, and progress counted from here. */
    void arm(int timeoutTicks, long lastExecuted) {
        ticksLeft = timeoutTicks;
        executedAtStart = lastExecuted;
    }

    /** Counts this tick toward primary silence: the timer runs, 2f others are heard, the primary is not. */
    void countPrimarySilence(boolean viewActive, int primary) {
        boolean primarySilent = viewActive && running() && quorumHeard && silentReplicas.contains(primary);
        primarySilentTicks = primarySilent ? primarySilentTicks + 1 : 0;
    }

    /** See {@link Config#primarySilenceTicks()}. */
    boolean primarySilentTooLong() {
        return config.primarySilenceTicks() > 0 && primarySilentTicks >= config.primarySilenceTicks();
    }

    /** Stops the timer for a silent primary; the silence counts from zero again. */
    void stopForSilentPrimary() {
        ticksLeft = -1;
        primarySilentTicks = 0;
    }

    /** Counts one tick down; true when the timer runs out now (it is then stopped). */
    boolean expires() {
        if (ticksLeft > 0 && --ticksLeft == 0) {
            ticksLeft = -1;
            return true;
        }
        return false;
    }

    /** Whether a hold for catching up is still allowed: this replica executed since the start, holds left. */
    boolean mayHoldForCatchUp(long lastExecuted) {
        return catchUpHolds < CATCH_UP_HOLDS_MAX && lastExecuted > executedAtStart;
    }

    void holdForCatchUp() {
        catchUpHolds++;
    }
}
