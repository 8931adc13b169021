package bftledger.pbft;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import bftledger.crypto.Digest;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** Paper section 4.4: view changes, NEW-VIEW and the O set, timers. */
class ViewChangeTest {
    static final int TIMEOUT = 5;

    private static Cluster cluster(int f) {
        return new Cluster(f, cfg -> cfg.withTimeouts(TIMEOUT, TIMEOUT, 4)
                .withCheckpoints(4, 8).withBatching(1, 1 << 20, 1 << 16, 8));
    }

    @ParameterizedTest
    @ValueSource(ints = {1, 2, 3, 4})
    void aCrashedPrimaryIsReplacedAndTheRequestExecutes(int f) {
        Cluster c = cluster(f);
        c.crash(0);
        Request r = TestRequests.signed("vc" + f);
        c.submit(r);
        c.deliverAll();
        c.tick(TIMEOUT + 2);
        for (int i = 1; i < c.n; i++) {
            assertEquals(1, c.replica(i).view(), "replica " + i);
            assertTrue(c.replica(i).viewActive());
            assertEquals(List.of(r.id()), c.executedIds(i), "replica " + i);
            assertTrue(c.sentCount(i, MessageType.VIEW_CHANGE) >= 1);
            assertEquals(1, c.apps.get(i).executed.get(0).view());
            c.assertCertificates(i);
        }
        assertEquals(1, c.sent.get(1).stream().filter(m -> m.type() == MessageType.NEW_VIEW).distinct().count(),
                "one NEW-VIEW (resent as is to replicas whose VIEW-CHANGE arrived late)");
        c.assertAgreement();
    }

    @Test
    void aPreparedBatchKeepsItsSequenceAcrossTheViewChange() {
        Cluster c = cluster(1);
        c.dropIf = e -> e.wire()[0] == MessageType.COMMIT.code();
        Request r = TestRequests.signed("prepared");
        c.submit(r);
        c.deliverAll();
        Digest original = c.sent.get(0).get(0).as(PrePrepare.class).payload().digest();
        assertEquals(0, c.apps.get(1).height, "no commits got through");
        c.heal();
        c.crash(0);
        c.tick(TIMEOUT + 2);
        for (int i = 1; i < c.n; i++) {
            Output.CommittedBatch b = c.apps.get(i).executed.get(0);
            assertEquals(1, b.sequence());
            assertEquals(original, b.digest(), "the new primary re-proposed the prepared batch, replica " + i);
            assertEquals(1, b.view());
            assertEquals(1, c.apps.get(i).executed.size(), "and the request only once");
        }
    }

    @Test
    void gapsInTheOSetAreFilledWithNullBatches() {
        Cluster c = cluster(1);
        Request a = TestRequests.signed("a");
        Request b = TestRequests.signed("b");
        // Sequence 1 never gets past the primary; sequence 2 prepares but does not commit.
        c.dropIf = e -> {
            byte type = e.wire()[0];
            if (type == MessageType.COMMIT.code()) {
                return true;
            }
            Signed<?> m = decode(c, e.wire());
            return m.payload() instanceof PrePrepare pp && pp.sequence() == 1;
        };
        c.request(0, a);
        c.request(0, b);
        c.deliverAll();
        c.heal();
        for (int i = 1; i < c.n; i++) {
            c.request(i, a);
            c.request(i, b);
        }
        c.crash(0);
        c.tick(3 * TIMEOUT);
        for (int i = 1; i < c.n; i++) {
            List<Output.CommittedBatch> ex = c.apps.get(i).executed;
            assertTrue(ex.size() >= 3, "replica " + i + " executed " + ex.size());
            assertTrue(ex.get(0).requests().isEmpty(), "sequence 1 is the null batch");
            assertEquals(Batch.NULL.digest(), ex.get(0).digest());
            assertEquals(List.of(b), ex.get(1).requests(), "sequence 2 kept its prepared batch");
            assertEquals(List.of(a), ex.get(2).requests(), "the lost request is proposed again");
        }
        c.assertAgreement();
    }

    @Test
    void aNewViewWhoseOSetDoesNotMatchVIsRejected() {
        Cluster c = cluster(1);
        c.crash(0);
        c.crash(1);
        c.submit(TestRequests.signed("x"));
        c.tick(TIMEOUT + 1);
        // Replicas 2 and 3 sent VIEW-CHANGE(1); add the new primary's own, then forge O.
        List<Signed<ViewChange>> v = new ArrayList<>();
        MessageFactory p1 = c.factory(1);
        v.add(p1.viewChange(1, 0, Digest.ZERO, List.of(), List.of()));
        for (int i = 2; i < 4; i++) {
            for (Signed<?> m : c.sent.get(i)) {
                if (m.payload() instanceof ViewChange vc && vc.newView() == 1) {
                    v.add(m.as(ViewChange.class));
                }
            }
        }
        Signed<PrePrepare> forged = p1.prePrepare(1, 1, new Batch(5, List.of(TestRequests.signed("forged"))));
        Signed<NewView> bad = p1.newView(1, v, List.of(forged));
        Verdict<Signed<?>> verdict = c.verifier.verify(bad.wire());
        assertEquals(RejectReason.NEW_VIEW_MISMATCH, ((Verdict.Rejected<Signed<?>>) verdict).reason());
        c.step(2, new Event.PeerMessage(bad));
        assertEquals(RejectReason.NEW_VIEW_MISMATCH, last(c.rejections.get(2)).reason());
        assertFalse(c.replica(2).viewActive());

        Signed<NewView> good = p1.newView(1, v, List.of());
        assertTrue(c.verifier.verify(good.wire()).accepted());
        c.step(2, new Event.PeerMessage(good));
        assertTrue(c.replica(2).viewActive());
        assertEquals(1, c.replica(2).view());
    }

