package bftledger.pbft;

import static org.junit.jupiter.api.Assertions.assertEquals;

import bftledger.crypto.Digest;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Every incoming message is old, current or future for the replica's view and window. */
class ClassificationTest {

    private static Cluster cluster() {
        return new Cluster(1, cfg -> cfg.withCheckpoints(2, 4).withBatching(1, 1 << 20, 1 << 16, 4));
    }

    @Test
    void belowTheLowWatermarkIsOld() {
        Cluster c = cluster();
        c.submit(TestRequests.signed("a"));
        c.submit(TestRequests.signed("b"));
        c.deliverAll();
        assertEquals(2, c.replica(1).lowWatermark());
        c.step(1, new Event.PeerMessage(c.factory(2).prepare(0, 2, Digest.ZERO)));
        assertEquals(RejectReason.OLD_SEQUENCE, ViewChangeTest.last(c.rejections.get(1)).reason());
        c.step(1, new Event.PeerMessage(c.factory(2).checkpoint(2, Digest.ZERO)));
        assertEquals(RejectReason.OLD_SEQUENCE, ViewChangeTest.last(c.rejections.get(1)).reason());
    }

    @Test
    void aboveTheHighWatermarkIsFutureAndBuffered() {
        Cluster c = cluster();
        c.step(1, new Event.PeerMessage(c.factory(2).prepare(0, 5, Digest.ZERO)));
        assertEquals(1, c.replica(1).futureBuffered());
        assertEquals(0, c.replica(1).logSize());
        c.step(1, new Event.PeerMessage(c.factory(2).prepare(0, 4, Digest.ZERO)));
        assertEquals(1, c.replica(1).logSize(), "inside (0, 4] is current");
    }

    @Test
    void aHigherViewIsFutureAndAFarHigherOneIsRefused() {
        Cluster c = cluster();
        c.step(2, new Event.PeerMessage(c.factory(1).prePrepare(1, 1, new Batch(1, List.of()))));
        assertEquals(1, c.replica(2).futureBuffered());
        c.step(2, new Event.PeerMessage(c.factory(1).prePrepare(5, 1, new Batch(1, List.of()))));
        assertEquals(RejectReason.VIEW_TOO_FAR_AHEAD, ViewChangeTest.last(c.rejections.get(2)).reason());
    }

    @Test
    void aPrePrepareFromANonPrimaryIsRefusedEvenIfTheCallerSkippedTheVerifier() {
        Cluster c = cluster();
        c.step(2, new Event.PeerMessage(c.factory(3).prePrepare(0, 1, new Batch(1, List.of()))));
        assertEquals(RejectReason.SIGNER_MISMATCH, ViewChangeTest.last(c.rejections.get(2)).reason());
    }

    @Test
    void aForgottenIdIsStillRefusedThroughTheExecutedRequestsPort() {
        Cluster c = cluster();
        Request r = TestRequests.signed("old");
        c.submit(r);
        for (int k = 0; k < 4; k++) {
            c.submit(TestRequests.signed("later" + k));
        }
        c.deliverAll();
        assertEquals(4, c.replica(0).lowWatermark(), "the id of sequence 1 is forgotten by the core");
        c.step(0, new Event.ClientRequest(r));
        assertEquals(RejectReason.ALREADY_EXECUTED, ViewChangeTest.last(c.rejections.get(0)).reason());
        Replica bare = new Replica(c.base.withReplica(1, c.keys.get(1)));
        assertEquals(0, bare.step(new Event.ClientRequest(r)).rejections().size(), "without the port it is new here");
    }
}
