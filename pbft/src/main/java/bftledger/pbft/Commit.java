package bftledger.pbft;

import bftledger.crypto.CommitVote;
import bftledger.crypto.Digest;

/**
 * A replica prepared (view, sequence, digest) and votes to commit it. Its signed bytes are
 * exactly {@code new CommitVote(view, sequence, digest, replica).encode()} under
 * {@code Domain.COMMIT}: the ledger checks commit certificates with that rule.
 */
public record Commit(long view, long sequence, Digest digest, int replica) implements Payload {
    public Commit {
        if (view < 0 || sequence < 1 || digest == null || replica < 0) {
            throw new IllegalArgumentException("malformed commit");
        }
    }

    public CommitVote vote() {
        return new CommitVote(view, sequence, digest, replica);
    }

    @Override
    public MessageType type() {
        return MessageType.COMMIT;
    }
}
