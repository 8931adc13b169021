package bftledger.ledger;

import bftledger.crypto.Digest;
import bftledger.crypto.HistoryTree;
import bftledger.crypto.MerkleTree;

/** The chain's block hashes after some height, in its blocks tree: what blocks_root and anchors are checked against. */
public interface BlockHashes {
    /** Height of the last block (0 = genesis). */
    long height();

    /** The blocks tree: leaf 0 is the genesis hash, leaf i the hash of block i, for i up to {@link #height()}. */
    HistoryTree.NodeReader history();

    /** The blocks_root the next block carries: over the genesis hash and blocks 1..{@link #height()}. */
    default Digest blocksRoot() {
        return HistoryTree.root(history(), height() + 1);
    }

    /** Whether block {@code height} (0: the genesis) hashes to {@code hash}; false beyond {@link #height()}. */
    default boolean blockHashIs(long height, Digest hash) {
        if (height < 0 || height > height()) {
            return false;
        }
        Digest leaf = history().get(0, height);
        return leaf != null && leaf.equals(MerkleTree.leafHash(hash.bytes()));
    }

    /** Block hashes in memory, appended one block at a time from genesis: for walking a chain without its state. */
    final class InMemory implements BlockHashes {
        private record Key(int level, long index) {}

        private final java.util.Map<Key, Digest> nodes = new java.util.HashMap<>();
        private long height = -1;

        public InMemory(Digest genesisHash) {
            append(genesisHash);
        }

        /** Appends the next block's hash. */
        public void append(Digest blockHash) {
            for (HistoryTree.Node n : HistoryTree.append(history(), height + 1, MerkleTree.leafHash(blockHash.bytes()))) {
                nodes.put(new Key(n.level(), n.index()), n.hash());
            }
            height++;
        }

        @Override
        public long height() {
            return height;
        }

        @Override
        public HistoryTree.NodeReader history() {
            return (level, index) -> nodes.get(new Key(level, index));
        }
    }
}
