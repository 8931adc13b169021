package bftledger.pbft;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import bftledger.crypto.Digest;
import bftledger.crypto.KeyPair;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * Validator-set epochs: a core told its epoch ends at E orders exactly up to E and then only
 * helps laggards; a core started after E in a higher view orders from E+1 and takes the old
 * epoch's messages for old ones, not for faults. K = 16 and L = 32, as the node runs, and the end
 * is announced at least L+2 below it.
 */
class EpochTest {
    static final long END = 64;
    static final long START_VIEW = 1L << 32;
    static final int TIMEOUT = 5;

    private static Cluster cluster() {
        return new Cluster(1, cfg -> cfg.withTimeouts(TIMEOUT, TIMEOUT, 4).withBatching(2, 1 << 20, 1 << 16, 4));
    }

    /** Orders {@code count} requests one at a time: one sequence each. */
    private static void orderOneByOne(Cluster c, String prefix, int count) {
        for (int k = 0; k < count; k++) {
            c.submit(TestRequests.signed(prefix + k));
            c.deliverAll();
        }
    }

    private static void announceEnd(Cluster c) {
        for (int i = 0; i < c.n; i++) {
            c.step(i, new Event.EpochEnds(END));
        }
    }

    /** Highest sequence of any PRE-PREPARE, PREPARE or COMMIT replica i sent. */
    private static long highestOrdered(Cluster c, int i) {
        long highest = 0;
        for (Signed<?> m : c.sent.get(i)) {
            if (m.payload() instanceof PrePrepare pp) {
                highest = Math.max(highest, pp.sequence());
            } else if (m.payload() instanceof Prepare p) {
                highest = Math.max(highest, p.sequence());
            } else if (m.payload() instanceof Commit cm) {
                highest = Math.max(highest, cm.sequence());
            }
        }
        return highest;
    }

    private static void assertEndedExactly(Cluster c, int i) {
        assertEquals(END, c.apps.get(i).height, "replica " + i + " executed up to the end");
        assertTrue(c.replica(i).epochFinished(), "replica " + i + " finished");
        assertTrue(highestOrdered(c, i) <= END, "replica " + i + " voted above the end");
        assertEquals(c.executedIds(i).size(), new HashSet<>(c.executedIds(i)).size(), "a request executed twice");
    }

    @Test
    void aCoreToldItsEpochEndsCommitsExactlyUpToItUnderLoad() {
        Cluster c = cluster();
        c.afterExecuted = (i, s) -> {
            if (s >= 20) {
                c.step(i, new Event.EpochEnds(END));
            }
        };
        for (int k = 0; k < 300; k++) {
            c.submit(TestRequests.signed("load" + k));
        }
        c.deliverAll();
        for (int i = 0; i < c.n; i++) {
            assertEndedExactly(c, i);
            assertTrue(c.replica(i).pendingRequests() > 0, "requests left for the next epoch");
            assertEquals(END, c.replica(i).lowWatermark(), "the end's checkpoint is stable");
        }
        c.assertAgreement();
    }

    @Test
    void withNoRequestsAfterTheAnnouncementTheCoreStillReachesTheEnd() {
        Cluster c = cluster();
        orderOneByOne(c, "before", 20);
        assertEquals(20, c.apps.get(0).height);
        announceEnd(c);
        c.deliverAll();
        for (int i = 0; i < c.n; i++) {
            assertEndedExactly(c, i);
            for (Output.CommittedBatch b : c.apps.get(i).executed) {
                assertTrue(b.sequence() <= 20 || b.requests().isEmpty(), "an empty batch at " + b.sequence());
            }
        }
        assertEquals(0, c.evidence.stream().mapToLong(List::size).sum());
        c.assertAgreement();
    }

    @Test
    void anEndAnnouncedTwiceChangesNothingAndABadOneIsAProgrammingError() {
        Cluster c = cluster();
        orderOneByOne(c, "r", 20);
        Replica r1 = c.replica(1);
        assertThrows(IllegalArgumentException.class, () -> r1.step(new Event.EpochEnds(60)), "not a multiple of K");
        assertThrows(IllegalArgumentException.class, () -> r1.step(new Event.EpochEnds(16)), "below what it executed");
        assertFalse(r1.epochEnd().isPresent());
        c.step(1, new Event.EpochEnds(END));
        assertEquals(END, r1.epochEnd().getAsLong());
        Output again = r1.step(new Event.EpochEnds(END));
        assertEquals(Output.EMPTY, again);
        assertThrows(IllegalArgumentException.class, () -> r1.step(new Event.EpochEnds(80)), "a second, other end");
    }

