package bftledger.ledger;

import com.google.protobuf.ByteString;
import java.util.Comparator;

/**
 * A record's address: the owner's account (32-byte key, the sender that wrote it) and the key's
 * UTF-8 bytes. Ordered by owner, then key, both as unsigned bytes; this is also the order of the
 * store's {@code owner || key} LMDB keys, because the owner is fixed-length.
 */
public record RecordKey(ByteString owner, ByteString key) implements Comparable<RecordKey> {
    private static final Comparator<ByteString> UNSIGNED = ByteString.unsignedLexicographicalComparator();

    public static RecordKey of(ByteString owner, String key) {
        return new RecordKey(owner, ByteString.copyFromUtf8(key));
    }

    @Override
    public int compareTo(RecordKey o) {
        int c = UNSIGNED.compare(owner, o.owner);
        return c != 0 ? c : UNSIGNED.compare(key, o.key);
    }

    /** owner || key, the store's LMDB key. */
    byte[] storeKey() {
        return owner.concat(key).toByteArray();
    }

    static RecordKey fromStoreKey(byte[] storeKey) {
        ByteString all = ByteString.copyFrom(storeKey);
        return new RecordKey(all.substring(0, 32), all.substring(32));
    }

    @Override
    public String toString() {
        return ChainGenesis.hex(owner).substring(0, 8) + "/" + key.toStringUtf8();
    }
}
