package bftledger.pbft;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

/** Lost messages are recovered by STATUS exchanges: peers answer with what the sender lacks. */
class StatusTest {
    static final int PERIOD = 3;

    private static Cluster cluster() {
        return new Cluster(1, cfg -> cfg.withStatusTicks(PERIOD).withTimeouts(100, 100, 3)
                .withCheckpoints(2, 4).withBatching(1, 1 << 20, 1 << 16, 4));
    }

    @Test
    void aBackupThatMissedEveryCommitCatchesUpFromStatusAnswers() {
        Cluster c = cluster();
        c.dropIf = e -> e.to() == 3 && e.wire()[0] == MessageType.COMMIT.code();
        Request r = TestRequests.signed("lost commits");
        c.submit(r);
        c.deliverAll();
        assertEquals(0, c.apps.get(3).height);
        c.heal();
        c.tick(PERIOD);
        assertEquals(List.of(r.id()), c.executedIds(3), "commits came back in answer to its STATUS");
        c.assertAgreement();
    }

    @Test
    void aRestartedPrimaryRecoversTheCommitsItLost() {
        Cluster c = cluster();
        c.dropIf = e -> e.to() == 0 && e.wire()[0] == MessageType.COMMIT.code();
        c.submit(TestRequests.signed("one"));
        c.deliverAll();
        c.heal();
        c.crash(0);
        c.restart(0);
        assertEquals(0, c.apps.get(0).height);
        c.tick(PERIOD);
        assertEquals(1, c.apps.get(0).height);
        c.assertAgreement();
    }

    @Test
    void aReplicaThatMissedANewViewGetsItFromAnyPeer() {
        Cluster c = cluster();
        c.crash(0);
        c.submit(TestRequests.signed("nv"));
        c.dropIf = e -> e.to() == 3 && e.wire()[0] == MessageType.NEW_VIEW.code();
        c.tick(101);
        assertTrue(c.replica(1).viewActive() && c.replica(1).view() == 1);
        assertEquals(0, c.apps.get(3).height);
        c.heal();
        c.tick(PERIOD);
        assertTrue(c.replica(3).viewActive());
        assertEquals(1, c.replica(3).view());
        assertEquals(1, c.apps.get(3).height);
    }

    /**
     * Checkpoint votes lost in a partition must not keep h where it is forever: a replica that
     * executed past them still learns them from the others' STATUS and advances h, or its window
     * fills and nothing new is ordered.
     */
    @Test
    void aReplicaThatExecutedPastLostCheckpointsStillGetsThemAndAdvancesH() {
        Cluster c = cluster();
        c.dropIf = e -> e.wire()[0] == MessageType.CHECKPOINT.code();
        c.submit(TestRequests.signed("c1"));
        c.deliverAll();
        c.submit(TestRequests.signed("c2"));
        c.deliverAll();
        for (int i = 0; i < c.n; i++) {
            assertEquals(2, c.apps.get(i).height, "executed past the checkpoint");
            assertEquals(0, c.replica(i).lowWatermark(), "but holds only its own CHECKPOINT for 2");
        }
        c.heal();
        c.tick(PERIOD);
        for (int i = 0; i < c.n; i++) {
            assertEquals(2, c.replica(i).lowWatermark(), "replica " + i + ": CHECKPOINTs came back in answers to STATUS");
        }
    }

    @Test
    void statusAnswersAreRateLimitedPerPeer() {
        Cluster c = cluster();
        c.step(1, new Event.PeerMessage(c.factory(2).status(0, true, 0, 0)));
        c.step(1, new Event.PeerMessage(c.factory(2).status(0, true, 0, 0)));
        assertEquals(RejectReason.STATUS_TOO_SOON, ViewChangeTest.last(c.rejections.get(1)).reason());
    }

    /** A STATUS claiming nothing executed gets a bounded answer, not the whole window of batches. */
    @Test
    void aStatusAnswerRelaysSlotsUpToAByteBudgetAndTheNextOneContinues() {
        Cluster c = new Cluster(1, cfg -> cfg.withStatusTicks(PERIOD).withTimeouts(100, 100, 3)
                .withCheckpoints(32, 64).withBatching(1, 200, 200, 4));
        c.dropIf = e -> e.to() == 3;
        for (int i = 0; i < 30; i++) {
            c.submit(TestRequests.signed("slot " + i + " " + "x".repeat(40)));
            c.deliverAll();
        }
        assertEquals(30, c.apps.get(1).height);
        long budget = c.replica(1).statusAnswerSlotBytesMax();
        Output answer = c.replica(1).step(new Event.PeerMessage(c.factory(3).status(0, true, 0, 0)));
        long prePrepares = answer.messages().stream().filter(o -> o.message().type() == MessageType.PRE_PREPARE).count();
        long slotBytes = answer.messages().stream().filter(o -> o.message().type() != MessageType.CHECKPOINT)
                .mapToLong(o -> o.message().wireLength()).sum();
        long largestSlot = c.replica(1).config().prePrepareBytesMax() + 2 * c.replica(1).config().voteBytesMax();
        assertTrue(prePrepares >= 1 && prePrepares < 30, prePrepares + " of 30 slots in one answer");
        assertTrue(slotBytes <= budget + largestSlot, slotBytes + " bytes, budget " + budget);
        // From where the peer then stands, the next answer continues (replica 1's clock alone moves
        // on, so nothing else spends its once-per-period answer to replica 3).
        for (int k = 0; k < PERIOD; k++) {
            c.replica(1).step(new Event.Tick(c.now + 10L * (k + 1)));
        }
        Output next = c.replica(1).step(new Event.PeerMessage(c.factory(3).status(0, true, 0, prePrepares)));
        assertTrue(next.messages().stream().anyMatch(o -> o.message().type() == MessageType.PRE_PREPARE
                && ((PrePrepare) o.message().payload()).sequence() == prePrepares + 1), "continues at " + (prePrepares + 1));
    }
}
