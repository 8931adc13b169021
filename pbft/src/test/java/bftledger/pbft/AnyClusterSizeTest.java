package bftledger.pbft;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import bftledger.crypto.Digest;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Test;

/**
 * The protocol with n > 3f+1 replicas: quorums of q = ceil((n+f+1)/2), prepared with q-1
 * PREPAREs, and the same faults tolerated as with 3f+1.
 */
class AnyClusterSizeTest {
    static final int TIMEOUT = 5;

    private static Cluster cluster(int n) {
        return Cluster.ofSize(n, cfg -> cfg.withTimeouts(TIMEOUT, TIMEOUT, 4).withCheckpoints(4, 8)
                .withBatching(1, 1 << 20, 1 << 16, 8));
    }

    @ParameterizedTest
    @ValueSource(ints = {5, 6, 7})
    void aRequestCommitsWithAQuorumOfCommits(int n) {
        Cluster c = cluster(n);
        Request r = TestRequests.signed("n" + n);
        c.submit(r);
        c.deliverAll();
        for (int i = 0; i < n; i++) {
            assertEquals(List.of(r.id()), c.executedIds(i), "replica " + i);
            assertEquals(c.base.quorum(), c.apps.get(i).executed.get(0).certificate().size());
            c.assertCertificates(i);
        }
        c.assertAgreement();
    }

    @ParameterizedTest
    @ValueSource(ints = {5, 6, 7})
    void aCrashedPrimaryIsReplacedAndProgressResumes(int n) {
        Cluster c = cluster(n);
        c.crash(0);
        List<Request> requests = new ArrayList<>();
        for (int k = 0; k < 10; k++) {
            requests.add(TestRequests.signed("vc" + n + "-" + k));
            c.submit(requests.get(k));
        }
        c.deliverAll();
        c.tick(4 * TIMEOUT);
        for (int i = 1; i < n; i++) {
            assertEquals(1, c.replica(i).view(), "replica " + i);
            assertTrue(c.replica(i).viewActive());
            assertEquals(requests.stream().map(Request::id).toList(), c.executedIds(i), "replica " + i);
            c.assertCertificates(i);
        }
        c.assertAgreement();
    }

    @ParameterizedTest
    @ValueSource(ints = {5, 6, 7})
    void fSilentBackupsAreTolerated(int n) {
        Cluster c = cluster(n);
        int f = c.base.f();
        for (int i = n - f; i < n; i++) {
            c.crash(i);
        }
        for (int k = 0; k < 10; k++) {
            c.submit(TestRequests.signed("silent" + n + "-" + k));
        }
        c.deliverAll();
        for (int i = 0; i < n - f; i++) {
            assertEquals(10, c.executedIds(i).size(), "replica " + i);
            assertTrue(c.replica(i).lowWatermark() >= 8, "checkpoints became stable without the silent ones");
        }
        c.assertAgreement();
    }

    /** f backups vote for other digests and sign conflicting checkpoints; the rest still commit and agree. */
    @ParameterizedTest
    @ValueSource(ints = {5, 6, 7})
    void fByzantineBackupsAreTolerated(int n) {
        Cluster c = cluster(n);
        int f = c.base.f();
        java.util.Set<Integer> byzantine = new java.util.HashSet<>();
        for (int i = n - f; i < n; i++) {
            byzantine.add(i);
        }
        c.tamper = e -> {
            if (!byzantine.contains(e.from())) {
                return List.of(e);
            }
            MessageFactory evil = c.factory(e.from());
            Signed<?> m = ViewChangeTest.decode(c, e.wire());
            Digest other = Fixtures.digest(e.to());
            Signed<?> lie = null;
            if (m.payload() instanceof Prepare p) {
                lie = evil.prepare(p.view(), p.sequence(), other);
            } else if (m.payload() instanceof Commit cm) {
                lie = evil.commit(cm.view(), cm.sequence(), other);
            } else if (m.payload() instanceof Checkpoint cp) {
                lie = evil.checkpoint(cp.sequence(), other);
            }
            return lie == null ? List.of(e) : List.of(new Cluster.Envelope(e.from(), e.to(), lie.wire()));
        };
        for (int k = 0; k < 10; k++) {
            c.submit(TestRequests.signed("byz" + n + "-" + k));
        }
        c.deliverAll();
        c.tick(2);
        for (int i = 0; i < n - f; i++) {
            assertEquals(10, c.executedIds(i).size(), "replica " + i);
            c.assertCertificates(i);
            for (Output.Evidence e : c.evidence.get(i)) {
                assertTrue(byzantine.contains(e.replica()), "evidence against " + e.replica());
            }
        }
        c.assertAgreement();
    }

