package bftledger.pbft;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import bftledger.crypto.Digest;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * A replica restored without its WAL under a {@link SigningFloor}: it never signs a vote that
 * could contradict one it lost, the network goes on without its votes, and it votes again once
 * the network is past the floor.
 */
class SigningFloorTest {
    static final int TIMEOUT = 5;

    private static Cluster cluster(int f) {
        return new Cluster(f, cfg -> cfg.withTimeouts(TIMEOUT, TIMEOUT, 4)
                .withCheckpoints(2, 4).withBatching(1, 1 << 20, 1 << 16, 4));
    }

    private record VoteKey(MessageType type, long view, long sequence) {}

    /** Every (type, view, sequence) replica i signed two different digests for, across all its incarnations. */
    private static List<VoteKey> secondVotes(Cluster c, int i) {
        Map<VoteKey, Digest> first = new HashMap<>();
        List<VoteKey> conflicts = new ArrayList<>();
        for (Signed<?> m : c.sent.get(i)) {
            VoteKey key;
            Digest digest;
            if (m.payload() instanceof PrePrepare p) {
                key = new VoteKey(m.type(), p.view(), p.sequence());
                digest = p.digest();
            } else if (m.payload() instanceof Prepare p) {
                key = new VoteKey(m.type(), p.view(), p.sequence());
                digest = p.digest();
            } else if (m.payload() instanceof Commit p) {
                key = new VoteKey(m.type(), p.view(), p.sequence());
                digest = p.digest();
            } else {
                continue;
            }
            Digest before = first.putIfAbsent(key, digest);
            if (before != null && !before.equals(digest)) {
                conflicts.add(key);
            }
        }
        return conflicts;
    }

    private static List<Long> votedSequences(List<Signed<?>> sent, MessageType type) {
        List<Long> out = new ArrayList<>();
        for (Signed<?> m : sent) {
            if (m.type() == type && m.payload() instanceof Prepare p) {
                out.add(p.sequence());
            } else if (m.type() == type && m.payload() instanceof Commit p) {
                out.add(p.sequence());
            }
        }
        return out;
    }

    /**
     * Replica 2 prepared (0, 1) for one batch and then lost its WAL; a Byzantine primary offers it
     * another batch for (0, 1). Without a floor it signs the second PREPARE (the hazard the floor
     * exists for); with one it signs nothing.
     */
    private static List<VoteKey> afterWalLossPrimaryOffersATwin(SigningFloor floor) {
        Cluster c = cluster(1);
        c.dropIf = e -> e.wire()[0] == MessageType.COMMIT.code() || e.wire()[0] == MessageType.PREPARE.code();
        c.submit(TestRequests.signed("original"));
        c.deliverAll();
        assertEquals(MessageType.PREPARE, c.sent.get(2).get(0).type());
        c.crash(2);
        c.restartWithoutWal(2, floor);
        Signed<PrePrepare> twin = c.factory(0).prePrepare(0, 1, new Batch(99, List.of(TestRequests.signed("twin"))));
        c.step(2, new Event.PeerMessage(twin));
        return secondVotes(c, 2);
    }

    @Test
    void withoutAFloorAReplicaThatLostItsWalSignsASecondPrepare() {
        assertEquals(List.of(new VoteKey(MessageType.PREPARE, 0, 1)), afterWalLossPrimaryOffersATwin(SigningFloor.NONE));
    }

    @Test
    void underItsFloorAReplicaThatLostItsWalSignsNothingForTheSlot() {
        assertEquals(List.of(), afterWalLossPrimaryOffersATwin(new SigningFloor(0, 1)));
    }

    @Test
    void aFloorRestoredBackupFollowsWithoutVotingThenVotesAboveTheFloor() {
        Cluster c = cluster(1);
        for (int k = 0; k < 3; k++) {
            c.submit(TestRequests.signed("before" + k));
            c.deliverAll();
        }
        assertEquals(3, c.apps.get(2).height);
        c.crash(2);
        c.restartWithoutWal(2, new SigningFloor(0, 5));
        int sentBefore = c.sent.get(2).size();
        for (int k = 0; k < 5; k++) {
            c.submit(TestRequests.signed("after" + k));
            c.deliverAll();
        }
        List<Signed<?>> afterRestart = c.sent.get(2).subList(sentBefore, c.sent.get(2).size());
        assertEquals(List.of(6L, 7L, 8L), votedSequences(afterRestart, MessageType.PREPARE), "prepares only above the floor");
        assertEquals(List.of(6L, 7L, 8L), votedSequences(afterRestart, MessageType.COMMIT), "commits only above the floor");
        for (int i = 0; i < c.n; i++) {
            assertEquals(8, c.apps.get(i).height, "replica " + i + " executed everything");
            assertEquals(List.of(), secondVotes(c, i), "replica " + i);
        }
        c.assertAgreement();
    }

