package bftledger.pbft;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * TOCS 2002 section 4.5.2 (liveness) under message loss: a view change that lost one
 * VIEW-CHANGE must still complete or escalate, and replicas left in different views must find
 * each other again once the network heals.
 */
class ViewChangeLivenessTest {
    static final int TIMEOUT = 5;
    static final int PERIOD = 3;

    private static Cluster cluster() {
        return new Cluster(1, cfg -> cfg.withTimeouts(TIMEOUT, TIMEOUT, 4).withStatusTicks(PERIOD)
                .withCheckpoints(4, 8).withBatching(1, 1 << 20, 1 << 16, 8));
    }

    private static boolean viewChangeTo(Cluster c, Cluster.Envelope e, long view) {
        return e.wire()[0] == MessageType.VIEW_CHANGE.code()
                && ViewChangeTest.decode(c, e.wire()).payload() instanceof ViewChange vc && vc.newView() == view;
    }

    /**
     * Primary 0 silent; replica 3's VIEW-CHANGE for view 1 never reaches 1 and 2. Replica 3 holds
     * 2f+1 for view 1, times out and moves to view 2; 1 and 2 hold only two VIEW-CHANGEs for view 1
     * and one replica asking for view 2. They must still reach one active view and execute.
     */
    @Test
    void aViewChangeThatLostOneViewChangeEscalatesAndCompletes() {
        Cluster c = cluster();
        c.crash(0);
        c.dropIf = e -> e.from() == 3 && e.to() != 0 && viewChangeTo(c, e, 1);
        Request r = TestRequests.signed("lost view change");
        c.submit(r);
        c.deliverAll();
        c.tick(TIMEOUT + TIMEOUT + 2);
        assertEquals(2, c.replica(3).view(), "replica 3 had 2f+1 for view 1 and moved on");
        assertFalse(c.replica(1).viewActive() && c.replica(1).view() == 1, "view 1 never completed");
        c.tick(12 * TIMEOUT);
        for (int i = 1; i < c.n; i++) {
            assertTrue(c.replica(i).viewActive(), "replica " + i + " in view " + c.replica(i).view());
            assertEquals(c.replica(1).view(), c.replica(i).view(), "replica " + i);
            assertEquals(List.of(r.id()), c.executedIds(i), "replica " + i);
        }
        c.assertAgreement();
    }

    /** A replica changing view answers a VIEW-CHANGE for a lower view with its own, so the laggard learns where the others went. */
    @Test
    void aReplicaAheadAnswersALowerViewChangeWithItsOwn() {
        Cluster c = cluster();
        c.crash(0);
        c.submit(TestRequests.signed("ahead"));
        c.deliverAll();
        Replica r3 = c.replica(3);
        for (int t = 0; t < TIMEOUT; t++) {
            c.step(3, new Event.Tick(t));
        }
        c.step(3, new Event.PeerMessage(c.factory(2).viewChange(2, 0, c.base.genesisDigest(), List.of(), List.of())));
        c.step(3, new Event.PeerMessage(c.factory(1).viewChange(2, 0, c.base.genesisDigest(), List.of(), List.of())));
        assertEquals(2, r3.view());
        assertFalse(r3.viewActive());
        c.queue.clear();
        c.step(3, new Event.PeerMessage(c.factory(1).viewChange(1, 0, c.base.genesisDigest(), List.of(), List.of())));
        List<Cluster.Envelope> answers = c.queue.stream().filter(e -> e.to() == 1).toList();
        assertEquals(1, answers.size(), "one answer to the laggard");
        ViewChange answer = ViewChangeTest.decode(c, answers.get(0).wire()).as(ViewChange.class).payload();
        assertEquals(3, answer.replica());
        assertEquals(2, answer.newView());
    }

    /**
     * A replica partitioned while the others churned through more than viewChangeAheadMax views
     * rejoins: a NEW-VIEW is self-certifying (2f+1 signed VIEW-CHANGEs), so it is accepted however
     * far ahead it is.
     */
    @Test
    void aReplicaManyViewsBehindRejoinsThroughARelayedNewView() {
        Cluster c = new Cluster(1, cfg -> cfg.withTimeouts(4, 4, 0).withStatusTicks(PERIOD));
        c.isolate(3);
        c.dropIf = e -> e.wire()[0] == MessageType.PRE_PREPARE.code();
        c.submit(TestRequests.signed("churn"));
        c.deliverAll();
        for (int t = 0; t < 200 && c.replica(0).view() < 7; t++) {
            c.tick(1);
        }
        long othersView = c.replica(0).view();
        assertTrue(othersView > 1 + c.base.viewChangeAheadMax(), "others reached view " + othersView);
        assertTrue(c.replica(3).view() <= 1);
        c.heal();
        c.tick(200);
        long v = c.replica(0).view();
        assertTrue(c.replica(0).viewActive() && c.apps.get(0).height >= 1, "the others made progress");
        assertEquals(v, c.replica(3).view(), "replica 3 joined the others' view");
        assertTrue(c.replica(3).viewActive());
        assertEquals(1, c.apps.get(3).height);
        c.assertAgreement();
    }

    /**
     * Paper 4.5.2: every message takes 3 ticks, the request timeout is 4 (a commit round takes
     * about 9). Timeouts must keep doubling across NEW-VIEWs until a request executes, so the
     * views stop churning and every replica executes, none stranded alone in a higher view.
     */
    @Test
    void aSlowButFaultFreeNetworkStopsChurningViewsOnceTimeoutsExceedTheDelay() {
        record Delayed(long due, Cluster.Envelope e) {}
        int delay = 3;
        Cluster c = new Cluster(1, cfg -> cfg.withTimeouts(4, 4, 6).withStatusTicks(1000));
        List<Delayed> inFlight = new ArrayList<>();
        long[] round = {0};
        c.tamper = e -> {
            inFlight.add(new Delayed(round[0] + delay, e));
            return List.of();
        };
        Request r = TestRequests.signed("slow");
        c.submit(r);
        for (round[0] = 1; round[0] <= 600; round[0]++) {
            c.now += 10;
            for (int i = 0; i < c.n; i++) {
                c.step(i, new Event.Tick(c.now));
            }
            List<Delayed> due = new ArrayList<>();
            inFlight.removeIf(d -> d.due() <= round[0] && due.add(d));
            due.forEach(d -> c.queue.add(d.e()));
            c.deliverAll();
        }
        for (int i = 0; i < c.n; i++) {
            assertEquals(List.of(r.id()), c.executedIds(i), "replica " + i + " in view " + c.replica(i).view()
                    + " active " + c.replica(i).viewActive());
            assertEquals(0, c.replica(i).failedViewChanges(), "reset once a request executed");
        }
        c.assertAgreement();
    }

    /** A lone replica whose timer fired (no one else suspects the primary) does not run off through views by itself. */
    @Test
    void aLoneViewChangeDoesNotEscalate() {
        Cluster c = cluster();
        Request r = TestRequests.signed("only at 3");
        c.request(3, r);
        c.dropIf = e -> e.from() == 3 && e.wire()[0] != MessageType.STATUS.code();
        c.tick(20 * TIMEOUT);
        assertEquals(1, c.replica(3).view(), "stays at view 1: no 2f+1 replicas left view 0");
        assertEquals(0, c.replica(3).failedViewChanges());
    }
}
