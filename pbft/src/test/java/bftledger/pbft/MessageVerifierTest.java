package bftledger.pbft;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import bftledger.crypto.Digest;
import bftledger.crypto.KeyPair;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** One test per verdict reason of the stateless verifier. */
class MessageVerifierTest {
    final Fixtures fx = new Fixtures();

    private RejectReason reason(Signed<?> m) {
        Verdict<Signed<?>> v = fx.verifier.verify(m.wire());
        return v instanceof Verdict.Rejected<Signed<?>> r ? r.reason() : null;
    }

    @Test
    void validMessagesAreAccepted() {
        assertEquals(null, reason(fx.as(0).prePrepare(0, 1, fx.batch("ok"))));
        assertEquals(null, reason(fx.as(1).prepare(0, 1, Fixtures.digest(1))));
        assertEquals(null, reason(fx.as(0).commit(0, 1, Fixtures.digest(1))));
        assertEquals(null, reason(fx.as(3).checkpoint(4, Fixtures.digest(1))));
    }

    /** What one verify(byte[]) says: the reason, or null when accepted. */
    private RejectReason reason(Verdict<Signed<?>> v) {
        return v instanceof Verdict.Rejected<Signed<?>> r ? r.reason() : null;
    }

    @Test
    void aGroupVerifiedTogetherGetsTheVerdictsOfOneByOne() {
        byte[] tampered = fx.as(2).prepare(0, 1, Digest.ZERO).wire();
        tampered[20] ^= 1;
        byte[] truncated = java.util.Arrays.copyOf(fx.as(1).commit(0, 1, Fixtures.digest(2)).wire(), 12);
        List<byte[]> group = List.of(
                fx.as(1).prepare(0, 1, Fixtures.digest(1)).wire(),
                fx.as(2).prepare(0, 1, Fixtures.digest(1)).wire(),
                MessageCodec.sign(new Prepare(0, 1, Digest.ZERO, 2), 2, fx.keys.get(3)).wire(),
                fx.as(3).commit(0, 1, Fixtures.digest(1)).wire(),
                tampered,
                truncated,
                MessageCodec.sign(new Commit(0, 1, Digest.ZERO, 7), 7, KeyPair.deterministic("outsider")).wire(),
                fx.as(0).prePrepare(0, 2, fx.batch("grouped")).wire(),
                MessageCodec.sign(new Prepare(0, 1, Digest.ZERO, 2), 1, fx.keys.get(1)).wire(),
                fx.as(3).checkpoint(4, Fixtures.digest(1)).wire());
        List<Verdict<Signed<?>>> together = fx.verifier.verifyAll(group);
        assertEquals(group.size(), together.size());
        List<RejectReason> expected = new ArrayList<>();
        List<RejectReason> actual = new ArrayList<>();
        for (int i = 0; i < group.size(); i++) {
            expected.add(reason(fx.verifier.verify(group.get(i))));
            actual.add(reason(together.get(i)));
            if (together.get(i) instanceof Verdict.Accepted<Signed<?>> a) {
                assertEquals(java.util.Arrays.toString(group.get(i)), java.util.Arrays.toString(a.value().wire()));
            }
        }
        assertEquals(expected, actual);
        // And the cases are what they claim to be: four accepted, each kind of refusal present.
        assertEquals(java.util.Arrays.asList(null, null, RejectReason.BAD_SIGNATURE, null, RejectReason.BAD_SIGNATURE,
                expected.get(5), RejectReason.NOT_A_MEMBER, null, RejectReason.SIGNER_MISMATCH, null), actual);
        assertTrue(expected.get(5) != null, "a truncated message is refused");
        // A group of valid messages only, large enough to be one batch equation.
        List<byte[]> valid = new ArrayList<>();
        for (int s = 1; s <= 8; s++) {
            valid.add(fx.as(1 + s % 3).prepare(0, s, Fixtures.digest(s)).wire());
        }
        assertTrue(fx.verifier.verifyAll(valid).stream().allMatch(v -> reason(v) == null));
    }