    @Test
    void timeoutsDoubleOnConsecutiveFailedViewChanges() {
        Cluster c = cluster(3);
        // Primary 0 censors (its PRE-PREPAREs vanish); the primaries of views 1 and 2 are cut off.
        c.dropIf = e -> e.from() == 0 && e.wire()[0] == MessageType.PRE_PREPARE.code();
        c.isolate(1);
        c.isolate(2);
        c.submit(TestRequests.signed("doubling"));
        c.deliverAll();
        List<Long> viewAtTick = new ArrayList<>();
        for (int t = 0; t < 40; t++) {
            c.tick(1);
            viewAtTick.add(c.replica(5).view());
        }
        int enter1 = viewAtTick.indexOf(1L);
        int enter2 = viewAtTick.indexOf(2L);
        int enter3 = viewAtTick.indexOf(3L);
        assertTrue(enter1 >= 0 && enter2 > enter1 && enter3 > enter2, viewAtTick.toString());
        assertEquals(TIMEOUT, enter2 - enter1, "first view-change timeout");
        assertEquals(2 * TIMEOUT, enter3 - enter2, "doubled after one failure");
        assertEquals(3, c.replica(5).view());
        assertTrue(c.replica(5).viewActive());
        assertEquals(0, c.replica(5).failedViewChanges(), "reset by the NEW-VIEW");
        assertEquals(1, c.apps.get(5).executed.size());
        c.assertAgreement();
    }

    @Test
    void aReplicaJoinsAHigherViewOnFPlusOneViewChanges() {
        Cluster c = cluster(1);
        // Only replicas 2 and 3 see the request, so only their timers run.
        Request r = TestRequests.signed("join");
        c.request(2, r);
        c.request(3, r);
        c.tick(TIMEOUT + 1);
        assertTrue(c.sentCount(1, MessageType.VIEW_CHANGE) >= 1, "replica 1 joined without a timer of its own");
        assertTrue(c.sentCount(0, MessageType.VIEW_CHANGE) >= 1, "so did the old primary");
        c.tick(4 * TIMEOUT);
        for (int i = 0; i < c.n; i++) {
            assertEquals(List.of(r.id()), c.executedIds(i), "replica " + i);
        }
        c.assertAgreement();
    }

    @Test
    void messagesOfTheNewViewAreBufferedUntilItsNewView() {
        Cluster c = cluster(1);
        c.crash(0);
        c.submit(TestRequests.signed("buf"));
        c.deliverAll();
        for (int t = 0; t < TIMEOUT; t++) {
            c.step(3, new Event.Tick(t));
        }
        // Replica 3 is changing to view 1 and has not seen a NEW-VIEW.
        Replica r3 = c.replica(3);
        assertFalse(r3.viewActive());
        Signed<Prepare> early = c.factory(2).prepare(1, 1, Digest.ZERO);
        c.step(3, new Event.PeerMessage(early));
        assertEquals(1, r3.futureBuffered());
        c.queue.clear();
        c.tick(TIMEOUT + 2);
        assertTrue(r3.viewActive());
        assertEquals(0, r3.futureBuffered(), "replayed once the NEW-VIEW arrived");
    }

    @Test
    void futureMessagesBeyondTheBufferBoundAreDroppedWithAReason() {
        Cluster c = new Cluster(1, cfg -> cfg.withBuffers(2, 100, 4, 4));
        MessageFactory two = c.factory(2);
        for (int s = 1; s <= 3; s++) {
            c.step(3, new Event.PeerMessage(two.prepare(1, s, Digest.ZERO)));
        }
        assertEquals(2, c.replica(3).futureBuffered());
        assertEquals(RejectReason.FUTURE_BUFFER_FULL, last(c.rejections.get(3)).reason());
        c.step(3, new Event.PeerMessage(two.prepare(9, 1, Digest.ZERO)));
        assertEquals(RejectReason.VIEW_TOO_FAR_AHEAD, last(c.rejections.get(3)).reason());
    }

    @Test
    void oldViewMessagesAreRejected() {
        Cluster c = cluster(1);
        c.crash(0);
        c.submit(TestRequests.signed("old"));
        c.tick(TIMEOUT + 2);
        c.step(2, new Event.PeerMessage(c.factory(0).prePrepare(0, 2, new Batch(1, List.of()))));
        assertEquals(RejectReason.OLD_VIEW, last(c.rejections.get(2)).reason());
    }

    static Signed<?> decode(Cluster c, byte[] wire) {
        try {
            return new MessageCodec(c.base).decode(wire);
        } catch (MalformedMessageException e) {
            throw new AssertionError(e);
        }
    }

    static <T> T last(List<T> list) {
        return list.get(list.size() - 1);
    }
}
