package bftledger.pbft;

import bftledger.crypto.Digest;
import java.util.Set;

/**
 * A backup's request timer (4.4), counted in ticks: the request it runs for, the primary-silence
 * rule fed by the node's failure detector, and the bounded hold while this replica catches up.
 * {@link Replica} decides what else an expiry means (requests executed elsewhere, lag, no quorum).
 */
final class RequestTimer {
    /** See {@link #holdForCatchUp}: at most this many extra timeouts while catching up. */
    static final int CATCH_UP_HOLDS_MAX = 4;

    /** What a tick of the running timer found; either way but {@code NONE} the timer is stopped. */
    enum Expiry { NONE, PRIMARY_SILENT, EXPIRED }

    private final Config config;
    /** Ticks until expiry; -1 when stopped. */
    private int ticksLeft = -1;
    /**
     * The pending request the timer runs for (4.4: the timer belongs to one request); null while
     * it runs for the epoch's end alone (see {@link #watchEpochEnd}).
     */
    private Digest timedRequest;
    /** lastExecuted when the timer was last armed or held. */
    private long executedAtStart;
    /** Times the timer was held for {@link #timedRequest} because this replica was catching up. */
    private int catchUpHolds;
    /** The node's failure detector at the latest tick: q-1 others heard recently (see {@link Event.Tick}). */
    private boolean quorumHeard = true;
    /** The detector at the latest tick: replicas not heard recently (see {@link Event.Tick}). */
    private Set<Integer> silentReplicas = Set.of();
    /** Consecutive ticks with the timer running, a quorum heard and the primary silent. */
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

    /**
     * Runs the timer for the epoch's end when no request is pending: the primary must order up
     * to the end even with nothing to order, or the next epoch never starts. Every execution
     * restarts it: a primary moving toward the end is not suspected, and since the end is a
     * fixed number of sequences away that cannot delay it for ever
     * (EpochTest#aSilentPrimaryWithNoRequestsWaitingIsStillReplacedBeforeTheEnd).
     */
    void watchEpochEnd(int timeoutTicks, long lastExecuted) {
        if (ticksLeft < 0 || timedRequest != null || lastExecuted > executedAtStart) {
            timedRequest = null;
            catchUpHolds = 0;
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

    /** Counts this tick toward primary silence: the timer runs, a quorum is heard, the primary is not. */
    void countPrimarySilence(boolean viewActive, int primary) {
        boolean primarySilent = viewActive && running() && quorumHeard && silentReplicas.contains(primary);
        primarySilentTicks = primarySilent ? primarySilentTicks + 1 : 0;
    }

    /**
     * Counts one tick while the view is active: {@code PRIMARY_SILENT} when the primary was silent
     * for {@link Config#primarySilenceTicks()} ticks with requests waiting (its silence says so
     * sooner than the timeout would), {@code EXPIRED} when the timeout ran out.
     */
    Expiry tick(int failedViewChanges, boolean lagging) {
        if (running() && primarySilenceSuspected(failedViewChanges, lagging)) {
            ticksLeft = -1;
            primarySilentTicks = 0;
            return Expiry.PRIMARY_SILENT;
        }
        if (ticksLeft > 0 && --ticksLeft == 0) {
            ticksLeft = -1;
            return Expiry.EXPIRED;
        }
        return Expiry.NONE;
    }

    /** See {@link Config#primarySilenceTicks()}: off after a failed view change, and while this replica lags. */
    private boolean primarySilenceSuspected(int failedViewChanges, boolean lagging) {
        return config.primarySilenceTicks() > 0 && primarySilentTicks >= config.primarySilenceTicks()
                && failedViewChanges == 0 && !lagging;
    }

    /**
     * Whether an expired timer waits once more because this replica is catching up (then it
     * counts the hold): it executed something since the timer started (it is moving), f+1 other
     * replicas signed checkpoints above its last executed sequence (so at least one correct
     * replica is ahead: the primary is not stalling everyone), and it has held this request's
     * timer fewer than {@link #CATCH_UP_HOLDS_MAX} times. Bounded, because a replica holding its
     * timer without limit can withhold the vote a view change needs (RandomizedScheduleTest);
     * needed, because a replica far behind after a partition would otherwise time out mid
     * catch-up and leave the view alone (LaggingReplicaTimerTest).
     *
     * @param othersAhead other replicas whose highest checkpoint vote is above {@code lastExecuted}
     */
    boolean holdForCatchUp(long lastExecuted, int othersAhead) {
        if (catchUpHolds >= CATCH_UP_HOLDS_MAX || lastExecuted <= executedAtStart || othersAhead < config.weakQuorum()) {
            return false;
        }
        catchUpHolds++;
        return true;
    }
}