    @Test
    void aByzantinePrimaryProposingBeyondTheEndGetsNoPrepares() {
        Cluster c = cluster();
        orderOneByOne(c, "r", 20);
        announceEnd(c);
        MessageFactory primary = c.factory(0);
        Batch batch = new Batch(5000, List.of(TestRequests.signed("beyond")));
        // Announced, not reached: 65 would be above the window (16, 48] and buffered as future.
        for (int i = 1; i < c.n; i++) {
            c.step(i, new Event.PeerMessage(primary.prePrepare(0, 65, batch)));
            assertEquals(RejectReason.BEYOND_EPOCH_END, ViewChangeTest.last(c.rejections.get(i)).reason());
            assertEquals(0, c.replica(i).futureBuffered());
        }
        c.deliverAll();
        // Reached: 65 and 66 would now be inside the window (64, 96].
        for (int i = 1; i < c.n; i++) {
            for (long s = END + 1; s <= END + 2; s++) {
                c.step(i, new Event.PeerMessage(primary.prePrepare(0, s, batch)));
                assertEquals(RejectReason.BEYOND_EPOCH_END, ViewChangeTest.last(c.rejections.get(i)).reason());
            }
            c.step(i, new Event.PeerMessage(c.factory(i % 3 + 1).commit(0, END + 1, batch.digest())));
            c.step(i, new Event.PeerMessage(c.factory(i % 3 + 1).checkpoint(END + 16, Fixtures.digest(1))));
            assertEquals(RejectReason.BEYOND_EPOCH_END, ViewChangeTest.last(c.rejections.get(i)).reason());
            assertEquals(0, c.replica(i).logSize());
            assertEquals(0, c.replica(i).futureBuffered());
        }
        c.deliverAll();
        for (int i = 0; i < c.n; i++) {
            assertEndedExactly(c, i);
            assertTrue(c.evidence.get(i).isEmpty(), "no evidence: a replica not told of the end may send such votes");
        }
    }

    /** The primary falls silent at 50 while clients wait: the backups change view and the new primary ends at 64. */
    @Test
    void aViewChangeRacingTheEndStillReachesItExactly() {
        Cluster c = cluster();
        c.afterExecuted = (i, s) -> {
            if (s >= 20) {
                c.step(i, new Event.EpochEnds(END));
            }
            if (i == 0 && s >= 50) {
                c.crash(0);
            }
        };
        for (int k = 0; k < 300; k++) {
            c.submit(TestRequests.signed("race" + k));
        }
        c.deliverAll();
        assertTrue(c.apps.get(1).height < END, "the primary stopped before the end");
        c.tick(8 * TIMEOUT);
        for (int i = 1; i < c.n; i++) {
            assertEndedExactly(c, i);
            assertEquals(1, c.replica(i).view(), "replica " + i);
            assertEquals(1, c.apps.get(i).executed.get((int) END - 1).view(), "the end ordered in the new view");
        }
        assertTrue(c.apps.get(0).height <= END);
        c.assertAgreement();
    }

    /** Nothing to order, so no request timer: the backups still suspect a primary that stops short of the end. */
    @Test
    void aSilentPrimaryWithNoRequestsWaitingIsStillReplacedBeforeTheEnd() {
        Cluster c = cluster();
        orderOneByOne(c, "r", 20);
        c.afterExecuted = (i, s) -> {
            if (i == 0 && s >= 50) {
                c.crash(0);
            }
        };
        announceEnd(c);
        c.deliverAll();
        assertTrue(c.apps.get(1).height < END);
        assertEquals(0, c.replica(1).pendingRequests());
        c.tick(8 * TIMEOUT);
        for (int i = 1; i < c.n; i++) {
            assertEndedExactly(c, i);
            assertEquals(1, c.replica(i).view());
            assertTrue(c.replica(i).viewChangeCause().contains("epoch end"), c.replica(i).viewChangeCause());
        }
        c.assertAgreement();
    }