    @Test
    void nonMemberSigner() {
        Signed<Commit> m = MessageCodec.sign(new Commit(0, 1, Digest.ZERO, 7), 7, KeyPair.deterministic("outsider"));
        assertEquals(RejectReason.NOT_A_MEMBER, reason(m));
    }

    @Test
    void badSignature() {
        Signed<Prepare> forged = MessageCodec.sign(new Prepare(0, 1, Digest.ZERO, 2), 2, fx.keys.get(3));
        assertEquals(RejectReason.BAD_SIGNATURE, reason(forged));
        byte[] w = fx.as(2).prepare(0, 1, Digest.ZERO).wire();
        w[20] ^= 1; // inside the signed payload: the bytes as received no longer match
        assertEquals(RejectReason.BAD_SIGNATURE, fx.verifier.verify(w) instanceof Verdict.Rejected<Signed<?>> r ? r.reason() : null);
        Signed<Prepare> garbage = MessageCodec.withSignature(new Prepare(0, 1, Digest.ZERO, 2), 2, new byte[64]);
        assertEquals(RejectReason.BAD_SIGNATURE, reason(garbage));
    }

    @Test
    void aSignatureForAnotherDomainDoesNotVerify() {
        // Replica 2 signs PREPARE bytes; presented as a COMMIT with the same layout it must fail.
        Signed<Prepare> p = fx.as(2).prepare(0, 1, Digest.ZERO);
        Signed<Commit> c = MessageCodec.withSignature(new Commit(0, 1, Digest.ZERO, 2), 2, p.signature());
        assertEquals(RejectReason.BAD_SIGNATURE, reason(c));
    }

    @Test
    void signerMismatch() {
        assertEquals(RejectReason.SIGNER_MISMATCH, reason(MessageCodec.sign(new Prepare(0, 1, Digest.ZERO, 2), 1, fx.keys.get(1))));
        assertEquals(RejectReason.SIGNER_MISMATCH, reason(MessageCodec.sign(new Commit(0, 1, Digest.ZERO, 2), 1, fx.keys.get(1))));
        assertEquals(RejectReason.SIGNER_MISMATCH, reason(MessageCodec.sign(new Checkpoint(4, Digest.ZERO, 2), 1, fx.keys.get(1))));
        assertEquals(RejectReason.SIGNER_MISMATCH, reason(MessageCodec.sign(new Status(0, true, 0, 0, 2), 1, fx.keys.get(1))));
        assertEquals(RejectReason.SIGNER_MISMATCH, reason(MessageCodec.sign(
                new ViewChange(1, 0, Digest.ZERO, 2, List.of(), List.of()), 1, fx.keys.get(1))));
    }

    @Test
    void notPrimary() {
        assertEquals(RejectReason.NOT_PRIMARY, reason(fx.as(1).prePrepare(0, 1, fx.batch("np"))));
        assertEquals(RejectReason.NOT_PRIMARY, reason(fx.as(2).newView(1, List.of(), List.of())));
    }

    @Test
    void prepareFromPrimary() {
        assertEquals(RejectReason.PREPARE_FROM_PRIMARY, reason(fx.as(1).prepare(1, 1, Digest.ZERO)));
    }

    @Test
    void batchTooLargeInBytes() {
        // Each request (510 bytes) is under the request bound, together over the batch bound of
        // 1000 bytes, and the frame is still under the size bound (which allows for 4 requests).
        List<Request> rs = new ArrayList<>();
        for (int k = 0; k < 2; k++) {
            rs.add(TestRequests.signed(TestRequests.CLIENT, new byte[414 + k]));
        }
        assertEquals(RejectReason.BATCH_TOO_LARGE, reason(fx.as(0).prePrepare(0, 1, new Batch(1, rs))));
    }

    @Test
    void duplicateRequestInBatch() {
        Request r = TestRequests.signed("dup");
        assertEquals(RejectReason.DUPLICATE_REQUEST_IN_BATCH, reason(fx.as(0).prePrepare(0, 1, new Batch(1, List.of(r, r)))));
    }

