package bftledger.pbft;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** Paper 4.4/4.5.2: a request a backup holds but the primary never orders forces a view change. */
class CensorshipTest {

    @ParameterizedTest
    @ValueSource(ints = {1, 2, 3, 4})
    void aCensoringPrimaryIsVotedOut(int f) {
        Cluster c = new Cluster(f, cfg -> cfg.withTimeouts(4, 4, 3));
        Request censored = TestRequests.signed("censored " + f);
        Request other = TestRequests.signed("other " + f);
        // The primary orders everything except the censored request: it proposes, but the
        // batches containing that id never leave it.
        c.tamper = e -> {
            if (e.from() == 0 && e.wire()[0] == MessageType.PRE_PREPARE.code()) {
                PrePrepare pp = ViewChangeTest.decode(c, e.wire()).as(PrePrepare.class).payload();
                if (pp.batch().requestIds().contains(censored.id())) {
                    return List.of();
                }
            }
            return List.of(e);
        };
        c.submit(other);
        c.deliverAll();
        assertEquals(List.of(other.id()), c.executedIds(1));
        c.submit(censored);
        c.deliverAll();
        assertEquals(List.of(other.id()), c.executedIds(1), "censored so far");
        c.tick(10);
        for (int i = 1; i < c.n; i++) {
            assertTrue(c.replica(i).view() >= 1, "replica " + i + " left the censoring primary's view");
            assertEquals(List.of(other.id(), censored.id()), c.executedIds(i), "replica " + i);
            assertEquals(0, c.replica(i).pendingRequests());
        }
        c.assertAgreement();
    }

    /**
     * The request timer belongs to one request and stops only when that request executes (paper
     * 4.4), so a primary that keeps ordering other clients' requests faster than the timeout still
     * cannot censor one request forever.
     */
    @Test
    void aPrimaryOrderingOtherRequestsUnderLoadStillCannotCensorOne() {
        int timeout = 4;
        Cluster c = new Cluster(1, cfg -> cfg.withTimeouts(timeout, timeout, 3));
        Request censored = TestRequests.signed("censored under load");
        // The client reaches every backup; the primary ignores the request.
        for (int i = 1; i < c.n; i++) {
            c.request(i, censored);
        }
        c.deliverAll();
        for (int round = 0; round < 30 * timeout; round++) {
            if (round % (timeout - 1) == 0) {
                c.submit(TestRequests.signed("other " + round));
                c.deliverAll();
            }
            c.tick(1);
        }
        for (int i = 1; i < c.n; i++) {
            assertTrue(c.replica(i).view() >= 1, "replica " + i + " left the censoring primary's view");
            assertTrue(c.executedIds(i).contains(censored.id()), "replica " + i + " executed the censored request");
        }
        c.assertAgreement();
    }
}
