package bftledger.pbft;

import bftledger.crypto.Digest;
import bftledger.crypto.SignatureBatch;
import bftledger.crypto.SignatureCheck;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/**
 * Checks a peer message once, before it reaches the core: size bound, well-formed layout,
 * sender is a member, signature valid over the bytes as received, structure valid for its type,
 * nested signed messages (in VIEW-CHANGE and NEW-VIEW) valid, client requests inside a
 * PRE-PREPARE valid per the {@link RequestValidator}. Stateless and thread-safe: the node runs
 * it on a pool. It does not know the replica's view or window; the core classifies for those.
 * It does know where the core's epoch starts: a message of an earlier epoch is dropped as old
 * before its signature is checked (see {@link EarlierEpoch}), since the previous validator set
 * may number its replicas differently and its signatures would otherwise look forged.
 */
public final class MessageVerifier {
    private final Config config;
    private final MessageCodec codec;
    private final RequestValidator requests;

    public MessageVerifier(Config config, RequestValidator requests) {
        this.config = config;
        this.codec = new MessageCodec(config);
        this.requests = requests;
    }

    /** Decode and verify bytes from the network. */
    public Verdict<Signed<?>> verify(byte[] wire) {
        Signed<?> message;
        try {
            message = codec.decode(wire);
        } catch (MalformedMessageException e) {
            return Verdict.reject(e.reason(), e.getMessage());
        }
        return verify(message);
    }

    /** Verify an already decoded message (including the signature over its received bytes). */
    public Verdict<Signed<?>> verify(Signed<?> m) {
        Optional<Verdict<Signed<?>>> problem = check(m, true, null);
        return problem.orElseGet(() -> Verdict.accept(m));
    }

    /**
     * Decode and verify several messages from the network, in order: the same verdicts as
     * {@link #verify(byte[])} one by one, with the messages' own signatures checked together
     * ({@link SignatureBatch}: one multi-scalar multiplication, each verdict still per signature).
     * Signatures nested inside a message (a VIEW-CHANGE's certificates, a NEW-VIEW's) are checked
     * as before.
     */
    public List<Verdict<Signed<?>>> verifyAll(List<byte[]> wires) {
        int count = wires.size();
        List<Verdict<Signed<?>>> verdicts = new ArrayList<>(count);
        Signed<?>[] decoded = new Signed<?>[count];
        int[] checkOf = new int[count];
        List<SignatureCheck> checks = new ArrayList<>(count);
        for (int i = 0; i < count; i++) {
            checkOf[i] = -1;
            try {
                decoded[i] = codec.decode(wires.get(i));
            } catch (MalformedMessageException e) {
                verdicts.add(Verdict.reject(e.reason(), e.getMessage()));
                continue;
            }
            verdicts.add(null);
            int signer = decoded[i].signer();
            if (signer >= 0 && signer < config.n() && EarlierEpoch.of(config, decoded[i].payload()).isEmpty()) {
                checkOf[i] = checks.size();
                checks.add(decoded[i].signatureCheck(config.validators().get(signer)));
            }
        }
        boolean[] valid = SignatureBatch.verify(checks);
        for (int i = 0; i < count; i++) {
            if (decoded[i] != null) {
                Signed<?> m = decoded[i];
                Boolean signatureValid = checkOf[i] < 0 ? null : valid[checkOf[i]];
                Optional<Verdict<Signed<?>>> problem = check(m, true, signatureValid);
                verdicts.set(i, problem.orElseGet(() -> Verdict.accept(m)));
            }
        }
        return verdicts;
    }

    /** Check one client request: size bound, then the pluggable validator. */
    public Verdict<Request> verifyRequest(Request request) {
        if (oversized(request)) {
            return Verdict.reject(RejectReason.OVERSIZE, oversizeDetail(request));
        }
        Optional<String> p = requests.problem(request);
        if (p.isPresent()) {
            return Verdict.reject(RejectReason.INVALID_REQUEST, request.id().shortHex() + ": " + p.get());
        }
        return Verdict.accept(request);
    }

