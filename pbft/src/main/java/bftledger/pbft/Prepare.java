package bftledger.pbft;

import bftledger.crypto.Digest;

/** A backup accepted the pre-prepare for (view, sequence, digest). Same layout as a commit vote. */
public record Prepare(long view, long sequence, Digest digest, int replica) implements Payload {
    public Prepare {
        if (view < 0 || sequence < 1 || digest == null || replica < 0) {
            throw new IllegalArgumentException("malformed prepare");
        }
    }

    @Override
    public MessageType type() {
        return MessageType.PREPARE;
    }
}
