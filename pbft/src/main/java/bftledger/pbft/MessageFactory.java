package bftledger.pbft;

import bftledger.crypto.Digest;
import bftledger.crypto.KeyPair;
import java.util.List;

/**
 * Builds and signs messages as one replica. Public on purpose: honest cores use it, and so do
 * Byzantine strategies holding a replica's key, which may sign anything, including messages
 * that conflict with each other. Nothing here checks protocol rules.
 */
public final class MessageFactory {
    private final int replica;
    private final KeyPair key;

    public MessageFactory(int replica, KeyPair key) {
        this.replica = replica;
        this.key = key;
    }

    public int replica() {
        return replica;
    }

    public <P extends Payload> Signed<P> sign(P payload) {
        return MessageCodec.sign(payload, replica, key);
    }

    public Signed<PrePrepare> prePrepare(long view, long sequence, Batch batch) {
        return sign(new PrePrepare(view, sequence, batch));
    }

    public Signed<Prepare> prepare(long view, long sequence, Digest digest) {
        return sign(new Prepare(view, sequence, digest, replica));
    }

    public Signed<Commit> commit(long view, long sequence, Digest digest) {
        return sign(new Commit(view, sequence, digest, replica));
    }

    public Signed<Checkpoint> checkpoint(long sequence, Digest stateDigest) {
        return sign(new Checkpoint(sequence, stateDigest, replica));
    }

    public Signed<ViewChange> viewChange(long newView, long stableSequence, Digest stableDigest,
            List<Signed<Checkpoint>> proof, List<PreparedCertificate> prepared) {
        return sign(new ViewChange(newView, stableSequence, stableDigest, replica, proof, prepared));
    }

    public Signed<Status> status(long view, boolean viewActive, long lowWatermark, long lastExecuted) {
        return sign(new Status(view, viewActive, lowWatermark, lastExecuted, replica));
    }

    public Signed<NewView> newView(long view, List<Signed<ViewChange>> viewChanges, List<Signed<PrePrepare>> prePrepares) {
        return sign(new NewView(view, viewChanges, prePrepares));
    }
}
