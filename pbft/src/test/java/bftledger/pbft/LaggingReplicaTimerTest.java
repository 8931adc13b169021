package bftledger.pbft;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * A backup behind the stable checkpoint (waiting for state it did not execute) cannot tell a
 * stalled primary from its own lag: its requests do not execute because it lags. Its request
 * timer must not make it leave the view alone: a restarted node still fetching blocks would
 * sit in a lone VIEW-CHANGE and be missing from the quorum when it is next needed. The same for a replica its node says hears fewer than 2f others (cut off, or just
 * resumed from a pause). It still follows the others when they do suspect the primary (4.5.2 f+1
 * rule).
 */
class LaggingReplicaTimerTest {
    static final int TIMEOUT = 30;
    static final int PERIOD = 3;

    /** Four replicas, one request per batch, checkpoints every 2 sequences in a window of 4. */
    private static Cluster smallWindowCluster() {
        return new Cluster(1, cfg -> cfg.withTimeouts(TIMEOUT, TIMEOUT, 3).withStatusTicks(PERIOD)
                .withCheckpoints(2, 4).withBatching(1, 1 << 20, 1 << 16, 4));
    }

    /** Replica 3 sees requests and checkpoints but not the ordering, and its state transfer never finishes. */
    private static Cluster laggingReplica3() {
        Cluster c = smallWindowCluster();
        c.autoTransfer = false;
        c.dropIf = e -> e.to() == 3 && (e.wire()[0] == MessageType.PRE_PREPARE.code()
                || e.wire()[0] == MessageType.PREPARE.code() || e.wire()[0] == MessageType.COMMIT.code());
        return c;
    }

    private static List<Request> submit(Cluster c, String prefix, int count) {
        List<Request> requests = new ArrayList<>();
        for (int k = 0; k < count; k++) {
            Request r = TestRequests.signed(prefix + k);
            requests.add(r);
            c.submit(r);
            c.deliverAll();
        }
        return requests;
    }

    @Test
    void aReplicaWaitingForStateDoesNotSuspectThePrimaryOnItsOwn() {
        Cluster c = laggingReplica3();
        submit(c, "lag", 6);
        Replica r3 = c.replica(3);
        assertTrue(r3.lastExecuted() < r3.lowWatermark(), "replica 3 is behind its stable checkpoint: executed "
                + r3.lastExecuted() + ", h " + r3.lowWatermark());
        assertTrue(r3.pendingRequests() > 0, "replica 3 still waits for requests");
        c.tick(4 * TIMEOUT);
        assertEquals(0, c.sentCount(3, MessageType.VIEW_CHANGE), "no lone view change while waiting for state");
        assertEquals(0, r3.view());
        assertTrue(r3.viewActive());
        for (int i = 0; i < 3; i++) {
            assertEquals(0, c.sentCount(i, MessageType.VIEW_CHANGE), "replica " + i + " had nothing to suspect");
        }
        c.assertAgreement();
    }

    /** Ticks every live replica; replica 3's ticks carry {@code quorumHeard3}, as its node's failure detector says. */
    private static void tick(Cluster c, int rounds, boolean quorumHeard3) {
        for (int k = 0; k < rounds; k++) {
            c.now += 10;
            for (int i = 0; i < c.n; i++) {
                c.step(i, i == 3 ? new Event.Tick(c.now, quorumHeard3) : new Event.Tick(c.now));
            }
            c.deliverAll();
        }
    }

    @Test
    void aReplicaCutOffFromTheOthersDoesNotLeaveTheViewAloneAndRejoinsWhenHealed() {
        Cluster c = smallWindowCluster();
        c.isolate(3);
        List<Request> requests = submit(c, "cut", 3);
        tick(c, 4 * TIMEOUT, false);
        assertEquals(0, c.sentCount(3, MessageType.VIEW_CHANGE), "cut off: no VIEW-CHANGE that could gather no quorum");
        assertTrue(c.replica(3).viewActive() && c.replica(3).view() == 0);
        assertEquals(3, c.apps.get(0).height, "the others went on without it");
        c.heal();
        tick(c, 4 * TIMEOUT, true);
        for (int i = 0; i < 4; i++) {
            assertEquals(0, c.replica(i).view(), "replica " + i + " still in view 0");
            assertEquals(0, c.sentCount(i, MessageType.VIEW_CHANGE), "replica " + i + " had nothing to suspect");
        }
        for (Request r : requests) {
            assertTrue(c.apps.get(3).executedIds.contains(r.id()), "replica 3 caught up with the view it never left");
        }
        c.assertAgreement();
    }