    private boolean oversized(Request request) {
        return request.payloadLength() > config.requestBytesMax();
    }

    private String oversizeDetail(Request request) {
        return "request of " + request.payloadLength() + " bytes > " + config.requestBytesMax();
    }

    private static <T> Optional<Verdict<T>> no(RejectReason reason, String detail) {
        return Optional.of(Verdict.reject(reason, detail));
    }

    /**
     * @param checkRequests whether to run the request validator over a PRE-PREPARE's batch. True
     *     for nested pre-prepares too (prepared certificates, a NEW-VIEW's O): the batch digest
     *     covers request ids, not payloads, so the PREPAREs of correct replicas vouch for the ids
     *     only; the validator (id names the payload, client signature) is what binds the bytes.
     *     Without it one Byzantine replica could re-sign its pre-prepare with other bytes under
     *     the same digest and have honest replicas execute them (PayloadBindingTest).
     * @param signatureValid the verdict on {@code m}'s own signature when already checked (in a
     *     batch), or null to check it here
     */
    private <T> Optional<Verdict<T>> check(Signed<?> m, boolean checkRequests, Boolean signatureValid) {
        Optional<Verdict.Rejected<Object>> earlier = EarlierEpoch.of(config, m.payload());
        if (earlier.isPresent()) {
            return no(earlier.get().reason(), earlier.get().detail());
        }
        int signer = m.signer();
        if (signer < 0 || signer >= config.n()) {
            return no(RejectReason.NOT_A_MEMBER, "signer " + signer + " of " + config.n());
        }
        boolean signed = signatureValid != null ? signatureValid : m.signatureValid(config.validators().get(signer));
        if (!signed) {
            return no(RejectReason.BAD_SIGNATURE, m.type() + " from " + signer);
        }
        Payload p = m.payload();
        if (p instanceof PrePrepare pp) {
            return checkPrePrepare(pp, signer, checkRequests);
        } else if (p instanceof Prepare pr) {
            if (pr.replica() != signer) {
                return no(RejectReason.SIGNER_MISMATCH, "prepare for replica " + pr.replica() + " signed by " + signer);
            }
            if (config.primary(pr.view()) == signer) {
                return no(RejectReason.PREPARE_FROM_PRIMARY, "primary " + signer + " of view " + pr.view());
            }
        } else if (p instanceof Commit c) {
            if (c.replica() != signer) {
                return no(RejectReason.SIGNER_MISMATCH, "commit for replica " + c.replica() + " signed by " + signer);
            }
        } else if (p instanceof Checkpoint c) {
            if (c.replica() != signer) {
                return no(RejectReason.SIGNER_MISMATCH, "checkpoint for replica " + c.replica() + " signed by " + signer);
            }
            if (c.sequence() % config.checkpointInterval() != 0 || c.sequence() == 0) {
                return no(RejectReason.NOT_CHECKPOINT_SEQUENCE, "sequence " + c.sequence());
            }
        } else if (p instanceof Status st) {
            if (st.replica() != signer) {
                return no(RejectReason.SIGNER_MISMATCH, "status for replica " + st.replica() + " signed by " + signer);
            }
        } else if (p instanceof ViewChange vc) {
            return checkViewChange(vc, signer);
        } else if (p instanceof NewView nv) {
            return checkNewView(nv, signer);
        }
        return Optional.empty();
    }