    @Test
    void afterTheEndNoViewChangeStartsThoughRequestsWait() {
        Cluster c = new Cluster(1, cfg -> cfg.withTimeouts(TIMEOUT, TIMEOUT, 4).withPrimarySilence(2).withStatusTicks(1000));
        orderOneByOne(c, "r", 20);
        announceEnd(c);
        c.deliverAll();
        for (int k = 0; k < 5; k++) {
            c.submit(TestRequests.signed("late" + k));
        }
        c.deliverAll();
        for (int t = 0; t < 10 * TIMEOUT; t++) {
            c.now += 10;
            for (int i = 0; i < c.n; i++) {
                c.step(i, new Event.Tick(c.now, true, Set.of(0)));
            }
            c.deliverAll();
        }
        for (int i = 0; i < c.n; i++) {
            assertEndedExactly(c, i);
            assertEquals(5, c.replica(i).pendingRequests(), "waiting for the next core");
            assertEquals(0, c.sentCount(i, MessageType.VIEW_CHANGE), "replica " + i);
            assertEquals(0, c.replica(i).view());
        }
        // It still serves a laggard: a STATUS from far behind is answered with the end's checkpoint.
        c.step(1, new Event.PeerMessage(c.factory(3).status(0, true, 48, 48)));
        assertTrue(c.queue.stream().anyMatch(e -> e.from() == 1 && e.to() == 3
                && e.wire()[0] == MessageType.CHECKPOINT.code()), "checkpoints relayed");
    }

    /**
     * The new primary, told the end, leaves out a certificate above it; a backup told the end
     * computes the same NEW-VIEW, one not told computes another: both learn it from the ledger.
     */
    @Test
    void aNewViewBuiltByAPrimaryThatKnowsTheEndIsAcceptedByABackupThatKnowsItToo() {
        Cluster c = new Cluster(1, cfg -> cfg.withCheckpoints(4, 8));
        long end = 4;
        c.step(1, new Event.EpochEnds(end));
        c.step(2, new Event.EpochEnds(end));
        Batch a = new Batch(100, List.of(TestRequests.signed("a")));
        Batch b = new Batch(200, List.of(TestRequests.signed("b")));
        PreparedCertificate at3 = certificate(c, 3, a, 1, 2);
        PreparedCertificate at6 = certificate(c, 6, b, 2, 3);
        Signed<ViewChange> vc2 = c.factory(2).viewChange(1, 0, Digest.ZERO, List.of(), List.of(at3));
        Signed<ViewChange> vc3 = c.factory(3).viewChange(1, 0, Digest.ZERO, List.of(), List.of(at3, at6));
        assertTrue(c.verifier.verify(vc2.wire()).accepted() && c.verifier.verify(vc3.wire()).accepted());
        c.step(1, new Event.PeerMessage(vc2));
        c.step(1, new Event.PeerMessage(vc3));
        Signed<NewView> nv = c.sent.get(1).stream().filter(m -> m.payload() instanceof NewView).findFirst()
                .orElseThrow().as(NewView.class);
        assertEquals(List.of(1L, 2L, 3L), nv.payload().prePrepares().stream().map(pp -> pp.payload().sequence()).toList());
        assertTrue(c.verifier.verify(nv.wire()).accepted(), "the verifier checks O against the plan cut at O's end");
        c.queue.clear();
        c.step(2, new Event.PeerMessage(nv));
        assertTrue(c.replica(2).viewActive());
        assertEquals(1, c.replica(2).view());
        c.step(3, new Event.PeerMessage(nv));
        assertEquals(RejectReason.NEW_VIEW_MISMATCH, ViewChangeTest.last(c.rejections.get(3)).reason());
    }

    private static PreparedCertificate certificate(Cluster c, long sequence, Batch batch, int... preparers) {
        Signed<PrePrepare> pp = c.factory(0).prePrepare(0, sequence, batch);
        List<Signed<Prepare>> prepares = new ArrayList<>();
        for (int r : preparers) {
            prepares.add(c.factory(r).prepare(0, sequence, batch.digest()));
        }
        return new PreparedCertificate(pp, prepares);
    }

    // ------------------------------------------------------------------ the next epoch