    @Test
    void aReplicaHealedJustBeforeItsTimerExpiresGetsAFullTimeoutToCatchUp() {
        Cluster c = smallWindowCluster();
        c.isolate(3);
        List<Request> requests = submit(c, "cut", 3);
        // The timer expires while cut off (held), and the re-armed one is two ticks from expiring at the heal.
        tick(c, 2 * TIMEOUT - 2, false);
        assertEquals(0, c.sentCount(3, MessageType.VIEW_CHANGE));
        c.heal();
        tick(c, 4 * TIMEOUT, true);
        assertEquals(0, c.sentCount(3, MessageType.VIEW_CHANGE), "healed: caught up instead of leaving the view alone");
        for (Request r : requests) {
            assertTrue(c.apps.get(3).executedIds.contains(r.id()), "replica 3 caught up");
        }
        c.assertAgreement();
    }

    @Test
    void withAQuorumHeardACutOffReplicaStillSuspectsAsBefore() {
        Cluster c = smallWindowCluster();
        c.isolate(3);
        submit(c, "cut", 1);
        tick(c, 2 * TIMEOUT, true);
        assertTrue(c.sentCount(3, MessageType.VIEW_CHANGE) > 0, "a caller without a detector keeps the original rule");
    }

    @Test
    void itStillFollowsTheOthersAwayFromAFaultyPrimary() {
        Cluster c = laggingReplica3();
        submit(c, "lag", 6);
        assertTrue(c.replica(3).lastExecuted() < c.replica(3).lowWatermark());
        // Replica 3 hears everything again but still has no state; the primary dies with a request pending.
        c.dropIf = e -> false;
        c.crash(0);
        Request r = TestRequests.signed("after-primary-crash");
        c.submit(r);
        c.deliverAll();
        c.tick(2 * TIMEOUT);
        assertTrue(c.sentCount(3, MessageType.VIEW_CHANGE) > 0, "replica 3 joined the view change before it had state");
        // Its vote on the new view's batch counts once it executed what that batch names (AnchorTest):
        // its state transfer finishes, as a node's catch-up does.
        c.autoTransfer = true;
        List<Output.StateTransferRequest> asked = c.transfers.get(3);
        c.transfer(3, asked.get(asked.size() - 1));
        c.tick(4 * TIMEOUT);
        for (int i = 1; i < 4; i++) {
            assertTrue(c.replica(i).view() >= 1 && c.replica(i).viewActive(),
                    "replica " + i + " in view " + c.replica(i).view() + ", active " + c.replica(i).viewActive());
        }
        assertTrue(c.sentCount(3, MessageType.VIEW_CHANGE) > 0, "replica 3 joined the view change of the others");
        assertTrue(c.apps.get(1).executedIds.contains(r.id()) && c.apps.get(2).executedIds.contains(r.id()),
                "the new view orders the pending request with replica 3's votes");
        c.assertAgreement();
    }

    /**
     * A replica whose node appended fetched blocks (catch-up beyond what the core ordered) waits
     * for requests those blocks already executed: at its timer it finds them in the ledger and
     * does not suspect the primary.
     */
    @Test
    void requestsTheLedgerAlreadyHoldsDoNotMakeAReplicaSuspectThePrimary() {
        Cluster c = new Cluster(1, cfg -> cfg.withTimeouts(TIMEOUT, TIMEOUT, 3).withStatusTicks(1_000)
                .withBatching(1, 1 << 20, 1 << 16, 4));
        c.dropIf = e -> e.to() == 3;
        Request r = TestRequests.signed("fetched");
        c.submit(r);
        c.deliverAll();
        assertEquals(1, c.apps.get(0).height);
        // Replica 3 heard only the client; its node then appended the block with r, fetched from a peer.
        c.step(3, new Event.ClientRequest(r));
        assertEquals(1, c.replica(3).pendingRequests());
        c.apps.get(3).executedIds.add(r.id());
        for (int k = 0; k < 2 * TIMEOUT; k++) {
            c.step(3, new Event.Tick(c.now + 10L * (k + 1)));
        }
        assertEquals(0, c.sentCount(3, MessageType.VIEW_CHANGE), "the request it waited for is in its ledger");
        assertEquals(0, c.replica(3).pendingRequests());
        assertTrue(c.replica(3).viewActive());
    }

