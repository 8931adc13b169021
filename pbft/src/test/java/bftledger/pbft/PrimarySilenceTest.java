package bftledger.pbft;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * With {@link Config#primarySilenceTicks()} set, backups waiting for a request suspect a primary
 * their node's detector reports silent after that many ticks instead of the whole request
 * timeout, so a crashed primary is replaced sooner; a primary
 * that orders the requests is never suspected that way, whatever the detector says.
 */
class PrimarySilenceTest {
    static final int TIMEOUT = 30;
    static final int SILENCE = 3;

    private static Cluster cluster() {
        return new Cluster(1, cfg -> cfg.withTimeouts(TIMEOUT, TIMEOUT, 3).withStatusTicks(5).withPrimarySilence(SILENCE));
    }

    /** Every live replica ticks; the detector reports {@code silent} (minus the ticking replica itself). */
    private static void tick(Cluster c, int rounds, Set<Integer> silent) {
        for (int k = 0; k < rounds; k++) {
            c.now += 10;
            for (int i = 0; i < c.n; i++) {
                int self = i;
                c.step(i, new Event.Tick(c.now, true, silent.stream().filter(r -> r != self).collect(java.util.stream.Collectors.toSet())));
            }
            c.deliverAll();
        }
    }

    @Test
    void aSilentPrimaryIsReplacedLongBeforeTheRequestTimeout() {
        Cluster c = cluster();
        c.crash(0);
        Request r = TestRequests.signed("after-crash");
        c.submit(r);
        c.deliverAll();
        tick(c, SILENCE + 5, Set.of(0));
        for (int i = 1; i < 4; i++) {
            assertEquals(1, c.replica(i).view(), "replica " + i);
            assertTrue(c.replica(i).viewActive(), "replica " + i + " entered view 1 within a few ticks");
            assertTrue(c.apps.get(i).executedIds.contains(r.id()), "replica " + i + " executed the waiting request");
        }
        c.assertAgreement();
    }

    @Test
    void aPrimaryThatOrdersIsNotSuspectedWhateverTheDetectorSays() {
        Cluster c = cluster();
        for (int k = 0; k < 5; k++) {
            c.submit(TestRequests.signed("ordered" + k));
            c.deliverAll();
            tick(c, SILENCE + 2, Set.of(0));
        }
        for (int i = 0; i < 4; i++) {
            assertEquals(0, c.sentCount(i, MessageType.VIEW_CHANGE), "replica " + i);
            assertEquals(5, c.apps.get(i).height);
        }
    }

    @Test
    void aBackupCutOffFromEveryoneDoesNotBlameThePrimary() {
        Cluster c = cluster();
        c.isolate(3);
        c.submit(TestRequests.signed("cut"));
        c.deliverAll();
        for (int k = 0; k < 3 * TIMEOUT; k++) {
            c.now += 10;
            for (int i = 0; i < c.n; i++) {
                c.step(i, i == 3 ? new Event.Tick(c.now, false, Set.of(0, 1, 2)) : new Event.Tick(c.now));
            }
            c.deliverAll();
        }
        assertEquals(0, c.sentCount(3, MessageType.VIEW_CHANGE), "everyone silent: its own isolation, not the primary's fault");
        assertTrue(c.replica(3).viewActive() && c.replica(3).view() == 0);
    }

    @Test
    void withoutTheDetectorTheRequestTimeoutStillGoverns() {
        Cluster c = cluster();
        c.crash(0);
        c.submit(TestRequests.signed("after-crash"));
        c.deliverAll();
        tick(c, TIMEOUT - 2, Set.of());
        assertEquals(0, c.replica(1).view(), "no suspicion before the request timeout without a silence report");
        tick(c, 4, Set.of());
        assertTrue(c.replica(1).view() >= 1);
    }
}