    private <T> Optional<Verdict<T>> checkPrePrepare(PrePrepare pp, int signer, boolean checkRequests) {
        if (config.primary(pp.view()) != signer) {
            return no(RejectReason.NOT_PRIMARY, "pre-prepare for view " + pp.view() + " signed by " + signer);
        }
        Batch batch = pp.batch();
        if (batch.requests().size() > config.batchCountMax() || batch.payloadBytes() > config.batchBytesMax()) {
            return no(RejectReason.BATCH_TOO_LARGE, batch.requests().size() + " requests, " + batch.payloadBytes() + " bytes");
        }
        Set<Digest> ids = new HashSet<>();
        for (Request r : batch.requests()) {
            if (!ids.add(r.id())) {
                return no(RejectReason.DUPLICATE_REQUEST_IN_BATCH, r.id().shortHex());
            }
            if (checkRequests && oversized(r)) {
                return no(RejectReason.OVERSIZE, oversizeDetail(r));
            }
        }
        if (checkRequests) {
            // All of the batch's requests at once: the validator may verify their signatures together.
            List<Optional<String>> problems = requests.problems(batch.requests());
            if (problems.size() != batch.requests().size()) {
                // A request without a verdict must not pass as one without a problem.
                throw new IllegalStateException("the request validator answered " + problems.size() + " verdicts for "
                        + batch.requests().size() + " requests");
            }
            for (int i = 0; i < problems.size(); i++) {
                if (problems.get(i).isPresent()) {
                    return no(RejectReason.INVALID_REQUEST, batch.requests().get(i).id().shortHex() + ": " + problems.get(i).get());
                }
            }
        }
        return Optional.empty();
    }

    private <T> Optional<Verdict<T>> checkViewChange(ViewChange vc, int signer) {
        if (vc.replica() != signer) {
            return no(RejectReason.SIGNER_MISMATCH, "view change for replica " + vc.replica() + " signed by " + signer);
        }
        Optional<String> proof = checkpointProofProblem(vc.stableSequence(), vc.stableDigest(), vc.checkpointProof());
        if (proof.isPresent()) {
            return no(RejectReason.BAD_CHECKPOINT_PROOF, "view change from " + signer + ": " + proof.get());
        }
        Set<Long> sequences = new HashSet<>();
        for (PreparedCertificate pc : vc.prepared()) {
            if (pc.sequence() <= vc.stableSequence() || pc.sequence() > vc.stableSequence() + config.watermarkWindow()) {
                return no(RejectReason.BAD_PREPARED_CERTIFICATE, "sequence " + pc.sequence() + " outside the window above "
                        + vc.stableSequence());
            }
            if (pc.view() >= vc.newView()) {
                return no(RejectReason.BAD_PREPARED_CERTIFICATE, "certificate of view " + pc.view() + " in view change to " + vc.newView());
            }
            if (!sequences.add(pc.sequence())) {
                return no(RejectReason.BAD_PREPARED_CERTIFICATE, "two certificates for sequence " + pc.sequence());
            }
            Optional<String> cert = preparedCertificateProblem(pc);
            if (cert.isPresent()) {
                return no(RejectReason.BAD_PREPARED_CERTIFICATE, "sequence " + pc.sequence() + ": " + cert.get());
            }
        }
        return Optional.empty();
    }

    /**
     * Empty when {@code proof} holds a quorum of valid CHECKPOINTs from distinct replicas for
     * (sequence, digest), or when it is the start of this core's epoch, which needs no proof.
     */
    public Optional<String> checkpointProofProblem(long sequence, Digest digest, List<Signed<Checkpoint>> proof) {
        if (sequence % config.checkpointInterval() != 0) {
            return Optional.of("stable sequence " + sequence + " is not a checkpoint");
        }
        if (sequence < config.startSequence()) {
            return Optional.of("stable sequence " + sequence + " is before this epoch's start " + config.startSequence());
        }
        if (sequence == config.startSequence()) {
            return proof.isEmpty() && digest.equals(config.genesisDigest()) ? Optional.empty()
                    : Optional.of("the start sequence " + sequence + " must carry no proof and the start digest");
        }
        Set<Integer> signers = new HashSet<>();
        for (Signed<Checkpoint> c : proof) {
            Optional<Verdict<Object>> v = check(c, false, null);
            if (v.isPresent()) {
                return Optional.of("checkpoint from " + c.signer() + " invalid: " + v.get());
            }
            if (c.payload().sequence() != sequence || !c.payload().stateDigest().equals(digest)) {
                return Optional.of("checkpoint from " + c.signer() + " is for another sequence or digest");
            }
            if (!signers.add(c.signer())) {
                return Optional.of("two checkpoints from " + c.signer());
            }
        }
        return signers.size() >= config.quorum() ? Optional.empty()
                : Optional.of(signers.size() + " checkpoints, need " + config.quorum());
    }