    @Test
    void invalidRequestInsideAPrePrepare() {
        Request good = TestRequests.signed("good");
        Request wrongId = new Request(Digest.ZERO, good.payload());
        assertEquals(RejectReason.INVALID_REQUEST, reason(fx.as(0).prePrepare(0, 1, new Batch(1, List.of(wrongId)))));
        byte[] p = good.payload();
        p[p.length - 1] ^= 1;
        Request badSig = new Request(bftledger.crypto.Sha256.hash(p), p);
        Verdict<Request> v = fx.verifier.verifyRequest(badSig);
        assertEquals(RejectReason.INVALID_REQUEST, ((Verdict.Rejected<Request>) v).reason());
        assertTrue(((Verdict.Rejected<Request>) v).detail().contains("bad client signature"));
    }

    @Test
    void oversizeRequest() {
        Request big = TestRequests.signed(TestRequests.CLIENT, new byte[700]);
        assertEquals(RejectReason.OVERSIZE, ((Verdict.Rejected<Request>) fx.verifier.verifyRequest(big)).reason());
    }

    @Test
    void checkpointAtANonCheckpointSequence() {
        assertEquals(RejectReason.NOT_CHECKPOINT_SEQUENCE, reason(fx.as(1).checkpoint(5, Digest.ZERO)));
    }

    @Test
    void viewChangeWithABadCheckpointProof() {
        Digest d = Fixtures.digest(4);
        assertEquals(RejectReason.BAD_CHECKPOINT_PROOF, reason(
                fx.as(1).viewChange(1, 4, d, fx.checkpointProof(4, d, 0, 1), List.of())), "too few");
        assertEquals(RejectReason.BAD_CHECKPOINT_PROOF, reason(
                fx.as(1).viewChange(1, 4, d, fx.checkpointProof(4, Fixtures.digest(5), 0, 1, 2), List.of())), "other digest");
        List<Signed<Checkpoint>> repeated = new ArrayList<>(fx.checkpointProof(4, d, 0, 1));
        repeated.add(repeated.get(0));
        assertEquals(RejectReason.BAD_CHECKPOINT_PROOF, reason(fx.as(1).viewChange(1, 4, d, repeated, List.of())), "one signer twice");
        assertEquals(RejectReason.BAD_CHECKPOINT_PROOF, reason(
                fx.as(1).viewChange(1, 0, d, List.of(), List.of())), "sequence 0 must carry the genesis digest");
    }

    @Test
    void viewChangeWithABadPreparedCertificate() {
        Batch b = fx.batch("pc");
        assertEquals(null, reason(fx.as(1).viewChange(1, 0, Digest.ZERO, List.of(), List.of(fx.certificate(0, 1, b, 1, 2)))));
        assertEquals(RejectReason.BAD_PREPARED_CERTIFICATE, reason(
                fx.as(1).viewChange(1, 0, Digest.ZERO, List.of(), List.of(fx.certificate(0, 1, b, 1)))), "one prepare");
        assertEquals(RejectReason.BAD_PREPARED_CERTIFICATE, reason(
                fx.as(1).viewChange(1, 0, Digest.ZERO, List.of(), List.of(fx.certificate(0, 9, b, 1, 2)))), "above the window");
        assertEquals(RejectReason.BAD_PREPARED_CERTIFICATE, reason(
                fx.as(1).viewChange(1, 0, Digest.ZERO, List.of(), List.of(fx.certificate(1, 1, b, 2, 3)))), "view not below");
        PreparedCertificate good = fx.certificate(0, 1, b, 1, 2);
        PreparedCertificate mixed = new PreparedCertificate(good.prePrepare(),
                List.of(good.prepares().get(0), fx.as(3).prepare(0, 1, Digest.ZERO)));
        assertEquals(RejectReason.BAD_PREPARED_CERTIFICATE, reason(
                fx.as(1).viewChange(1, 0, Digest.ZERO, List.of(), List.of(mixed))), "prepare for another digest");
    }

