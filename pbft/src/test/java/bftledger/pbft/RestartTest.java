package bftledger.pbft;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import bftledger.crypto.Digest;
import java.util.List;
import org.junit.jupiter.api.Test;

/** A replica rebuilt from its persisted records never contradicts what it signed before the crash. */
class RestartTest {

    @Test
    void aRestartedBackupRefusesToPrepareAConflictingBatch() {
        Cluster c = new Cluster(1);
        c.dropIf = e -> e.wire()[0] == MessageType.COMMIT.code() || e.wire()[0] == MessageType.PREPARE.code();
        c.submit(TestRequests.signed("r"));
        c.deliverAll();
        Signed<?> ownPrepare = c.sent.get(2).get(0);
        assertEquals(MessageType.PREPARE, ownPrepare.type());
        c.crash(2);
        c.restart(2);
        int sentBefore = c.sent.get(2).size();
        // The (Byzantine) primary now offers another batch for the same view and sequence.
        Signed<PrePrepare> twin = c.factory(0).prePrepare(0, 1, new Batch(99, List.of(TestRequests.signed("twin"))));
        c.step(2, new Event.PeerMessage(twin));
        assertEquals(RejectReason.CONFLICTS_OWN_VOTE, ViewChangeTest.last(c.rejections.get(2)).reason());
        assertEquals(sentBefore, c.sent.get(2).size(), "nothing signed");
    }

    /** A restarted replica counts its own CHECKPOINT, so with f replicas silent the checkpoint still becomes stable. */
    @Test
    void aRestartedReplicaCountsItsOwnCheckpointVote() {
        Cluster c = new Cluster(1, cfg -> cfg.withCheckpoints(2, 4).withBatching(1, 1 << 20, 1 << 16, 4));
        c.crash(3);
        // Replica 2 hears nobody's CHECKPOINT before it crashes; only its own is in its WAL.
        c.dropIf = e -> e.to() == 2 && e.wire()[0] == MessageType.CHECKPOINT.code();
        c.submit(TestRequests.signed("k1"));
        c.deliverAll();
        c.submit(TestRequests.signed("k2"));
        c.deliverAll();
        assertEquals(2, c.apps.get(2).height);
        assertEquals(0, c.replica(2).lowWatermark());
        assertEquals(2, c.replica(0).lowWatermark(), "0, 1 and 2 voted: stable at the others");
        c.crash(2);
        c.restart(2);
        c.heal();
        // The two other votes arrive again (as STATUS answers would relay them): with its own, that is 2f+1.
        for (int from : List.of(0, 1)) {
            c.step(2, new Event.PeerMessage(c.factory(from).checkpoint(2, c.apps.get(from).digests.get(2L))));
        }
        assertEquals(2, c.replica(2).lowWatermark(), "its own vote made the third");
    }

    @Test
    void aRestartedPrimaryNeverReusesASequenceNumber() {
        Cluster c = new Cluster(1, cfg -> cfg.withBatching(1, 1 << 20, 1 << 16, 8));
        c.isolate(1);
        c.isolate(2);
        c.isolate(3);
        for (int k = 0; k < 3; k++) {
            c.request(0, TestRequests.signed("p" + k));
        }
        assertEquals(3, c.sentCount(0, MessageType.PRE_PREPARE));
        c.crash(0);
        c.restart(0);
        c.request(0, TestRequests.signed("p3"));
        List<Long> sequences = c.sent.get(0).stream().filter(m -> m.type() == MessageType.PRE_PREPARE)
                .map(m -> m.as(PrePrepare.class).payload().sequence()).toList();
        assertEquals(List.of(1L, 2L, 3L, 4L), sequences);
    }

    @Test
    void aRestartedReplicaKeepsItsPreparedCertificatesForTheNextViewChange() {
        Cluster c = new Cluster(1, cfg -> cfg.withTimeouts(4, 4, 3));
        c.dropIf = e -> e.wire()[0] == MessageType.COMMIT.code();
        Request r = TestRequests.signed("keep");
        c.submit(r);
        c.deliverAll();
        c.heal();
        for (int i = 1; i < 4; i++) {
            c.crash(i);
            c.restart(i);
            // Pending requests are not persisted; the client retries.
            c.request(i, r);
        }
        c.crash(0);
        c.tick(15);
        for (int i = 1; i < 4; i++) {
            Signed<?> vc = c.sent.get(i).stream().filter(m -> m.type() == MessageType.VIEW_CHANGE).findFirst().orElseThrow();
            assertEquals(1, vc.as(ViewChange.class).payload().prepared().size(), "replica " + i);
            assertEquals(List.of(r.id()), c.executedIds(i));
        }
        c.assertAgreement();
    }

