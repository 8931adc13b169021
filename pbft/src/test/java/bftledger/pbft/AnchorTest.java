package bftledger.pbft;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import bftledger.crypto.Digest;
import bftledger.crypto.HeaderAnchor;
import bftledger.crypto.Sha256;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * Header anchors: a primary names the sequence before the latest it executed in each batch it
 * proposes, a backup prepares only a batch naming what it executed itself, and an idle primary
 * certifies its last block with an empty batch (see {@link HeaderAnchors}).
 */
class AnchorTest {

    private static long preparesFor(Cluster c, int replica, long sequence) {
        return c.sent.get(replica).stream().filter(m -> m.type() == MessageType.PREPARE)
                .filter(m -> m.as(Prepare.class).payload().sequence() == sequence).count();
    }

    @Test
    void aPrimaryNamesTheSequenceBeforeTheLastItExecutedAndEveryReplicaExecutesThatName() {
        Cluster c = new Cluster(1);
        for (String body : List.of("a", "b", "c")) {
            c.submit(TestRequests.signed(body));
            c.deliverAll();
        }
        for (int i = 0; i < c.n; i++) {
            List<Output.CommittedBatch> executed = c.apps.get(i).executed;
            assertEquals(3, executed.size());
            assertEquals(HeaderAnchor.NONE, executed.get(0).anchor());
            assertEquals(HeaderAnchor.NONE, executed.get(1).anchor(), "one executed: nothing before it to name");
            assertEquals(new HeaderAnchor(1, c.apps.get(i).digests.get(1L)), executed.get(2).anchor());
        }
        c.assertAgreement();
        c.assertCertificates(3);
    }

    @Test
    void aPrimaryProposesTheNextBatchWhenTheLastCommitsBeforeExecutingIt() {
        Cluster c = new Cluster(1, cfg -> cfg.withBatching(16, 1 << 20, 1 << 16, 1));
        c.submit(TestRequests.signed("a"));
        c.deliverAll();
        long[] primaryHeightAtProposal = {-1};
        c.tamper = e -> {
            if (e.from() == 0 && e.wire()[0] == MessageType.PRE_PREPARE.code()
                    && ViewChangeTest.decode(c, e.wire()).as(PrePrepare.class).payload().sequence() == 3) {
                primaryHeightAtProposal[0] = c.apps.get(0).height;
            }
            return List.of(e);
        };
        c.submit(TestRequests.signed("b")); // batch 2, proposed at once
        c.submit(TestRequests.signed("c")); // waits while batch 2 is in flight
        c.deliverAll();
        assertEquals(1, primaryHeightAtProposal[0], "batch 3 proposed in the step that committed batch 2, before executing it");
        for (int i = 0; i < c.n; i++) {
            List<Output.CommittedBatch> executed = c.apps.get(i).executed;
            assertEquals(3, executed.size());
            assertEquals(new HeaderAnchor(1, c.apps.get(i).digests.get(1L)), executed.get(2).anchor(),
                    "one behind the latest committed, which every replica executed");
        }
        c.assertAgreement();
    }

    @Test
    void aBackupStillExecutingTheLatestBatchPreparesTheNextAtOnce() {
        Cluster c = new Cluster(1);
        c.submit(TestRequests.signed("a"));
        c.deliverAll();
        // Replica 3 misses the COMMITs for sequence 2, so it has executed 1 but not 2.
        c.dropIf = e -> e.to() == 3 && e.wire()[0] == MessageType.COMMIT.code()
                && ViewChangeTest.decode(c, e.wire()).as(Commit.class).payload().sequence() == 2;
        c.submit(TestRequests.signed("b"));
        c.deliverAll();
        assertEquals(1, c.replica(3).lastExecuted());
        assertEquals(2, c.replica(0).lastExecuted());
        c.submit(TestRequests.signed("c"));
        c.deliverAll();
        assertEquals(1, preparesFor(c, 3, 3), "batch 3 names sequence 1, which replica 3 executed");
        c.assertAgreement();
    }

    @Test
    void aBackupDoesNotPrepareABatchNamingAHeaderItDidNotExecute() {
        Cluster c = new Cluster(1, cfg -> cfg.withTimeouts(4, 4, 3));
        c.submit(TestRequests.signed("first"));
        c.deliverAll();
        // A Byzantine primary names block 1 with a digest no correct replica executed.
        MessageFactory primary = c.factory(0);
        Digest forged = Sha256.hash("not what executed".getBytes());
        c.tamper = e -> {
            if (e.from() != 0 || e.wire()[0] != MessageType.PRE_PREPARE.code()) {
                return List.of(e);
            }
            PrePrepare pp = ViewChangeTest.decode(c, e.wire()).as(PrePrepare.class).payload();
            if (pp.view() != 0) {
                return List.of(e);
            }
            Batch lying = new Batch(pp.batch().timestampMillis(), pp.batch().requests(), new HeaderAnchor(1, forged));
            return List.of(new Cluster.Envelope(0, e.to(), primary.prePrepare(pp.view(), pp.sequence(), lying).wire()));
        };
        Request second = TestRequests.signed("second");
        c.submit(second);
        c.deliverAll();
        for (int i = 1; i < c.n; i++) {
            assertEquals(0, preparesFor(c, i, 2), "backup " + i + " prepared a batch naming a header it did not execute");
            assertTrue(c.rejections.get(i).stream().anyMatch(r -> r.reason() == RejectReason.ANCHOR_MISMATCH));
        }
        // The request is not lost: the backups leave the view and the next primary orders it.
        c.tick(30);
        c.tamper = List::of;
        c.tick(30);
        for (int i = 0; i < c.n; i++) {
            assertTrue(c.executedIds(i).contains(second.id()), "replica " + i + " executed the request after the view change");
        }
        c.assertAgreement();
    }

