package bftledger.crypto;

import java.util.ArrayList;
import java.util.List;

/**
 * An append-only RFC 6962 Merkle tree kept as its perfect subtrees: the tree behind a block
 * header's blocks_root, whose leaves are the hashes of every earlier block. Appending a leaf
 * stores the leaf and each perfect subtree it completes (about two nodes per leaf); the root of
 * any prefix and an inclusion proof for any leaf of it then take O(log^2 n) node reads. Proofs
 * are the ordinary RFC 9162 audit paths that {@link InclusionProof} verifies.
 *
 * <p>Nodes are addressed by level (0 for leaves) and index within the level: node (l, i) is the
 * root of leaves [i * 2^l, (i + 1) * 2^l). Storage is a port; this class writes nothing itself.
 * Stateless and thread-safe.
 */
public final class HistoryTree {
    private HistoryTree() {}

    /** A stored node of the tree. */
    public record Node(int level, long index, Digest hash) {}

    /** Where nodes are read from. */
    @FunctionalInterface
    public interface NodeReader {
        /** The node at {@code (level, index)}, or null when the store holds none there. */
        Digest get(int level, long index);
    }

    /** Thrown when the store lacks a node a complete tree must have. */
    public static final class MissingNodeException extends RuntimeException {
        public MissingNodeException(String message) {
            super(message);
        }
    }

    /**
     * The nodes to store when {@code leafHash} (see {@link MerkleTree#leafHash}) becomes leaf
     * {@code size} of a tree of {@code size} leaves: the leaf, then each perfect subtree it completes.
     */
    public static List<Node> append(NodeReader store, long size, Digest leafHash) {
        List<Node> nodes = new ArrayList<>(2);
        nodes.add(new Node(0, size, leafHash));
        long count = size + 1;
        Digest current = leafHash;
        for (int level = 1; level < 63 && count % (1L << level) == 0; level++) {
            long index = (count >> level) - 1;
            Digest left = required(store, level - 1, index * 2);
            current = MerkleTree.nodeHash(left, current);
            nodes.add(new Node(level, index, current));
        }
        return nodes;
    }

    /** MTH of the first {@code size} leaves (RFC 6962: SHA-256 of nothing for the empty tree). */
    public static Digest root(NodeReader store, long size) {
        if (size < 0) {
            throw new IllegalArgumentException("negative tree size " + size);
        }
        return size == 0 ? Sha256.hash() : range(store, 0, size);
    }

    /** The RFC 9162 audit path of leaf {@code index} in the tree of the first {@code size} leaves. */
    public static InclusionProof inclusionProof(NodeReader store, long index, long size) {
        if (index < 0 || index >= size) {
            throw new IllegalArgumentException("leaf " + index + " of a tree of " + size + " leaves");
        }
        List<Digest> path = new ArrayList<>();
        path(store, index, 0, size, path);
        return new InclusionProof(index, size, path);
    }

    /** PATH(m, D[from:to]) of RFC 9162, m relative to from; appended leaf-side first. */
    private static void path(NodeReader store, long m, long from, long to, List<Digest> path) {
        long n = to - from;
        if (n <= 1) {
            return;
        }
        long k = Long.highestOneBit(n - 1);
        if (m < k) {
            path(store, m, from, from + k, path);
            path.add(range(store, from + k, to));
        } else {
            path(store, m - k, from + k, to, path);
            path.add(range(store, from, from + k));
        }
    }

    /** MTH(D[from:to]); subtrees of the recursive definition that are perfect are read, the rest combined. */
    static Digest range(NodeReader store, long from, long to) {
        long width = to - from;
        if (Long.bitCount(width) == 1 && from % width == 0) {
            int level = Long.numberOfTrailingZeros(width);
            return required(store, level, from >> level);
        }
        long k = Long.highestOneBit(width - 1);
        return MerkleTree.nodeHash(range(store, from, from + k), range(store, from + k, to));
    }

    private static Digest required(NodeReader store, int level, long index) {
        Digest d = store.get(level, index);
        if (d == null) {
            throw new MissingNodeException("history tree node at level " + level + " index " + index + " is missing");
        }
        return d;
    }
}