    @Test
    void aCoreDropsTheNextEpochsMessages() {
        // A replica still in epoch 0 (it has not executed the change yet) hears the next epoch's
        // replicas: a key both sets share signs under its new number, in the new epoch's views.
        Cluster old = cluster();
        orderOneByOne(old, "old", 3);
        MessageFactory reused = new MessageFactory(1, old.keys.get(2));
        List<Signed<?>> next = new ArrayList<>();
        next.add(reused.prepare(START_VIEW, 5, Fixtures.digest(1)));
        next.add(reused.commit(START_VIEW, 5, Fixtures.digest(1)));
        next.add(reused.viewChange(START_VIEW + 1, 0, old.apps.get(0).digests.getOrDefault(0L, Fixtures.digest(0)), List.of(),
                List.of()));
        next.add(reused.status(START_VIEW, true, 0, 3));
        for (int to = 0; to < old.n; to++) {
            for (Signed<?> m : next) {
                Verdict<Signed<?>> v = old.verifier.verify(m.wire());
                assertEquals(RejectReason.BEYOND_EPOCH_END, ((Verdict.Rejected<Signed<?>>) v).reason(), m.toString());
                int before = old.rejections.get(to).size();
                old.step(to, new Event.PeerMessage(m));
                List<Output.Rejection> added = old.rejections.get(to).subList(before, old.rejections.get(to).size());
                assertEquals(1, added.size(), m + " at " + to + ": " + added);
                assertEquals(RejectReason.BEYOND_EPOCH_END, added.get(0).reason());
            }
        }
        old.deliverAll();
        for (int i = 0; i < old.n; i++) {
            assertEquals(0, old.replica(i).view(), "replica " + i);
            assertTrue(old.evidence.get(i).isEmpty(), "evidence at " + i);
        }
        orderOneByOne(old, "after", 2);
        assertEquals(5, old.apps.get(0).height);
    }

    /** An old epoch ended at 64 after a view change (so it left VIEW-CHANGEs and a NEW-VIEW behind). */
    private static Cluster endedEpoch() {
        Cluster old = cluster();
        old.crash(0);
        old.submit(TestRequests.signed("first"));
        old.deliverAll();
        old.tick(2 * TIMEOUT);
        assertEquals(1, old.replica(1).view());
        orderOneByOne(old, "old", 19);
        announceEnd(old);
        old.deliverAll();
        for (int i = 1; i < old.n; i++) {
            assertEquals(END, old.apps.get(i).height);
        }
        return old;
    }

    /** Five validators: four new keys and old replica 2's key, now replica 4. */
    private static Cluster nextEpoch(Cluster old) {
        List<KeyPair> keys = Cluster.keys("epoch1-replica-", 4);
        keys.add(old.keys.get(2));
        Digest atEnd = old.apps.get(1).digests.get(END);
        Cluster next = new Cluster(keys, cfg -> cfg.withStart(END, START_VIEW, atEnd).withTimeouts(TIMEOUT, TIMEOUT, 4)
                .withBatching(2, 1 << 20, 1 << 16, 4));
        for (Cluster.App app : next.apps) {
            app.adopt(old.apps.get(1));
        }
        return next;
    }

    @Test
    void aStartedCoreOrdersFromItsStartInItsStartView() {
        Cluster old = endedEpoch();
        Cluster next = nextEpoch(old);
        for (int i = 0; i < next.n; i++) {
            Replica r = next.replica(i);
            assertEquals(START_VIEW, r.view());
            assertEquals(END, r.lowWatermark());
            assertEquals(END, r.lastExecuted());
            assertEquals(old.apps.get(1).digests.get(END), r.stableDigest());
        }
        orderOneByOne(next, "new", 17);
        for (int i = 0; i < next.n; i++) {
            List<Output.CommittedBatch> executed = next.apps.get(i).executed;
            Output.CommittedBatch first = executed.get((int) END);
            assertEquals(END + 1, first.sequence());
            assertEquals(START_VIEW, first.view());
            assertEquals(END + 17, next.apps.get(i).height);
            assertEquals(END + 16, next.replica(i).lowWatermark(), "the first checkpoint of the epoch is stable");
            next.assertCertificates(i);
            // Anchors of the first batches name the previous epoch's blocks, executed here too.
            assertTrue(next.rejections.get(i).stream().allMatch(x -> x.reason() == RejectReason.OLD_SEQUENCE),
                    "rejections " + next.rejections.get(i));
        }
        next.assertAgreement();
    }

