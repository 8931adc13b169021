package bftledger.pbft;

import bftledger.crypto.Digest;

/** The primary of {@code view} assigns {@code sequence} to {@code batch}. Signed by the primary. */
public record PrePrepare(long view, long sequence, Batch batch) implements Payload {
    public PrePrepare {
        if (view < 0 || sequence < 1 || batch == null) {
            throw new IllegalArgumentException("pre-prepare needs view >= 0, sequence >= 1 and a batch");
        }
    }

    public Digest digest() {
        return batch.digest();
    }

    @Override
    public MessageType type() {
        return MessageType.PRE_PREPARE;
    }
}
