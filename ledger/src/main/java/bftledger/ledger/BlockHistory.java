package bftledger.ledger;

import bftledger.crypto.Digest;
import bftledger.crypto.HeaderAnchor;
import bftledger.crypto.HistoryTree;
import bftledger.crypto.MerkleTree;
import java.nio.ByteBuffer;
import java.util.Optional;
import org.lmdbjava.PutFlags;
import org.lmdbjava.Txn;

/**
 * The chain's history inside the block store: the blocks tree (leaf 0 the genesis hash, leaf i
 * the hash of block i; its root over leaves 0..h-1 is header h's blocks_root), and which block
 * certifies each header (the first block whose batch anchors it). Written in the same
 * transaction as each block: about two tree nodes and one anchor entry per block.
 */
final class BlockHistory {
    private final StoreEnv store;

    BlockHistory(StoreEnv store) {
        this.store = store;
    }

    HistoryTree.NodeReader reader(Txn<byte[]> txn) {
        return (level, index) -> {
            byte[] v = store.history.get(txn, key(level, index));
            if (v == null) {
                return null;
            }
            if (v.length != Digest.LENGTH) {
                throw new StoreCorruptedException(store.dir + ": blocks tree node at level " + level + " index " + index
                        + " is " + v.length + " bytes");
            }
            return Digest.of(v);
        };
    }

    /** Adds block {@code height} (0: the genesis) with hash {@code hash} as the next leaf. */
    void append(Txn<byte[]> txn, long height, Digest hash) {
        for (HistoryTree.Node n : HistoryTree.append(reader(txn), height, MerkleTree.leafHash(hash.bytes()))) {
            store.history.put(txn, key(n.level(), n.index()), n.hash().bytes());
        }
    }

    /** Records that block {@code height} certifies the header its anchor names (the first such block is kept). */
    void anchored(Txn<byte[]> txn, long height, HeaderAnchor anchor) {
        if (anchor.isNone()) {
            return;
        }
        store.anchors.put(txn, StoreEnv.u64(anchor.height()), StoreEnv.u64(height), PutFlags.MDB_NOOVERWRITE);
        if (anchor.height() > certifiedHeight(txn)) {
            store.meta.put(txn, StoreEnv.META_CERTIFIED_HEIGHT, StoreEnv.u64(anchor.height()));
        }
    }

    /** The highest height some stored block certifies (0 when none). */
    long certifiedHeight(Txn<byte[]> txn) {
        byte[] v = store.meta.get(txn, StoreEnv.META_CERTIFIED_HEIGHT);
        return v == null ? 0 : StoreEnv.u64(v);
    }

    /** The first stored block whose batch anchors {@code height}, if any. */
    Optional<Long> certifyingBlock(Txn<byte[]> txn, long height) {
        byte[] v = store.anchors.get(txn, StoreEnv.u64(height));
        return v == null ? Optional.empty() : Optional.of(StoreEnv.u64(v));
    }

    /**
     * The lowest height at or above {@code height} that some stored block certifies (scanning the
     * anchor index forward), if any.
     */
    Optional<Long> certifiedAtOrAbove(Txn<byte[]> txn, long height) {
        try (var cursor = store.anchors.openCursor(txn)) {
            if (!cursor.get(StoreEnv.u64(height), org.lmdbjava.GetOp.MDB_SET_RANGE)) {
                return Optional.empty();
            }
            return Optional.of(StoreEnv.u64(cursor.key()));
        }
    }

    private static byte[] key(int level, long index) {
        return ByteBuffer.allocate(9).put((byte) level).putLong(index).array();
    }
}