    @Test
    void aStartedCoreIgnoresTheOldEpochsMessagesWithoutCountingThemAsFaults() {
        Cluster old = endedEpoch();
        Cluster next = nextEpoch(old);
        orderOneByOne(next, "new", 3);
        List<Signed<?>> replayed = new ArrayList<>();
        old.sent.forEach(replayed::addAll);
        assertTrue(replayed.stream().anyMatch(m -> m.payload() instanceof ViewChange));
        assertTrue(replayed.stream().anyMatch(m -> m.payload() instanceof NewView));
        // Signed by the key both sets share, under its new number: these pass the signature check.
        MessageFactory reused = new MessageFactory(4, old.keys.get(2));
        replayed.add(reused.prepare(1, 30, Fixtures.digest(1)));
        replayed.add(reused.prepare(1, 30, Fixtures.digest(2)));
        replayed.add(reused.commit(START_VIEW, END, Fixtures.digest(1)));
        replayed.add(reused.checkpoint(END, Fixtures.digest(3)));
        replayed.add(reused.viewChange(2, 48, Fixtures.digest(4), List.of(), List.of()));
        replayed.add(reused.viewChange(START_VIEW + 1, 48, Fixtures.digest(4), List.of(), List.of()));
        replayed.add(reused.status(1, true, 48, 50));
        Set<RejectReason> old_ = Set.of(RejectReason.OLD_VIEW, RejectReason.OLD_SEQUENCE);
        for (int to = 0; to < next.n; to++) {
            for (Signed<?> m : replayed) {
                // Through the verifier, as the node receives it: dropped before its signature is checked.
                Verdict<Signed<?>> v = next.verifier.verify(m.wire());
                RejectReason reason = ((Verdict.Rejected<Signed<?>>) v).reason();
                assertTrue(old_.contains(reason), m + ": " + reason);
                // And straight into the core, as if the verifier were skipped: one old-message rejection each.
                int before = next.rejections.get(to).size();
                next.step(to, new Event.PeerMessage(m));
                List<Output.Rejection> added = next.rejections.get(to).subList(before, next.rejections.get(to).size());
                assertEquals(1, added.size(), m + " at " + to + ": " + added);
                assertTrue(old_.contains(added.get(0).reason()), m + " at " + to + ": " + added);
            }
        }
        next.deliverAll();
        for (int i = 0; i < next.n; i++) {
            assertTrue(next.evidence.get(i).isEmpty(), "evidence at " + i + ": " + next.evidence.get(i));
            assertTrue(next.rejections.get(i).stream().allMatch(x -> old_.contains(x.reason())),
                    "replica " + i + ": " + next.rejections.get(i));
            assertEquals(START_VIEW, next.replica(i).view());
            assertEquals(0, next.replica(i).futureBuffered());
            assertEquals(END + 3, next.apps.get(i).height);
        }
        orderOneByOne(next, "after", 1);
        assertEquals(END + 4, next.apps.get(2).height, "and goes on ordering");
    }

    @Test
    void aRestoredStartedCoreKeepsItsStart() {
        Cluster old = endedEpoch();
        Cluster next = nextEpoch(old);
        int primary = next.base.primary(START_VIEW);
        Config config = next.base.withReplica(primary, next.keys.get(primary));
        // Restored with nothing written yet, or with only the previous epoch's records in its WAL.
        for (List<PersistRecord> records : List.of(List.<PersistRecord>of(), old.persisted.get(2))) {
            Replica r = Replica.restore(config, records, END);
            r.checkInvariants();
            assertEquals(START_VIEW, r.view());
            assertTrue(r.viewActive());
            assertEquals(END, r.lowWatermark());
            assertEquals(config.genesisDigest(), r.stableDigest());
            Output out = r.step(new Event.ClientRequest(TestRequests.signed("restored")));
            PrePrepare pp = out.messages().get(0).message().as(PrePrepare.class).payload();
            assertEquals(END + 1, pp.sequence());
            assertEquals(START_VIEW, pp.view());
        }
        assertThrows(IllegalArgumentException.class, () -> Replica.restore(config, List.of(), END - 1));

        orderOneByOne(next, "new", 3);
        next.restart(3);
        next.restart(primary);
        assertEquals(START_VIEW, next.replica(3).view());
        assertEquals(END, next.replica(3).lowWatermark());
        orderOneByOne(next, "after", 2);
        for (int i = 0; i < next.n; i++) {
            assertEquals(END + 5, next.apps.get(i).height, "replica " + i);
        }
        next.assertAgreement();
    }
}