    private List<Signed<ViewChange>> viewChanges(long view, int... replicas) {
        List<Signed<ViewChange>> v = new ArrayList<>();
        for (int r : replicas) {
            v.add(fx.as(r).viewChange(view, 0, Digest.ZERO, List.of(), List.of()));
        }
        return v;
    }

    @Test
    void newViewWithTooFewOrForeignViewChanges() {
        assertEquals(null, reason(fx.as(1).newView(1, viewChanges(1, 1, 2, 3), List.of())));
        assertEquals(RejectReason.BAD_NEW_VIEW, reason(fx.as(1).newView(1, viewChanges(1, 1, 2), List.of())));
        List<Signed<ViewChange>> foreign = viewChanges(1, 1, 2);
        foreign.addAll(viewChanges(2, 3));
        assertEquals(RejectReason.BAD_NEW_VIEW, reason(fx.as(1).newView(1, foreign, List.of())));
    }

    @Test
    void newViewWhoseOSetIsNotRecomputable() {
        Batch b = fx.batch("o");
        List<Signed<ViewChange>> v = List.of(
                fx.as(1).viewChange(1, 0, Digest.ZERO, List.of(), List.of()),
                fx.as(2).viewChange(1, 0, Digest.ZERO, List.of(), List.of(fx.certificate(0, 2, b, 2, 3))),
                fx.as(3).viewChange(1, 0, Digest.ZERO, List.of(), List.of()));
        MessageFactory p = fx.as(1);
        Signed<PrePrepare> nullAt1 = p.prePrepare(1, 1, Batch.NULL);
        Signed<PrePrepare> bAt2 = p.prePrepare(1, 2, b);
        assertEquals(null, reason(p.newView(1, v, List.of(nullAt1, bAt2))));
        assertEquals(RejectReason.NEW_VIEW_MISMATCH, reason(p.newView(1, v, List.of(bAt2))), "gap not filled");
        assertEquals(RejectReason.NEW_VIEW_MISMATCH, reason(p.newView(1, v,
                List.of(nullAt1, p.prePrepare(1, 2, fx.batch("other"))))), "other batch");
        assertEquals(RejectReason.NEW_VIEW_MISMATCH, reason(p.newView(1, v, List.of(nullAt1, bAt2, p.prePrepare(1, 3, Batch.NULL)))),
                "extra entry");
    }

    @Test
    void theOSetTakesTheHighestViewCertificateAndTheHighestCheckpoint() {
        Batch old = fx.batch("old");
        Batch newer = fx.batch("newer");
        Digest d4 = Fixtures.digest(4);
        List<ViewChange> v = List.of(
                new ViewChange(3, 0, Digest.ZERO, 1, List.of(), List.of(fx.certificate(0, 5, old, 1, 2))),
                new ViewChange(3, 4, d4, 2, fx.checkpointProof(4, d4, 0, 1, 2), List.of(fx.certificate(2, 5, newer, 1, 3),
                        fx.certificate(1, 7, old, 2, 3))),
                new ViewChange(3, 0, Digest.ZERO, 3, List.of(), List.of(fx.certificate(0, 2, old, 1, 2))));
        NewViewPlan plan = NewViewPlan.compute(v);
        assertEquals(4, plan.stableSequence());
        assertEquals(d4, plan.stableDigest());
        assertEquals(List.of(5L, 6L, 7L), List.copyOf(plan.batches().keySet()), "sequence 2 is below min-s");
        assertEquals(newer.digest(), plan.batches().get(5L).digest(), "highest view wins");
        assertTrue(plan.batches().get(6L).isNull());
        assertEquals(old.digest(), plan.batches().get(7L).digest());
    }