    /** n = 5, f = 1: q = 4, so 2f = 2 PREPAREs no longer prepare and 2f+1 = 3 COMMITs no longer commit. */
    @Test
    void withFiveReplicasTheOldTwoFPlusOneNoLongerPreparesOrCommits() {
        Cluster c = Cluster.ofSize(5, cfg -> cfg);
        assertEquals(4, c.base.quorum());
        Batch batch = new Batch(1234, List.of(TestRequests.signed("five")));
        Digest d = batch.digest();
        c.step(1, new Event.PeerMessage(c.factory(0).prePrepare(0, 1, batch)));
        c.step(1, new Event.PeerMessage(c.factory(2).prepare(0, 1, d)));
        assertEquals(0, c.sentCount(1, MessageType.COMMIT), "own PREPARE and one other: 2, need 3");
        c.step(1, new Event.PeerMessage(c.factory(3).prepare(0, 1, d)));
        assertEquals(1, c.sentCount(1, MessageType.COMMIT), "prepared with 3 PREPAREs and the PRE-PREPARE");
        c.step(1, new Event.PeerMessage(c.factory(0).commit(0, 1, d)));
        c.step(1, new Event.PeerMessage(c.factory(2).commit(0, 1, d)));
        assertEquals(0, c.apps.get(1).height, "three matching COMMITs are not a quorum of five");
        c.step(1, new Event.PeerMessage(c.factory(3).commit(0, 1, d)));
        assertEquals(1, c.apps.get(1).height, "the fourth commits");
        assertEquals(4, c.apps.get(1).executed.get(0).certificate().size());
        c.assertCertificates(1);
    }

    /** The verifier counts the same quorums: q-1 PREPAREs in a certificate, q CHECKPOINTs and q VIEW-CHANGEs. */
    @Test
    void withFiveReplicasTheVerifierWantsTheLargerQuorums() {
        Cluster c = Cluster.ofSize(5, cfg -> cfg.withCheckpoints(4, 8));
        MessageVerifier v = c.verifier;
        Batch batch = new Batch(1234, List.of(TestRequests.signed("five")));
        Signed<PrePrepare> pp = c.factory(0).prePrepare(0, 3, batch);
        PreparedCertificate two = new PreparedCertificate(pp, List.of(c.factory(1).prepare(0, 3, batch.digest()),
                c.factory(2).prepare(0, 3, batch.digest())));
        List<Signed<Prepare>> threePrepares = new ArrayList<>(two.prepares());
        threePrepares.add(c.factory(3).prepare(0, 3, batch.digest()));
        PreparedCertificate three = new PreparedCertificate(pp, threePrepares);
        assertEquals("2 prepares, need 3", v.preparedCertificateProblem(two).orElse(""));
        assertTrue(v.preparedCertificateProblem(three).isEmpty());

        Digest d = Fixtures.digest(4);
        List<Signed<Checkpoint>> proof = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            proof.add(c.factory(i).checkpoint(4, d));
        }
        assertEquals("3 checkpoints, need 4", v.checkpointProofProblem(4, d, proof).orElse(""));
        proof.add(c.factory(3).checkpoint(4, d));
        assertTrue(v.checkpointProofProblem(4, d, proof).isEmpty());

        List<Signed<ViewChange>> vcs = new ArrayList<>();
        for (int i = 1; i <= 3; i++) {
            vcs.add(c.factory(i).viewChange(1, 0, Digest.ZERO, List.of(), List.of()));
        }
        Verdict<Signed<?>> tooFew = v.verify(c.factory(1).newView(1, vcs, List.of()).wire());
        assertEquals(RejectReason.BAD_NEW_VIEW, ((Verdict.Rejected<Signed<?>>) tooFew).reason());
        vcs.add(c.factory(4).viewChange(1, 0, Digest.ZERO, List.of(), List.of()));
        assertTrue(v.verify(c.factory(1).newView(1, vcs, List.of()).wire()).accepted());
    }
}
