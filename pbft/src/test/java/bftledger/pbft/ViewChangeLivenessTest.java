package bftledger.pbft;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * TOCS 2002 section 4.5.2 (liveness) under message loss: a view change that lost one
 * VIEW-CHANGE must still complete or escalate, and replicas left in different views must find
 * each other again once the network heals. Regression tests for the simulator's bug family 2
 * (seeds 484, 1244, 3913, 4788, 5374, 8477, 8011 of helper/sim).
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
     * Seed 5374's shape: primary 0 silent; replica 3's VIEW-CHANGE for view 1 never reaches 1
     * and 2. Replica 3 holds 2f+1 for view 1, times out and moves to view 2; 1 and 2 hold only
     * two VIEW-CHANGEs for view 1 and one replica asking for view 2. Before the fix nothing ever
     * moved again.
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

    /** PBFT_REVIEW F3: a replica partitioned while the others churned through more than viewChangeAheadMax views rejoins. */
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