    /** Empty when {@code pc} is a pre-prepare plus q-1 valid matching prepares from distinct backups. */
    public Optional<String> preparedCertificateProblem(PreparedCertificate pc) {
        Optional<Verdict<Object>> v = check(pc.prePrepare(), true, null);
        if (v.isPresent()) {
            return Optional.of("pre-prepare invalid: " + v.get());
        }
        Set<Integer> signers = new HashSet<>();
        for (Signed<Prepare> p : pc.prepares()) {
            Optional<Verdict<Object>> pv = check(p, false, null);
            if (pv.isPresent()) {
                return Optional.of("prepare from " + p.signer() + " invalid: " + pv.get());
            }
            Prepare pr = p.payload();
            if (pr.view() != pc.view() || pr.sequence() != pc.sequence() || !pr.digest().equals(pc.digest())) {
                return Optional.of("prepare from " + p.signer() + " does not match the pre-prepare");
            }
            if (!signers.add(p.signer())) {
                return Optional.of("two prepares from " + p.signer());
            }
        }
        return signers.size() >= config.preparedQuorum() ? Optional.empty()
                : Optional.of(signers.size() + " prepares, need " + config.preparedQuorum());
    }

    private <T> Optional<Verdict<T>> checkNewView(NewView nv, int signer) {
        if (config.primary(nv.view()) != signer) {
            return no(RejectReason.NOT_PRIMARY, "new view " + nv.view() + " signed by " + signer);
        }
        Set<Integer> senders = new HashSet<>();
        for (Signed<ViewChange> vc : nv.viewChanges()) {
            if (vc.payload().newView() != nv.view()) {
                return no(RejectReason.BAD_NEW_VIEW, "contains a view change to " + vc.payload().newView());
            }
            if (!senders.add(vc.signer())) {
                return no(RejectReason.BAD_NEW_VIEW, "two view changes from " + vc.signer());
            }
            Optional<Verdict<Object>> v = check(vc, false, null);
            if (v.isPresent()) {
                return no(RejectReason.BAD_NEW_VIEW, "view change from " + vc.signer() + ": " + v.get());
            }
        }
        if (senders.size() < config.quorum()) {
            return no(RejectReason.BAD_NEW_VIEW, senders.size() + " view changes, need " + config.quorum());
        }
        for (Signed<PrePrepare> pp : nv.prePrepares()) {
            if (pp.payload().view() != nv.view()) {
                return no(RejectReason.BAD_NEW_VIEW, "pre-prepare of view " + pp.payload().view());
            }
            Optional<Verdict<Object>> v = check(pp, true, null);
            if (v.isPresent()) {
                return no(RejectReason.BAD_NEW_VIEW, "pre-prepare " + pp.payload().sequence() + ": " + v.get());
            }
        }
        // O must be the plan cut at O's own last sequence. Whether this epoch ends, and so where
        // the plan stops, only the core knows; it compares O with its exact plan (EpochTest#aNewViewBuiltByAPrimaryThatKnowsTheEndIsAcceptedByABackupThatKnowsItToo).
        List<ViewChange> v = nv.viewChanges().stream().map(Signed::payload).toList();
        long oEnd = nv.prePrepares().isEmpty() ? 0 : nv.prePrepares().get(nv.prePrepares().size() - 1).payload().sequence();
        Optional<String> mismatch = NewViewPlan.compute(v, oEnd).mismatch(nv.view(), nv.prePrepares());
        if (mismatch.isPresent()) {
            return no(RejectReason.NEW_VIEW_MISMATCH, mismatch.get());
        }
        return Optional.empty();
    }
}