    /**
     * With f = 2 the network changes view while one replica is below its floor and the primary is
     * down: the floor-restored replica sends no VIEW-CHANGE (its stable checkpoint is below the
     * floor), follows the NEW-VIEW, votes in the new view, and once its stable checkpoint passes
     * the floor takes part in the next view change like any other replica.
     */
    @Test
    void aFloorRestoredReplicaSendsNoViewChangeUntilItsCheckpointPassesTheFloor() {
        Cluster c = cluster(2);
        int amnesic = 6;
        c.submit(TestRequests.signed("before"));
        c.deliverAll();
        c.crash(amnesic);
        c.restartWithoutWal(amnesic, new SigningFloor(0, 3));
        c.crash(0);
        int sentBefore = c.sent.get(amnesic).size();
        Request r = TestRequests.signed("in view 1");
        c.submit(r);
        c.deliverAll();
        c.tick(TIMEOUT + 2);
        List<Signed<?>> sinceRestart = c.sent.get(amnesic).subList(sentBefore, c.sent.get(amnesic).size());
        assertFalse(sinceRestart.stream().anyMatch(m -> m.type() == MessageType.VIEW_CHANGE), "no VIEW-CHANGE below the floor");
        assertEquals(1, c.replica(amnesic).view());
        assertTrue(c.replica(amnesic).viewActive(), "followed the NEW-VIEW");
        assertTrue(c.executedIds(amnesic).contains(r.id()));
        assertTrue(sinceRestart.stream().anyMatch(m -> m.type() == MessageType.COMMIT), "votes in view 1, above the floor's view");

        for (int k = 0; k < 4; k++) {
            c.submit(TestRequests.signed("past the floor " + k));
            c.deliverAll();
        }
        assertTrue(c.replica(amnesic).lowWatermark() >= 3, "stable checkpoint " + c.replica(amnesic).lowWatermark());
        assertTrue(c.replica(amnesic).signingFloor().passed(c.replica(amnesic).view(), c.replica(amnesic).lowWatermark()));
        c.crash(1);
        int sentBeforeSecond = c.sent.get(amnesic).size();
        c.submit(TestRequests.signed("in view 2"));
        c.deliverAll();
        c.tick(TIMEOUT + 2);
        assertTrue(c.sent.get(amnesic).subList(sentBeforeSecond, c.sent.get(amnesic).size()).stream()
                .anyMatch(m -> m.type() == MessageType.VIEW_CHANGE), "past the floor it votes for the next view");
        for (int i = 2; i < c.n; i++) {
            assertEquals(2, c.replica(i).view(), "replica " + i);
            assertEquals(List.of(), secondVotes(c, i), "replica " + i);
        }
        c.assertAgreement();
    }

    @Test
    void aFloorRestoredPrimaryProposesNothingBelowTheFloorAndIsReplaced() {
        Cluster c = cluster(1);
        c.submit(TestRequests.signed("before"));
        c.deliverAll();
        c.crash(0);
        c.restartWithoutWal(0, new SigningFloor(0, 4));
        Request r = TestRequests.signed("needs a new primary");
        c.submit(r);
        c.deliverAll();
        assertEquals(1, c.sentCount(0, MessageType.PRE_PREPARE), "only the pre-prepare from before the restart");
        c.tick(TIMEOUT + 2);
        for (int i = 0; i < c.n; i++) {
            assertEquals(1, c.replica(i).view(), "replica " + i);
            assertTrue(c.executedIds(i).contains(r.id()), "replica " + i);
            assertEquals(List.of(), secondVotes(c, i), "replica " + i);
        }
        c.assertAgreement();
    }

    @Test
    void theFloorsRules() {
        SigningFloor floor = new SigningFloor(3, 40);
        assertFalse(floor.allowsVote(3, 40));
        assertFalse(floor.allowsVote(0, 1));
        assertTrue(floor.allowsVote(3, 41));
        assertTrue(floor.allowsVote(4, 1));
        assertFalse(floor.allowsViewChange(3, 100), "a view it may have voted for");
        assertFalse(floor.allowsViewChange(4, 39), "its checkpoint below lost certificates");
        assertTrue(floor.allowsViewChange(4, 40));
        assertFalse(floor.passed(2, 100), "a view change to a view it may have voted for can still come");
        assertFalse(floor.passed(4, 39), "a vote at or below the floor's sequence can still come");
        assertTrue(floor.passed(3, 40));
        assertTrue(floor.passed(4, 40));
        assertTrue(SigningFloor.NONE.passed(0, 0));
        assertTrue(SigningFloor.NONE.allowsVote(0, 1));
        assertTrue(SigningFloor.NONE.allowsViewChange(1, 0));
    }
}
