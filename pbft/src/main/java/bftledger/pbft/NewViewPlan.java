package bftledger.pbft;

import bftledger.crypto.Digest;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * The NEW-VIEW computation of the PBFT paper (section 4.4), a pure function of the set V of
 * VIEW-CHANGEs. min-s is the highest stable checkpoint in V; max-s the highest sequence of any
 * prepared certificate in V. For every sequence in (min-s, max-s] the new primary proposes the
 * batch of the certificate with the highest view for it, or the null batch when V has none.
 * The primary computes it to build O; every backup computes it again to check O. When the epoch
 * ends at a known last sequence, certificates above it are left out, so max-s never passes it:
 * nothing above the end is ordered, and primary and backups, which learn the end from the same
 * ledger, compute the same plan.
 *
 * @param stableSequence min-s
 * @param stableDigest the checkpoint digest at min-s
 * @param stableProof the quorum of CHECKPOINTs proving min-s (empty at the epoch's start)
 * @param batches the batch for each sequence in (min-s, max-s], in order
 */
public record NewViewPlan(long stableSequence, Digest stableDigest, List<Signed<Checkpoint>> stableProof,
        TreeMap<Long, Batch> batches) {

    public static NewViewPlan compute(Collection<ViewChange> viewChanges) {
        return compute(viewChanges, Long.MAX_VALUE);
    }

    /** The plan when the epoch ends at {@code lastSequence} ({@link Long#MAX_VALUE} when it does not). */
    public static NewViewPlan compute(Collection<ViewChange> viewChanges, long lastSequence) {
        if (viewChanges.isEmpty()) {
            throw new IllegalArgumentException("no view changes");
        }
        ViewChange best = null;
        for (ViewChange vc : viewChanges) {
            // Ties on the sequence break on the lowest replica id, so every replica picks the same proof.
            if (best == null || vc.stableSequence() > best.stableSequence()
                    || (vc.stableSequence() == best.stableSequence() && vc.replica() < best.replica())) {
                best = vc;
            }
        }
        long minS = best.stableSequence();
        TreeMap<Long, PreparedCertificate> chosen = new TreeMap<>();
        for (ViewChange vc : viewChanges) {
            for (PreparedCertificate pc : vc.prepared()) {
                if (pc.sequence() <= minS || pc.sequence() > lastSequence) {
                    continue;
                }
                PreparedCertificate current = chosen.get(pc.sequence());
                if (current == null || pc.view() > current.view()
                        || (pc.view() == current.view() && pc.digest().compareTo(current.digest()) < 0)) {
                    chosen.put(pc.sequence(), pc);
                }
            }
        }
        long maxS = chosen.isEmpty() ? minS : chosen.lastKey();
        TreeMap<Long, Batch> batches = new TreeMap<>();
        for (long s = minS + 1; s <= maxS; s++) {
            PreparedCertificate pc = chosen.get(s);
            batches.put(s, pc == null ? Batch.NULL : pc.prePrepare().payload().batch());
        }
        return new NewViewPlan(minS, best.stableDigest(), best.checkpointProof(), batches);
    }

    public long maxSequence() {
        return batches.isEmpty() ? stableSequence : batches.lastKey();
    }

    /** Empty when {@code prePrepares} is exactly this plan for {@code view}; else what differs. */
    public java.util.Optional<String> mismatch(long view, List<Signed<PrePrepare>> prePrepares) {
        if (prePrepares.size() != batches.size()) {
            return java.util.Optional.of("O has " + prePrepares.size() + " pre-prepares, expected " + batches.size());
        }
        int i = 0;
        for (Map.Entry<Long, Batch> e : batches.entrySet()) {
            PrePrepare pp = prePrepares.get(i++).payload();
            // The whole batch, not only its digest: the digest does not cover request payloads.
            if (pp.view() != view || pp.sequence() != e.getKey() || !pp.batch().equals(e.getValue())) {
                return java.util.Optional.of("O entry " + (i - 1) + " is (" + pp.view() + ", " + pp.sequence() + ", "
                        + pp.digest().shortHex() + "), expected (" + view + ", " + e.getKey() + ", "
                        + e.getValue().digest().shortHex() + ") with the certificate's exact batch");
            }
        }
        return java.util.Optional.empty();
    }
}
