package bftledger.pbft.review;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import bftledger.pbft.Batch;
import bftledger.pbft.MessageType;
import bftledger.pbft.NewView;
import bftledger.pbft.PrePrepare;
import bftledger.pbft.PreparedCertificate;
import bftledger.pbft.Request;
import bftledger.pbft.Signed;
import bftledger.pbft.TestRequests;
import bftledger.pbft.ViewChange;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * SAFETY. The batch digest covers (timestamp, request ids) only, not the request payloads, and
 * pre-prepares nested in a VIEW-CHANGE's prepared certificates (and in a NEW-VIEW's O) are
 * verified with checkRequests=false. One Byzantine replica (the old primary) re-signs its
 * pre-prepare with the same ids and timestamp but different payload bytes, wraps it with the
 * honest backups' real prepares into a "valid" prepared certificate, and the honest new primary
 * copies that batch into O. Honest replicas then execute different payloads at one sequence.
 */
class PayloadSubstitutionTest {

    @Test
    void oneByzantineOldPrimaryMakesHonestReplicasExecuteDifferentPayloadsAtOneSequence() {
        Net net = new Net(1, cfg -> cfg.withTimeouts(4, 4, 3).withCheckpoints(4, 8).withBatching(1, 1 << 20, 1 << 16, 8));
        Request r = TestRequests.signed("pay alice 10");
        // View 0 (primary 0, Byzantine but running the honest core): the pre-prepare never reaches
        // replica 1; only replica 3 gets the commits, so only 3 commits in view 0.
        net.dropIf = e -> (e.wire()[0] == MessageType.PRE_PREPARE.code() && e.to() == 1)
                || (e.wire()[0] == MessageType.COMMIT.code() && e.to() != 3);
        net.submit(r);
        net.deliverAll();
        assertEquals(1, net.apps.get(3).height, "replica 3 committed and executed sequence 1 in view 0");
        assertEquals(0, net.apps.get(2).height);
        net.dropIf = e -> false;

        // Replica 0's VIEW-CHANGE carries a substituted certificate: same digest, other bytes.
        net.tamper = e -> {
            if (e.from() == 0 && e.wire()[0] == MessageType.VIEW_CHANGE.code()) {
                ViewChange vc = net.decode(e.wire()).as(ViewChange.class).payload();
                if (vc.prepared().size() == 1) {
                    PreparedCertificate pc = vc.prepared().get(0);
                    Batch real = pc.prePrepare().payload().batch();
                    Request original = real.requests().get(0);
                    byte[] garbage = original.payload();
                    garbage[garbage.length - 1] ^= 1; // the client signature no longer verifies
                    Batch fake = new Batch(real.timestampMillis(), List.of(new Request(original.id(), garbage)));
                    assertEquals(real.digest(), fake.digest(), "digest does not bind the payload");
                    Signed<PrePrepare> forged = net.factory(0).prePrepare(pc.view(), pc.sequence(), fake);
                    PreparedCertificate bad = new PreparedCertificate(forged, pc.prepares());
                    Signed<ViewChange> re = net.factory(0).viewChange(vc.newView(), vc.stableSequence(),
                            vc.stableDigest(), vc.checkpointProof(), List.of(bad));
                    assertTrue(net.verifier.verify(re.wire()).accepted(), "the verifier accepts the substituted certificate");
                    return List.of(new Net.Envelope(e.from(), e.to(), re.wire()));
                }
            }
            return List.of(e);
        };
        net.tick(20);
        for (int i = 1; i < 4; i++) {
            assertTrue(net.replica(i).view() >= 1 && net.replica(i).viewActive(), "replica " + i + " in view >= 1");
            assertTrue(net.apps.get(i).height >= 1, "replica " + i + " executed sequence 1");
        }
        // Agreement on what executed: honest replicas 1, 2, 3 must have executed identical requests.
        byte[] at3 = net.apps.get(3).executed.get(0).requests().get(0).payload();
        for (int i = 1; i < 3; i++) {
            Request executed = net.apps.get(i).executed.get(0).requests().get(0);
            assertArrayEquals(at3, executed.payload(), "replica " + i + " executed other bytes than replica 3 at sequence 1");
            assertTrue(TestRequests.VALIDATOR.problem(executed).isEmpty(), "replica " + i + " executed an invalid request");
        }
    }

    @Test
    void aByzantineNewPrimarySubstitutesPayloadsInOAndBackupsAcceptIt() {
        Net net = new Net(1, cfg -> cfg.withTimeouts(4, 4, 3).withCheckpoints(4, 8).withBatching(1, 1 << 20, 1 << 16, 8));
        Request r = TestRequests.signed("pay bob 20");
        // View 0 (primary 0 honest): only replica 3 receives the commits.
        net.dropIf = e -> e.wire()[0] == MessageType.COMMIT.code() && e.to() != 3;
        net.submit(r);
        net.deliverAll();
        assertEquals(1, net.apps.get(3).height);
        net.dropIf = e -> false;
        // Replica 1, primary of view 1, is Byzantine: its NEW-VIEW keeps V but re-signs O with
        // the same ids and timestamp and other payload bytes. NewViewPlan.mismatch compares digests only.
        net.tamper = e -> {
            if (e.from() == 1 && e.wire()[0] == MessageType.NEW_VIEW.code()) {
                NewView nv = net.decode(e.wire()).as(NewView.class).payload();
                List<Signed<PrePrepare>> o = new ArrayList<>();
                for (Signed<PrePrepare> pp : nv.prePrepares()) {
                    Batch real = pp.payload().batch();
                    List<Request> swapped = new ArrayList<>();
                    for (Request q : real.requests()) {
                        byte[] bytes = q.payload();
                        bytes[bytes.length - 1] ^= 1;
                        swapped.add(new Request(q.id(), bytes));
                    }
                    o.add(net.factory(1).prePrepare(pp.payload().view(), pp.payload().sequence(),
                            new Batch(real.timestampMillis(), swapped)));
                }
                Signed<NewView> forged = net.factory(1).newView(nv.view(), nv.viewChanges(), o);
                assertTrue(net.verifier.verify(forged.wire()).accepted(), "the verifier accepts the forged O");
                return List.of(new Net.Envelope(e.from(), e.to(), forged.wire()));
            }
            return List.of(e);
        };
        net.tick(20);
        byte[] at3 = net.apps.get(3).executed.get(0).requests().get(0).payload();
        for (int i : new int[] {0, 2}) {
            assertTrue(net.apps.get(i).height >= 1, "replica " + i + " executed sequence 1");
            Request executed = net.apps.get(i).executed.get(0).requests().get(0);
            assertArrayEquals(at3, executed.payload(), "honest replica " + i + " executed other bytes than replica 3 at sequence 1");
        }
    }
}
