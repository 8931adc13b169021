package bftledger.pbft;

import bftledger.crypto.Digest;
import java.util.List;

/**
 * Replica {@code replica} moves to {@code newView}. It carries the replica's stable checkpoint
 * (sequence, digest and the quorum of signed CHECKPOINTs proving it; empty at the epoch's start)
 * and a prepared certificate for every sequence above it that prepared here (the highest view's).
 */
public record ViewChange(
        long newView,
        long stableSequence,
        Digest stableDigest,
        int replica,
        List<Signed<Checkpoint>> checkpointProof,
        List<PreparedCertificate> prepared) implements Payload {
    public ViewChange {
        if (newView < 1 || stableSequence < 0 || stableDigest == null || replica < 0) {
            throw new IllegalArgumentException("malformed view change");
        }
        checkpointProof = List.copyOf(checkpointProof);
        prepared = List.copyOf(prepared);
    }

    @Override
    public MessageType type() {
        return MessageType.VIEW_CHANGE;
    }
}
