package bftledger.pbft;

import bftledger.crypto.Digest;
import java.util.HashMap;
import java.util.Map;

/**
 * The digest this replica signed for each (type, view, sequence): the one place that guarantees
 * it never signs two digests for one. Rebuilt from its own persisted messages after a restart
 * (RestartTest#aRestartedBackupRefusesToPrepareAConflictingBatch).
 */
final class OwnVotes {
    private record VoteKey(MessageType type, long view, long sequence) {}

    private final int self;
    private final Map<VoteKey, Digest> votes = new HashMap<>();

    OwnVotes(int self) {
        this.self = self;
    }

    /** Records a vote about to be signed; a second digest for the same key is a bug here, so it throws. */
    void record(MessageType type, long view, long sequence, Digest digest) {
        VoteKey key = new VoteKey(type, view, sequence);
        Digest previous = votes.putIfAbsent(key, digest);
        if (previous != null && !previous.equals(digest)) {
            throw new IllegalStateException("replica " + self + " about to sign a conflicting " + key);
        }
    }

    /** The digest signed for (type, view, sequence), or null. */
    Digest get(MessageType type, long view, long sequence) {
        return votes.get(new VoteKey(type, view, sequence));
    }

    /**
     * Views only grow, so votes of views below {@code view} can never be asked for again;
     * checkpoint votes are view-independent and stay until garbage collection.
     */
    void forgetViewsBelow(long view) {
        votes.keySet().removeIf(k -> k.type() != MessageType.CHECKPOINT && k.view() < view);
    }

    /** Forgets votes at or below the stable checkpoint h; view-wide ones (sequence 0) stay. */
    void collectGarbage(long h) {
        votes.keySet().removeIf(k -> k.sequence() != 0 && k.sequence() <= h);
    }
}
