package bftledger.ledger;

import bftledger.crypto.Digest;
import bftledger.crypto.Sha256;
import com.google.protobuf.ByteString;
import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.SortedMap;

/**
 * The state hashing rule (BlockHeader.state_root). The root is an incremental commitment: each
 * block's root hashes the previous root with a digest of exactly what the block changed, so
 * computing it costs O(changes), not O(state). Two replicas with equal roots at height h executed
 * the same genesis and the same changes at every height up to h.
 *
 * <pre>
 * state_root(0) = SHA-256("bftledger/v1/state-genesis" 0x00 || u32 count
 *                          || for each initial balance, by account ascending: account(32) || u64 amount)
 * state_root(h) = SHA-256(state_root(h-1) || changes_hash(h))
 * changes_hash  = SHA-256("bftledger/v1/state-changes" 0x00
 *                   || u32 count || for each account touched, ascending: account(32) || u64 final balance
 *                   || u32 count || for each record written, by (owner, key) ascending:
 *                          owner(32) || u32 key length || key || u32 value length || value
 *                   || u32 count || for each transaction executed (not DUPLICATE), in block order: id(32))
 * </pre>
 * Integers are big-endian; "ascending" is unsigned byte order. Touched accounts are listed even if
 * their balance ends unchanged (a transfer that was credited and debited back), so the encoding is a
 * function of the executed transactions alone.
 */
public final class StateHash {
    private static final byte[] GENESIS_TAG = "bftledger/v1/state-genesis\0".getBytes(StandardCharsets.US_ASCII);
    private static final byte[] CHANGES_TAG = "bftledger/v1/state-changes\0".getBytes(StandardCharsets.US_ASCII);

    private StateHash() {}

    public static Digest genesisRoot(SortedMap<ByteString, Long> balances) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.writeBytes(GENESIS_TAG);
        writeAccounts(out, balances);
        return Sha256.hash(out.toByteArray());
    }

    public static Digest changesHash(StateChanges changes) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.writeBytes(CHANGES_TAG);
        writeAccounts(out, changes.balances());
        out.writeBytes(u32(changes.records().size()));
        for (Map.Entry<RecordKey, ByteString> e : changes.records().entrySet()) {
            out.writeBytes(e.getKey().owner().toByteArray());
            out.writeBytes(u32(e.getKey().key().size()));
            out.writeBytes(e.getKey().key().toByteArray());
            out.writeBytes(u32(e.getValue().size()));
            out.writeBytes(e.getValue().toByteArray());
        }
        out.writeBytes(u32(changes.executed().size()));
        for (StateChanges.Executed e : changes.executed()) {
            out.writeBytes(e.txId().bytes());
        }
        return Sha256.hash(out.toByteArray());
    }

    public static Digest next(Digest previousRoot, Digest changesHash) {
        return Sha256.hash(previousRoot.bytes(), changesHash.bytes());
    }

    private static void writeAccounts(ByteArrayOutputStream out, SortedMap<ByteString, Long> balances) {
        out.writeBytes(u32(balances.size()));
        for (Map.Entry<ByteString, Long> e : balances.entrySet()) {
            out.writeBytes(e.getKey().toByteArray());
            out.writeBytes(ByteBuffer.allocate(8).putLong(e.getValue()).array());
        }
    }

    private static byte[] u32(int v) {
        return ByteBuffer.allocate(4).putInt(v).array();
    }
}