    @Test
    void aReplicaThatCrashedWhileChangingViewResendsItsViewChange() {
        Cluster c = new Cluster(1, cfg -> cfg.withTimeouts(4, 4, 3));
        c.crash(0);
        c.submit(TestRequests.signed("vc-crash"));
        for (int t = 0; t < 4; t++) {
            c.step(3, new Event.Tick(t));
        }
        c.queue.clear();
        assertFalse(c.replica(3).viewActive());
        Signed<?> before = c.sent.get(3).get(c.sent.get(3).size() - 1);
        c.crash(3);
        c.restart(3);
        assertFalse(c.replica(3).viewActive());
        assertEquals(1, c.replica(3).view());
        Signed<?> after = c.sent.get(3).get(c.sent.get(3).size() - 1);
        assertEquals(before, after, "the same signed VIEW-CHANGE, not a new one");
        c.tick(15);
        assertTrue(c.replica(3).viewActive());
        assertEquals(1, c.executedIds(3).size());
        c.assertAgreement();
    }

    @Test
    void aWholeClusterRestartContinuesFromItsRecords() {
        Cluster c = new Cluster(1, cfg -> cfg.withCheckpoints(4, 8).withBatching(1, 1 << 20, 1 << 16, 8));
        for (int k = 0; k < 6; k++) {
            c.submit(TestRequests.signed("w" + k));
        }
        c.deliverAll();
        for (int i = 0; i < 4; i++) {
            c.crash(i);
        }
        for (int i = 0; i < 4; i++) {
            c.restart(i);
            assertEquals(4, c.replica(i).lowWatermark());
            assertEquals(6, c.replica(i).lastExecuted());
        }
        for (int k = 0; k < 4; k++) {
            c.submit(TestRequests.signed("after" + k));
        }
        c.deliverAll();
        for (int i = 0; i < 4; i++) {
            assertEquals(10, c.apps.get(i).height, "replica " + i);
            assertEquals(8, c.replica(i).lowWatermark());
        }
        c.assertAgreement();
    }

    @Test
    void aNewPrimaryWhoseEnteredViewRecordWasTornNeverBuildsASecondNewView() {
        Cluster c = new Cluster(1, cfg -> cfg.withTimeouts(4, 4, 3));
        c.crash(0);
        c.submit(TestRequests.signed("torn"));
        c.tick(6);
        assertTrue(c.replica(1).viewActive());
        List<PersistRecord> records = new java.util.ArrayList<>(c.persisted.get(1));
        int last = records.size() - 1;
        while (!(records.get(last) instanceof PersistRecord.ViewState vs && !vs.changing())) {
            last--;
        }
        records.remove(last);
        Replica r = Replica.restore(c.base.withReplica(1, c.keys.get(1)), records, c.apps.get(1).height);
        r.checkInvariants();
        assertTrue(r.viewActive(), "its own NEW-VIEW on the WAL means it entered the view");
        // Late VIEW-CHANGEs for the view must not make it sign another NEW-VIEW.
        for (Signed<?> m : c.sent.get(2)) {
            if (m.type() == MessageType.VIEW_CHANGE) {
                Output out = r.step(new Event.PeerMessage(m));
                assertTrue(out.messages().stream().noneMatch(o -> o.message().type() == MessageType.NEW_VIEW
                        && !o.message().equals(c.sent.get(1).stream().filter(x -> x.type() == MessageType.NEW_VIEW)
                                .findFirst().orElseThrow())));
            }
        }
    }

    @Test
    void restoreRejectsNothingItWroteItself() {
        Cluster c = new Cluster(1);
        c.submit(TestRequests.signed("z"));
        c.deliverAll();
        Replica r = Replica.restore(c.base.withReplica(1, c.keys.get(1)), c.persisted.get(1), 1);
        r.checkInvariants();
        assertEquals(0, r.view());
        assertTrue(r.viewActive());
        assertEquals(Digest.ZERO, r.stableDigest());
    }
}