    @Test
    void aBackupHoldsItsPrepareUntilItExecutedTheNamedSequence() {
        Cluster c = new Cluster(1);
        // Replica 3 misses every COMMIT for sequences 1 and 2, so it executes neither yet.
        c.dropIf = e -> e.to() == 3 && e.wire()[0] == MessageType.COMMIT.code();
        c.submit(TestRequests.signed("a"));
        c.deliverAll();
        c.submit(TestRequests.signed("b"));
        c.deliverAll();
        assertEquals(0, c.replica(3).lastExecuted());
        c.dropIf = e -> false;
        c.submit(TestRequests.signed("c"));
        c.deliverAll();
        assertEquals(0, preparesFor(c, 3, 3), "replica 3 prepared a batch naming sequence 1 before executing it");
        assertEquals(3, c.replica(0).lastExecuted(), "the others commit without it");
        // The STATUS exchange brings it the missing COMMITs; it executes 1, then prepares 3.
        c.tick(Config.DEFAULT_STATUS_TICKS + 1);
        assertEquals(3, c.replica(3).lastExecuted());
        assertEquals(1, preparesFor(c, 3, 3));
        c.assertAgreement();
    }

    @Test
    void anIdlePrimaryCertifiesItsLastBlockOnceWithAnEmptyBatch() {
        Cluster c = new Cluster(1, cfg -> cfg.withAnchorIdle(3));
        c.submit(TestRequests.signed("a"));
        c.deliverAll();
        assertEquals(1, c.replica(0).lastExecuted());
        c.tick(2);
        assertEquals(1, c.replica(0).lastExecuted(), "not idle long enough yet");
        c.tick(10);
        for (int i = 0; i < c.n; i++) {
            List<Output.CommittedBatch> executed = c.apps.get(i).executed;
            assertEquals(2, executed.size(), "one empty batch, not one per idle period");
            Output.CommittedBatch certifying = executed.get(1);
            assertTrue(certifying.requests().isEmpty());
            assertEquals(new HeaderAnchor(1, c.apps.get(i).digests.get(1L)), certifying.anchor());
        }
    }

    @Test
    void anIdlePrimaryWithNothingUncertifiedProposesNothing() {
        Cluster c = new Cluster(1, cfg -> cfg.withAnchorIdle(1));
        c.tick(20);
        assertEquals(0, c.replica(0).lastExecuted());
    }

    /** The rules one by one, on a backup that executed sequences 1..10. */
    @Test
    void anchorsOutsideTheWindowOrUnknownOrWrongAreRefused() {
        Fixtures fx = new Fixtures();
        Map<Long, Digest> executed = new java.util.HashMap<>();
        for (long s = 1; s <= 10; s++) {
            executed.put(s, Fixtures.digest((int) s));
        }
        executed.remove(3L); // no longer kept
        HeaderAnchors rules = new HeaderAnchors(fx.config, executed::get);
        long window = fx.config.watermarkWindow();
        java.util.function.BiFunction<Long, HeaderAnchor, HeaderAnchors.Check> check = (sequence, anchor) ->
                rules.check(new PrePrepare(0, sequence, new Batch(1, List.of(), anchor)), 10);
        assertTrue(check.apply(11L, new HeaderAnchor(10, Fixtures.digest(10))).ok());
        assertTrue(check.apply(2L, HeaderAnchor.NONE).ok(), "nothing to name yet");
        assertEquals(RejectReason.ANCHOR_OUT_OF_RANGE, check.apply(window + 1, HeaderAnchor.NONE).reason());
        assertEquals(RejectReason.ANCHOR_OUT_OF_RANGE, check.apply(5L, new HeaderAnchor(5, Fixtures.digest(5))).reason());
        assertEquals(RejectReason.ANCHOR_OUT_OF_RANGE,
                check.apply(window + 2, new HeaderAnchor(1, Fixtures.digest(1))).reason());
        assertEquals(RejectReason.ANCHOR_UNKNOWN, check.apply(5L, new HeaderAnchor(3, Fixtures.digest(3))).reason());
        assertEquals(RejectReason.ANCHOR_MISMATCH, check.apply(5L, new HeaderAnchor(4, Fixtures.digest(5))).reason());
        assertTrue(check.apply(13L, new HeaderAnchor(12, Fixtures.digest(12))).pending());
        assertFalse(check.apply(13L, new HeaderAnchor(12, Fixtures.digest(12))).refused());
    }
}
