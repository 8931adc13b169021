package bftledger.pbft;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Safety: the batch digest covers request ids and the timestamp, not payloads,
 * so a pre-prepare re-signed with other bytes under the same digest must never be carried into
 * a new view, whether it comes in a Byzantine old primary's prepared certificate or in a
 * Byzantine new primary's O. Honest replicas execute the same bytes at every sequence.
 */
class PayloadBindingTest {

    private static Cluster cluster() {
        return new Cluster(1, cfg -> cfg.withTimeouts(4, 4, 3).withCheckpoints(4, 8).withBatching(1, 1 << 20, 1 << 16, 8));
    }

    private static Request flipLastByte(Request r) {
        byte[] bytes = r.payload();
        bytes[bytes.length - 1] ^= 1;
        return new Request(r.id(), bytes);
    }

    @Test
    void aPreparedCertificateWithSubstitutedPayloadsIsRejectedAndHonestReplicasExecuteTheSameBytes() {
        Cluster c = cluster();
        Request r = TestRequests.signed("pay alice 10");
        // Only replica 3 commits sequence 1 in view 0; replica 1 never saw the pre-prepare.
        c.dropIf = e -> (e.wire()[0] == MessageType.PRE_PREPARE.code() && e.to() == 1)
                || (e.wire()[0] == MessageType.COMMIT.code() && e.to() != 3);
        c.submit(r);
        c.deliverAll();
        assertEquals(1, c.apps.get(3).height);
        c.dropIf = e -> false;
        List<Verdict<Signed<?>>> verdicts = new ArrayList<>();
        // Byzantine old primary 0: its VIEW-CHANGE carries its pre-prepare re-signed with other bytes.
        c.tamper = e -> {
            if (e.from() == 0 && e.wire()[0] == MessageType.VIEW_CHANGE.code()) {
                ViewChange vc = ViewChangeTest.decode(c, e.wire()).as(ViewChange.class).payload();
                if (vc.prepared().size() == 1) {
                    PreparedCertificate pc = vc.prepared().get(0);
                    Batch real = pc.prePrepare().payload().batch();
                    Batch fake = new Batch(real.timestampMillis(), List.of(flipLastByte(real.requests().get(0))));
                    assertEquals(real.digest(), fake.digest(), "same digest, other bytes");
                    Signed<PrePrepare> forged = c.factory(0).prePrepare(pc.view(), pc.sequence(), fake);
                    Signed<ViewChange> re = c.factory(0).viewChange(vc.newView(), vc.stableSequence(),
                            vc.stableDigest(), vc.checkpointProof(), List.of(new PreparedCertificate(forged, pc.prepares())));
                    verdicts.add(c.verifier.verify(re.wire()));
                    return List.of(new Cluster.Envelope(e.from(), e.to(), re.wire()));
                }
            }
            return List.of(e);
        };
        c.tick(20);
        assertTrue(!verdicts.isEmpty(), "the substitution was attempted");
        for (Verdict<Signed<?>> v : verdicts) {
            assertEquals(RejectReason.BAD_PREPARED_CERTIFICATE, ((Verdict.Rejected<Signed<?>>) v).reason(), v.toString());
        }
        byte[] at3 = c.apps.get(3).executed.get(0).requests().get(0).payload();
        for (int i = 1; i < 4; i++) {
            assertTrue(c.replica(i).view() >= 1 && c.replica(i).viewActive(), "replica " + i);
            Request executed = c.apps.get(i).executed.get(0).requests().get(0);
            assertArrayEquals(at3, executed.payload(), "replica " + i + " executed the bytes replica 3 executed");
        }
        c.assertAgreement();
    }

    @Test
    void aNewViewWhoseOSubstitutesPayloadsIsRejectedByVerifierAndCore() {
        Cluster c = cluster();
        c.dropIf = e -> e.wire()[0] == MessageType.COMMIT.code() && e.to() != 3;
        c.submit(TestRequests.signed("pay bob 20"));
        c.deliverAll();
        assertEquals(1, c.apps.get(3).height);
        c.dropIf = e -> false;
        List<Signed<NewView>> forgedSent = new ArrayList<>();
        // Byzantine new primary 1: keeps V, re-signs O with other bytes under the same digests.
        c.tamper = e -> {
            if (e.from() == 1 && e.wire()[0] == MessageType.NEW_VIEW.code()) {
                NewView nv = ViewChangeTest.decode(c, e.wire()).as(NewView.class).payload();
                List<Signed<PrePrepare>> o = new ArrayList<>();
                for (Signed<PrePrepare> pp : nv.prePrepares()) {
                    Batch real = pp.payload().batch();
                    o.add(c.factory(1).prePrepare(pp.payload().view(), pp.payload().sequence(),
                            new Batch(real.timestampMillis(), real.requests().stream().map(PayloadBindingTest::flipLastByte).toList())));
                }
                Signed<NewView> forged = c.factory(1).newView(nv.view(), nv.viewChanges(), o);
                forgedSent.add(forged);
                return List.of(new Cluster.Envelope(e.from(), e.to(), forged.wire()));
            }
            return List.of(e);
        };
        c.tick(6);
        assertTrue(!forgedSent.isEmpty(), "the forged NEW-VIEW was sent");
        Signed<NewView> forged = forgedSent.get(0);
        assertEquals(RejectReason.BAD_NEW_VIEW, ((Verdict.Rejected<Signed<?>>) c.verifier.verify(forged.wire())).reason());
        // The core's own recomputation of O catches it too, should a caller skip the verifier.
        for (int i : new int[] {0, 2}) {
            Replica r = c.replica(i);
            if (!r.viewActive() && r.view() == forged.payload().view()) {
                c.step(i, new Event.PeerMessage(forged));
                assertEquals(RejectReason.NEW_VIEW_MISMATCH, ViewChangeTest.last(c.rejections.get(i)).reason());
            }
        }
        c.tick(30);
        byte[] at3 = c.apps.get(3).executed.get(0).requests().get(0).payload();
        for (int i : new int[] {0, 2}) {
            assertTrue(c.apps.get(i).height >= 1, "replica " + i + " executed sequence 1 in a later view");
            assertArrayEquals(at3, c.apps.get(i).executed.get(0).requests().get(0).payload(), "replica " + i);
        }
        c.assertAgreement();
    }
}