    /**
     * Replica 3 is far behind (it missed the ordering of {@code behind} sequences and hears no
     * checkpoint from replica 2, so nothing becomes stable there and no state transfer starts),
     * while it already holds a client request the others ordered after those. Its ordering messages
     * are held back and handed over one sequence every {@code ticksPerSequence} ticks: it moves,
     * slowly, as a replica fetching what it missed does.
     */
    private static final class CatchingUp {
        final Cluster c = new Cluster(1, cfg -> cfg.withTimeouts(TIMEOUT, TIMEOUT, 3).withStatusTicks(100_000)
                .withCheckpoints(2, 64).withBatching(1, 1 << 20, 1 << 16, 4));
        final List<Cluster.Envelope> held = new ArrayList<>();
        final Request timed = TestRequests.signed("timed");

        CatchingUp(int behind) {
            c.dropIf = e -> {
                if (e.to() != 3) {
                    return false;
                }
                byte type = e.wire()[0];
                if (type == MessageType.PRE_PREPARE.code() || type == MessageType.PREPARE.code()
                        || type == MessageType.COMMIT.code()) {
                    held.add(e);
                    return true;
                }
                return type == MessageType.CHECKPOINT.code() && e.from() == 2;
            };
            for (int k = 0; k < behind; k++) {
                Request r = TestRequests.signed("missed" + k);
                for (int i = 0; i < 3; i++) {
                    c.request(i, r);
                }
                c.deliverAll();
            }
            c.submit(timed);
            c.deliverAll();
            assertEquals(behind + 1, c.apps.get(0).height);
            assertEquals(0, c.apps.get(3).height);
            assertEquals(1, c.replica(3).pendingRequests());
        }

        /** Ticks everyone, handing replica 3 the next held sequence every {@code ticksPerSequence} ticks. */
        void run(int rounds, int ticksPerSequence) {
            long nextSequence = 1;
            for (int k = 1; k <= rounds; k++) {
                c.tick(1);
                if (k % ticksPerSequence == 0) {
                    long s = nextSequence++;
                    List<Cluster.Envelope> now = new ArrayList<>();
                    held.removeIf(e -> sequenceOf(e) == s && now.add(e));
                    now.forEach(c::deliver);
                    c.deliverAll();
                }
            }
        }

        private long sequenceOf(Cluster.Envelope e) {
            Object p = c.verifier.verify(e.wire()).value().payload();
            if (p instanceof PrePrepare pp) {
                return pp.sequence();
            }
            return p instanceof Prepare pr ? pr.sequence() : ((Commit) p).sequence();
        }
    }

    @Test
    void aReplicaCatchingUpBehindOthersCheckpointsHoldsItsTimerAndExecutesTheRequest() {
        CatchingUp s = new CatchingUp(7);
        // Eight sequences, one every third of a timeout: the request executes after two holds.
        s.run(8 * TIMEOUT / 3 + 1, TIMEOUT / 3);
        assertEquals(8, s.c.apps.get(3).height);
        assertTrue(s.c.apps.get(3).executedIds.contains(s.timed.id()));
        assertEquals(0, s.c.sentCount(3, MessageType.VIEW_CHANGE), "no lone view change while catching up");
        assertTrue(s.c.replica(3).viewActive() && s.c.replica(3).view() == 0);
        s.c.assertAgreement();
    }

    @Test
    void holdingTheTimerWhileCatchingUpIsBounded() {
        // Forty sequences at one per half timeout would take twenty timeouts: the hold gives up
        // after CATCH_UP_HOLDS_MAX of them, so lag cannot delay suspicion for longer than that.
        CatchingUp s = new CatchingUp(40);
        s.run((RequestTimer.CATCH_UP_HOLDS_MAX + 1) * TIMEOUT - 1, TIMEOUT / 2);
        assertEquals(0, s.c.sentCount(3, MessageType.VIEW_CHANGE), "held while moving");
        s.run(2, TIMEOUT / 2);
        assertEquals(1, s.c.sentCount(3, MessageType.VIEW_CHANGE), "suspects the primary once the holds are spent");
    }

    @Test
    void aReplicaBehindButNotMovingDoesNotHold() {
        CatchingUp s = new CatchingUp(7);
        s.run(TIMEOUT + 1, Integer.MAX_VALUE);
        assertEquals(1, s.c.sentCount(3, MessageType.VIEW_CHANGE), "no progress: the timer is not held");
    }
}
