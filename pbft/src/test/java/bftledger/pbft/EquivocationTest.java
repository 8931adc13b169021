package bftledger.pbft;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import bftledger.crypto.Digest;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** A primary (or backup) that signs conflicting messages is caught with both signed messages; honest replicas never diverge. */
class EquivocationTest {

    /** The primary sends a different batch (other timestamp) for the same sequence to the upper half of the backups. */
    private static void equivocatingPrimary(Cluster c, boolean alsoSendBothToReplicaOne) {
        MessageFactory primary = c.factory(0);
        c.tamper = e -> {
            if (e.from() != 0 || e.wire()[0] != MessageType.PRE_PREPARE.code()) {
                return List.of(e);
            }
            PrePrepare pp = ViewChangeTest.decode(c, e.wire()).as(PrePrepare.class).payload();
            Signed<PrePrepare> twin = primary.prePrepare(pp.view(), pp.sequence(),
                    new Batch(pp.batch().timestampMillis() + 1, pp.batch().requests()));
            List<Cluster.Envelope> out = new ArrayList<>();
            if (e.to() > c.n / 2) {
                out.add(new Cluster.Envelope(0, e.to(), twin.wire()));
            } else {
                out.add(e);
                if (alsoSendBothToReplicaOne && e.to() == 1) {
                    out.add(new Cluster.Envelope(0, 1, twin.wire()));
                }
            }
            return out;
        };
    }

    @Test
    void conflictingPrePreparesAreEvidenceWithBothSignedMessages() {
        Cluster c = new Cluster(1, cfg -> cfg.withTimeouts(4, 4, 3));
        equivocatingPrimary(c, true);
        c.submit(TestRequests.signed("eq"));
        c.deliverAll();
        List<Output.Evidence> ev = c.evidence.get(1);
        assertEquals(1, ev.size());
        Output.Evidence e = ev.get(0);
        assertEquals(0, e.replica());
        assertEquals(MessageType.PRE_PREPARE, e.type());
        assertEquals(1, e.sequence());
        assertEquals(0, e.first().signer());
        assertEquals(0, e.second().signer());
        assertNotEquals(e.first().as(PrePrepare.class).payload().digest(), e.second().as(PrePrepare.class).payload().digest());
        assertTrue(c.verifier.verify(e.first()).accepted() && c.verifier.verify(e.second()).accepted(),
                "evidence is two validly signed messages as received");
    }

    /**
     * With f = 1 the twin reaches only replica 3, so replicas 0-2 commit the original and replica
     * 3, unable to prepare either, times out alone and waits in its view change; it catches up
     * through the next stable checkpoint and state transfer (K = 2 here). With f >= 2 neither
     * batch prepares, everyone times out, and the new view orders the request.
     */
    @ParameterizedTest
    @ValueSource(ints = {1, 2, 3})
    void anEquivocatingPrimaryCausesNoDivergence(int f) {
        Cluster c = new Cluster(f, cfg -> cfg.withTimeouts(4, 4, 3).withCheckpoints(2, 4));
        equivocatingPrimary(c, false);
        Request r = TestRequests.signed("eq" + f);
        c.submit(r);
        c.deliverAll();
        c.tick(20);
        c.tamper = List::of;
        c.submit(TestRequests.signed("after" + f));
        c.deliverAll();
        c.tick(20);
        c.assertAgreement();
        for (int i = 1; i < c.n; i++) {
            assertTrue(c.executedIds(i).contains(r.id()), "replica " + i + " executed the request");
            assertEquals(2, c.executedIds(i).size(), "each request once at replica " + i);
            c.assertCertificates(i);
        }
    }

    @Test
    void aReplicaLearnsOfEquivocationFromAPreparedCertificateInAViewChange() {
        Cluster c = new Cluster(1, cfg -> cfg.withTimeouts(4, 4, 3));
        equivocatingPrimary(c, false);
        c.dropIf = e -> e.wire()[0] == MessageType.COMMIT.code();
        c.submit(TestRequests.signed("eq-vc"));
        c.deliverAll();
        c.tick(6);
        // Replicas 1 and 2 prepared the original; their VIEW-CHANGEs carry the primary's signed
        // pre-prepare, which conflicts with the twin replica 3 accepted.
        assertTrue(c.evidence.get(3).stream().anyMatch(e -> e.replica() == 0 && e.type() == MessageType.PRE_PREPARE
                        && e.sequence() == 1),
                "evidence at replica 3: " + c.evidence.get(3));
    }

    /** One pair of signed messages proves a conflict; more of the same slot add nothing. */
    @Test
    void aConflictIsReportedOncePerSlotHoweverOftenItIsRepeated() {
        Cluster c = new Cluster(1);
        MessageFactory byz = c.factory(2);
        c.step(1, new Event.PeerMessage(byz.prepare(0, 1, Batch.NULL.digest())));
        for (int k = 0; k < 50; k++) {
            c.step(1, new Event.PeerMessage(byz.prepare(0, 1, new Batch(1000 + k, List.of()).digest())));
        }
        assertEquals(1, c.evidence.get(1).size(), "evidence: " + c.evidence.get(1));
        // Another slot is another conflict.
        c.step(1, new Event.PeerMessage(byz.prepare(0, 2, Batch.NULL.digest())));
        c.step(1, new Event.PeerMessage(byz.prepare(0, 2, new Batch(7, List.of()).digest())));
        assertEquals(2, c.evidence.get(1).size());
    }

    @Test
    void conflictingVotesFromABackupAreEvidence() {
        Cluster c = new Cluster(1);
        MessageFactory byz = c.factory(2);
        Digest a = Batch.NULL.digest();
        Digest b = new Batch(7, List.of()).digest();
        c.step(1, new Event.PeerMessage(byz.prepare(0, 1, a)));
        c.step(1, new Event.PeerMessage(byz.prepare(0, 1, b)));
        c.step(1, new Event.PeerMessage(byz.commit(0, 1, a)));
        c.step(1, new Event.PeerMessage(byz.commit(0, 1, b)));
        assertEquals(List.of(MessageType.PREPARE, MessageType.COMMIT),
                c.evidence.get(1).stream().map(Output.Evidence::type).toList());
        assertEquals(RejectReason.CONFLICTING_MESSAGE, ViewChangeTest.last(c.rejections.get(1)).reason());
        assertFalse(c.evidence.get(1).stream().anyMatch(e -> e.replica() != 2));
    }
}
