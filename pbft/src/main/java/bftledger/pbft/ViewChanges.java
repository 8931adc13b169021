package bftledger.pbft;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;

/**
 * View-change state (4.4, 4.5.2): the VIEW-CHANGEs collected per view (none more than
 * {@link Config#viewChangeAheadMax()} views ahead), this replica's own, the NEW-VIEW of the
 * current view, the view-change and resend timers, and the count of failed view changes that
 * doubles the timeouts. It decides when to join, escalate or build a NEW-VIEW; {@link Replica}
 * moves the view and its log.
 */
final class ViewChanges {
    private final Config config;
    private final int self;
    private final TreeMap<Long, TreeMap<Integer, Signed<ViewChange>>> received = new TreeMap<>();
    private Signed<ViewChange> own;
    private Signed<NewView> currentNewView;
    private int timerTicks = -1;
    private int resendTicks = -1;
    private int failed;
    /** Whether a request executed since the last NEW-VIEW; until then the view change is not known to have worked. */
    private boolean executedSinceNewView = true;
    /** Why this replica last left a view, for operators (logs, status); never used in decisions. */
    private String cause = "";

    /** f+1 replicas other than this one asked for {@code view} or higher (see {@link #higherViewToJoin}). */
    record Join(long view, Set<Integer> askers) {}

    /** What a tick while changing view asks for. */
    enum Tick { NOTHING, TIMED_OUT, RESEND }

    ViewChanges(Config config) {
        this.config = config;
        this.self = config.replicaId();
    }

    /** This replica's VIEW-CHANGE for the view it changes to; null when it sent none. */
    Signed<ViewChange> own() {
        return own;
    }

    /** The NEW-VIEW that installed the current view; null before one, and while changing view. */
    Signed<NewView> currentNewView() {
        return currentNewView;
    }

    /** Consecutive failed view changes (see {@link Replica#failedViewChanges()}). */
    int failed() {
        return failed;
    }

    String cause() {
        return cause;
    }

    void cause(String why) {
        cause = why;
    }

    /** {@code baseTicks} doubled once per failed view change: for the view-change and request timers. */
    int backedOff(int baseTicks) {
        return baseTicks << failed;
    }

    /**
     * Leaving for {@code newView}: what was collected for lower views can never count again,
     * the NEW-VIEW timer waits for a quorum (see {@link #afterVote}), our VIEW-CHANGE is resent
     * until a quorum is in.
     */
    void start(long newView) {
        timerTicks = -1;
        resendTicks = config.viewChangeTimeoutTicks();
        currentNewView = null;
        received.headMap(newView, false).clear();
        own = null;
    }

    /** This replica's own VIEW-CHANGE, sent or read back from its records. */
    void recordOwn(Signed<ViewChange> vc) {
        own = vc;
        received.computeIfAbsent(vc.payload().newView(), k -> new TreeMap<>()).put(self, vc);
    }

    /** Keeps a peer's VIEW-CHANGE (within the view bounds, checked by the caller); false for a duplicate. */
    boolean record(Signed<ViewChange> m) {
        TreeMap<Integer, Signed<ViewChange>> forView = received.computeIfAbsent(m.payload().newView(), k -> new TreeMap<>());
        if (forView.containsKey(m.signer())) {
            return false;
        }
        forView.put(m.signer(), m);
        return true;
    }

    /**
     * 4.5.2 liveness rule: f+1 replicas asking for views above ours include a correct one, so
     * join the smallest such view instead of waiting for our own timer.
     */
    Optional<Join> higherViewToJoin(long view) {
        Set<Integer> askers = new HashSet<>();
        long smallest = Long.MAX_VALUE;
        for (Map.Entry<Long, TreeMap<Integer, Signed<ViewChange>>> e : received.tailMap(view, false).entrySet()) {
            for (Integer r : e.getValue().keySet()) {
                if (r != self) {
                    askers.add(r);
                    smallest = Math.min(smallest, e.getKey());
                }
            }
        }
        return askers.size() >= config.weakQuorum() ? Optional.of(new Join(smallest, askers)) : Optional.empty();
    }

    /**
     * After a VIEW-CHANGE counted while changing to {@code view}: starts the view-change timer
     * once a quorum of replicas left the old view, and returns V for the NEW-VIEW when this replica is
     * the new primary with a quorum including its own (empty otherwise).
     */
    List<Signed<ViewChange>> afterVote(long view, boolean primary) {
        if (timerTicks < 0 && leftViewCount(view) >= config.quorum()) {
            timerTicks = backedOff(config.viewChangeTimeoutTicks());
        }
        TreeMap<Integer, Signed<ViewChange>> forView = received.getOrDefault(view, new TreeMap<>());
        if (forView.size() >= config.quorum() && primary && forView.containsKey(self)) {
            return chooseForNewView(forView);
        }
        return List.of();
    }

