package bftledger.pbft.review;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import bftledger.pbft.MessageType;
import bftledger.pbft.TestRequests;
import org.junit.jupiter.api.Test;

/**
 * LIVENESS. A replica that is more than viewChangeAheadMax views behind rejects every NEW-VIEW,
 * VIEW-CHANGE and normal-case message of the others' view (VIEW_TOO_FAR_AHEAD), and it never
 * gets 2f+1 VIEW-CHANGEs for the view it is changing to, so its view-change timer never starts:
 * it is excluded forever, although a NEW-VIEW is self-certifying (2f+1 signed VIEW-CHANGEs).
 */
class RejoinAfterManyViewsTest {

    @Test
    void aReplicaPartitionedDuringFiveViewChangesNeverRejoins() {
        int timeout = 4;
        Net net = new Net(1, cfg -> cfg.withTimeouts(timeout, timeout, 0).withStatusTicks(3));
        net.isolated.add(3);
        // Replicas 0..2 churn through views: every primary's proposals are lost for a while.
        net.dropIf = e -> e.wire()[0] == MessageType.PRE_PREPARE.code();
        net.submit(TestRequests.signed("churn"));
        net.deliverAll();
        for (int t = 0; t < 200 && net.replica(0).view() < 7; t++) {
            net.tick(1);
        }
        long othersView = net.replica(0).view();
        assertTrue(othersView >= 6, "others reached view " + othersView);
        net.isolated.clear();
        net.dropIf = e -> false;
        net.tick(200);
        long v = net.replica(0).view();
        assertTrue(net.replica(0).viewActive() && net.apps.get(0).height >= 1, "the others made progress");
        assertEquals(v, net.replica(3).view(), "replica 3 joined the others' view (it is in " + net.replica(3).view()
                + ", active=" + net.replica(3).viewActive() + ")");
        assertTrue(net.replica(3).viewActive(), "replica 3 active again");
    }
}
