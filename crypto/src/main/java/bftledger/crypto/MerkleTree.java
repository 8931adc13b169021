package bftledger.crypto;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * A Merkle tree as defined by RFC 6962 section 2.1: leaf hashes are {@code SHA-256(0x00 || leaf)},
 * interior nodes {@code SHA-256(0x01 || left || right)}, the empty tree hashes to
 * {@code SHA-256("")}, and a tree of n leaves splits at the largest power of two below n.
 * The prefixes keep a leaf from ever being taken for an interior node (second preimages).
 *
 * <p>The tree keeps every level, built bottom-up by hashing pairs and carrying an unpaired last
 * node up unchanged. That gives exactly the RFC 6962 tree (every subtree of the recursive
 * definition is the node at index {@code from >> k} of level {@code k}, where {@code 2^k} is its
 * nominal width), and it makes each proof O(log n) hashes to read instead of O(n) to recompute.
 * Immutable and thread-safe.
 */
public final class MerkleTree {
    private static final byte[] LEAF_PREFIX = {0x00};
    private static final byte[] NODE_PREFIX = {0x01};

    private final List<Digest> leafHashes;
    /** levels.get(0) is the leaf hashes, the last level holds the root alone; empty for n = 0. */
    private final List<List<Digest>> levels;
    private final Digest root;

    private MerkleTree(List<Digest> leafHashes) {
        this.leafHashes = List.copyOf(leafHashes);
        this.levels = buildLevels(this.leafHashes);
        this.root = levels.isEmpty() ? Sha256.hash() : levels.get(levels.size() - 1).get(0);
    }

    private static List<List<Digest>> buildLevels(List<Digest> leafHashes) {
        if (leafHashes.isEmpty()) {
            return List.of();
        }
        List<List<Digest>> levels = new ArrayList<>();
        List<Digest> level = leafHashes;
        levels.add(level);
        while (level.size() > 1) {
            List<Digest> up = new ArrayList<>((level.size() + 1) / 2);
            for (int i = 0; i + 1 < level.size(); i += 2) {
                up.add(nodeHash(level.get(i), level.get(i + 1)));
            }
            if (level.size() % 2 == 1) {
                up.add(level.get(level.size() - 1));
            }
            level = Collections.unmodifiableList(up);
            levels.add(level);
        }
        return List.copyOf(levels);
    }

    public static MerkleTree of(List<byte[]> leaves) {
        List<Digest> hashes = new ArrayList<>(leaves.size());
        for (byte[] leaf : leaves) {
            hashes.add(leafHash(leaf));
        }
        return new MerkleTree(hashes);
    }

    /** Builds the tree from already computed leaf hashes (see {@link #leafHash}). */
    public static MerkleTree ofLeafHashes(List<Digest> leafHashes) {
        return new MerkleTree(leafHashes);
    }

    public static Digest leafHash(byte[] leaf) {
        return Sha256.hash(LEAF_PREFIX, leaf);
    }

    public static Digest nodeHash(Digest left, Digest right) {
        return Sha256.hash(NODE_PREFIX, left.bytes(), right.bytes());
    }

    public Digest root() {
        return root;
    }

    public int size() {
        return leafHashes.size();
    }

    public Digest leafHashAt(int index) {
        return leafHashes.get(index);
    }

    /**
     * The audit path for the leaf at {@code index} (RFC 9162 section 2.1.3.1, PATH(m, D[n])),
     * ordered from the leaf's sibling up to the child of the root.
     *
     * @throws IndexOutOfBoundsException unless {@code 0 <= index < size()}
     */
    public InclusionProof inclusionProof(int index) {
        if (index < 0 || index >= size()) {
            throw new IndexOutOfBoundsException("leaf " + index + " of a tree of " + size() + " leaves");
        }
        List<Digest> path = new ArrayList<>();
        int node = index;
        for (int k = 0; k < levels.size() - 1; k++) {
            List<Digest> level = levels.get(k);
            int sibling = node ^ 1;
            // No sibling: this node is the unpaired last one and is carried up unchanged.
            if (sibling < level.size()) {
                path.add(level.get(sibling));
            }
            node >>= 1;
        }
        return new InclusionProof(index, size(), path);
    }

    /**
     * The proof that the tree of the first {@code oldSize} leaves is a prefix of this tree
     * (RFC 9162 section 2.1.4.1, PROOF(m, D[n])). Empty when {@code oldSize} is 0 or
     * {@code size()}: every tree extends the empty tree, and a tree extends itself.
     *
     * @throws IllegalArgumentException unless {@code 0 <= oldSize <= size()}
     */
    public ConsistencyProof consistencyProof(int oldSize) {
        if (oldSize < 0 || oldSize > size()) {
            throw new IllegalArgumentException(
                    "no consistency proof from " + oldSize + " leaves to a tree of " + size() + " leaves");
        }
        List<Digest> path = new ArrayList<>();
        if (oldSize > 0 && oldSize < size()) {
            subproof(oldSize, 0, size(), true, path);
        }
        return new ConsistencyProof(oldSize, size(), path);
    }

    /** SUBPROOF(m, D[from:to], b) of RFC 9162, with m relative to {@code from}. */
    private void subproof(int m, int from, int to, boolean oldTreeIsWholeSubtree, List<Digest> path) {
        int n = to - from;
        if (m == n) {
            // The old tree's root is this node; the verifier already has it when b is true.
            if (!oldTreeIsWholeSubtree) {
                path.add(node(from, to));
            }
            return;
        }
        int k = largestPowerOfTwoBelow(n);
        if (m <= k) {
            subproof(m, from, from + k, oldTreeIsWholeSubtree, path);
            path.add(node(from + k, to));
        } else {
            subproof(m - k, from + k, to, false, path);
            path.add(node(from, from + k));
        }
    }

    /** MTH(D[from:to]) for a range that is a node of this tree, read from the levels. */
    private Digest node(int from, int to) {
        int width = to - from;
        int k = width == 1 ? 0 : 32 - Integer.numberOfLeadingZeros(width - 1);
        return levels.get(k).get(from >> k);
    }

    /** The largest power of two strictly less than {@code n}, for {@code n >= 2}. */
    static int largestPowerOfTwoBelow(int n) {
        return Integer.highestOneBit(n - 1);
    }
}
