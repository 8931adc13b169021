package bftledger.pbft;

import bftledger.crypto.Digest;

/**
 * A replica executed up to {@code sequence} and its application digest there is
 * {@code stateDigest} (the node passes the block hash, covering the ledger prefix and state).
 */
public record Checkpoint(long sequence, Digest stateDigest, int replica) implements Payload {
    public Checkpoint {
        if (sequence < 0 || stateDigest == null || replica < 0) {
            throw new IllegalArgumentException("malformed checkpoint");
        }
    }

    @Override
    public MessageType type() {
        return MessageType.CHECKPOINT;
    }
}