    /** A core started at an epoch: its start needs no proof, and what came before it is old, not forged. */
    @Test
    void aStartedCoreTakesItsStartForTheGenesisAndEarlierMessagesForOld() {
        Digest start = Fixtures.digest(9);
        long sv = 1L << 32;
        MessageVerifier started = new MessageVerifier(fx.config.withStart(8, sv, start), TestRequests.VALIDATOR);
        java.util.function.Function<Signed<?>, RejectReason> verdict = m -> reason(started.verify(m.wire()));
        Digest d = Fixtures.digest(1);
        Batch b = fx.batch("epoch");
        assertEquals(null, verdict.apply(fx.as(1).viewChange(sv + 1, 8, start, List.of(), List.of())));
        assertEquals(RejectReason.BAD_CHECKPOINT_PROOF, verdict.apply(fx.as(1).viewChange(sv + 1, 8, Digest.ZERO, List.of(), List.of())),
                "the start carries the start digest");
        assertEquals(RejectReason.OLD_SEQUENCE, verdict.apply(fx.as(1).viewChange(sv + 1, 4, d, fx.checkpointProof(4, d, 0, 1, 2),
                List.of())));
        assertEquals(RejectReason.OLD_VIEW, verdict.apply(fx.as(1).viewChange(5, 8, start, List.of(), List.of())));
        assertEquals(RejectReason.OLD_VIEW, verdict.apply(fx.as(1).prepare(3, 9, d)));
        assertEquals(RejectReason.OLD_SEQUENCE, verdict.apply(fx.as(1).prepare(sv, 8, d)));
        assertEquals(RejectReason.OLD_SEQUENCE, verdict.apply(fx.as(1).checkpoint(8, d)));
        assertEquals(null, verdict.apply(fx.as(1).checkpoint(12, d)));
        assertEquals(RejectReason.OLD_VIEW, verdict.apply(fx.as(1).newView(5, viewChanges(5, 1, 2, 3), List.of())));
        assertEquals(RejectReason.OLD_VIEW, verdict.apply(fx.as(1).status(2, true, 0, 3)));
        assertEquals(null, verdict.apply(fx.as(1).viewChange(sv + 1, 8, start, List.of(), List.of(fx.certificate(sv, 9, b, 1, 2)))));
        assertEquals(RejectReason.BAD_PREPARED_CERTIFICATE, verdict.apply(fx.as(1).viewChange(sv + 1, 8, start, List.of(),
                List.of(fx.certificate(3, 9, b, 1, 2)))), "a certificate from before the epoch is its sender's fault");
        assertEquals(RejectReason.OLD_VIEW, verdict.apply(MessageCodec.withSignature(new Prepare(3, 9, d, 2), 2, new byte[64])),
                "dropped before its signature is checked: the old set may number its replicas otherwise");
        assertEquals(RejectReason.OLD_VIEW, reason(started.verifyAll(List.of(fx.as(2).prepare(3, 9, d).wire())).get(0)));
    }

    /** Only the core knows whether its epoch ends, so the verifier takes O cut at O's own end; the core is exact. */
    @Test
    void theVerifierTakesAnOSetCutShortWhichOnlyTheCoreCanJudge() {
        Batch b = fx.batch("cut");
        List<Signed<ViewChange>> v = List.of(
                fx.as(1).viewChange(1, 0, Digest.ZERO, List.of(), List.of(fx.certificate(0, 2, b, 2, 3))),
                fx.as(2).viewChange(1, 0, Digest.ZERO, List.of(), List.of()),
                fx.as(3).viewChange(1, 0, Digest.ZERO, List.of(), List.of(fx.certificate(0, 1, b, 2, 3))));
        MessageFactory p = fx.as(1);
        assertEquals(null, reason(p.newView(1, v, List.of(p.prePrepare(1, 1, b)))));
        assertEquals(RejectReason.NEW_VIEW_MISMATCH, reason(p.newView(1, v, List.of(p.prePrepare(1, 1, Batch.NULL)))));
        assertEquals(2, NewViewPlan.compute(v.stream().map(Signed::payload).toList()).batches().size());
        assertEquals(1, NewViewPlan.compute(v.stream().map(Signed::payload).toList(), 1).batches().size());
    }
}
