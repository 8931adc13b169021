package bftledger.ledger;

import bftledger.crypto.Digest;
import bftledger.crypto.Sha256;
import com.google.protobuf.ByteString;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;

/**
 * Where accounts and records stand in the state tree, and what their leaves commit to: the key
 * and value encodings of the STATE rule in ledger.proto (part of the public contract).
 *
 * <pre>
 * account key   SHA-256("bftledger/v1/state-account" 0x00 || public key (32))
 * account value SHA-256(balance u64 big-endian)
 * record key    SHA-256("bftledger/v1/state-record" 0x00 || owner public key (32) || record key UTF-8 bytes)
 * record value  SHA-256(writer transaction id (32) || value bytes)
 * </pre>
 */
public final class StateKeys {
    private static final byte[] ACCOUNT_TAG = "bftledger/v1/state-account\0".getBytes(StandardCharsets.US_ASCII);
    private static final byte[] RECORD_TAG = "bftledger/v1/state-record\0".getBytes(StandardCharsets.US_ASCII);

    private StateKeys() {}

    public static Digest account(ByteString account) {
        return Sha256.hash(ACCOUNT_TAG, account.toByteArray());
    }

    public static Digest record(RecordKey key) {
        return Sha256.hash(RECORD_TAG, key.owner().toByteArray(), key.key().toByteArray());
    }

    public static Digest balanceValue(long balance) {
        return Sha256.hash(ByteBuffer.allocate(8).putLong(balance).array());
    }

    public static Digest recordValue(RecordValue value) {
        return Sha256.hash(value.writer().bytes(), value.value().toByteArray());
    }
}