    /**
     * Distinct replicas (us included) that sent VIEW-CHANGE for our view or a higher one. The
     * view-change timer (4.5.2) starts when this reaches a quorum q. The paper counts VIEW-CHANGEs
     * for our view only; with lossy links that alone can stall forever: a replica that had q for
     * v, timed out and moved to v+1 stops re-sending its VIEW-CHANGE for v, so replicas that lost
     * it hold q-1 for v and one for v+1: no quorum for v (no timer, no escalation) and fewer than
     * f+1 above v (no join). Counting every view at or above ours still needs a quorum to
     * have abandoned the previous view, so a lone replica (a slow request, a state transfer) never
     * escalates by itself and stays at most one view ahead, where the others find it when they
     * change view; we do not start it at our own VIEW-CHANGE for that reason. This is a liveness
     * trigger only: moving to a higher view is always safe, and the NEW-VIEW still needs a
     * quorum of VIEW-CHANGEs for its own view.
     */
    private int leftViewCount(long view) {
        Set<Integer> replicas = new HashSet<>();
        for (TreeMap<Integer, Signed<ViewChange>> forView : received.tailMap(view, true).values()) {
            replicas.addAll(forView.keySet());
        }
        return replicas.size();
    }

    /** V: our own VIEW-CHANGE and the lowest-numbered others, so the choice is deterministic. */
    private List<Signed<ViewChange>> chooseForNewView(TreeMap<Integer, Signed<ViewChange>> forView) {
        List<Signed<ViewChange>> chosen = new ArrayList<>();
        chosen.add(forView.get(self));
        for (Map.Entry<Integer, Signed<ViewChange>> e : forView.entrySet()) {
            if (chosen.size() >= config.quorum()) {
                break;
            }
            if (e.getKey() != self) {
                chosen.add(e.getValue());
            }
        }
        return chosen;
    }

    /** The NEW-VIEW computation (4.4) over V, for an epoch ending at {@code lastSequence}. */
    static NewViewPlan plan(List<Signed<ViewChange>> chosen, long lastSequence) {
        return NewViewPlan.compute(chosen.stream().map(Signed::payload).toList(), lastSequence);
    }

    /** The view {@code view} is installed by {@code nv}: timers off, and it must still prove itself by executing. */
    void enter(long view, Signed<NewView> nv) {
        received.headMap(view, true).clear();
        // 4.5.2: the timeout grows until a request executes in the new view, not merely until a
        // NEW-VIEW arrives; otherwise a network slower than the base timeout churns views forever
        // (ViewChangeLivenessTest#aSlowButFaultFreeNetworkStopsChurningViewsOnceTimeoutsExceedTheDelay).
        // Reset in executed().
        executedSinceNewView = false;
        timerTicks = -1;
        resendTicks = -1;
        currentNewView = nv;
    }

    /** A request executed in an active view: the last view change worked. */
    void executed() {
        executedSinceNewView = true;
        failed = 0;
    }

    /** The request timer expired: if nothing executed since the last NEW-VIEW, that view change failed too. */
    void requestTimedOut() {
        if (!executedSinceNewView) {
            failed = Math.min(failed + 1, config.timeoutDoublingsMax());
        }
    }

    /** No valid NEW-VIEW for {@code view} came in time: that view change failed. */
    void timedOut(long view) {
        cause = "no NEW-VIEW for view " + view + " in time";
        failed = Math.min(failed + 1, config.timeoutDoublingsMax());
    }

    /** One tick while changing view: the NEW-VIEW timer first, else our VIEW-CHANGE again when due. */
    Tick tick() {
        if (timerTicks > 0 && --timerTicks == 0) {
            timerTicks = -1;
            return Tick.TIMED_OUT;
        }
        if (own == null) {
            return Tick.NOTHING;
        }
        if (resendTicks > 0 && --resendTicks == 0) {
            // Our VIEW-CHANGE may have been lost; say it again until a quorum is in.
            resendTicks = config.viewChangeTimeoutTicks();
            return Tick.RESEND;
        }
        return Tick.NOTHING;
    }

    // ------------------------------------------------------------------ restart

    /** A restored replica still changing view resends its VIEW-CHANGE at the first tick. */
    void resendAtNextTick() {
        resendTicks = 1;
    }

    void restoreNewView(Signed<NewView> nv) {
        currentNewView = nv;
    }

    void checkInvariants(long view) {
        Invariants.require(received.isEmpty() || received.lastKey() <= view + config.viewChangeAheadMax(),
                "view changes kept too far ahead");
    }
}
