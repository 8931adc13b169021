package bftledger.ledger;

import bftledger.crypto.Digest;
import com.google.protobuf.ByteString;
import java.util.Objects;

/**
 * A record's current value and the transaction that wrote it: what the state holds for a record
 * (the writer links the value to its proven receipt, whose previous_tx_id leads to the value
 * before). Stored as {@code writer (32) || value}.
 */
public record RecordValue(Digest writer, ByteString value) {
    public RecordValue {
        Objects.requireNonNull(writer);
        Objects.requireNonNull(value);
    }

    byte[] encode() {
        return ByteString.copyFrom(writer.bytes()).concat(value).toByteArray();
    }

    /** @throws StoreCorruptedException when the bytes are too short to hold a writer */
    static RecordValue decode(byte[] stored, Object where) {
        if (stored.length < Digest.LENGTH) {
            throw new StoreCorruptedException(where + ": a stored record of " + stored.length + " bytes has no writer");
        }
        byte[] writer = java.util.Arrays.copyOf(stored, Digest.LENGTH);
        return new RecordValue(Digest.of(writer), ByteString.copyFrom(stored, Digest.LENGTH, stored.length - Digest.LENGTH));
    }
}
