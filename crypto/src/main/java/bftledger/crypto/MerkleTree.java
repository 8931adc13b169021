package bftledger.crypto;

import java.util.ArrayList;
import java.util.List;

/**
 * A Merkle tree as defined by RFC 6962 section 2.1: leaf hashes are {@code SHA-256(0x00 || leaf)},
 * interior nodes {@code SHA-256(0x01 || left || right)}, the empty tree hashes to
 * {@code SHA-256("")}, and a tree of n leaves splits at the largest power of two below n.
 * The prefixes keep a leaf from ever being taken for an interior node (second preimages).
 */
public final class MerkleTree {
    private static final byte[] LEAF_PREFIX = {0x00};
    private static final byte[] NODE_PREFIX = {0x01};

    private final List<Digest> leafHashes;
    private final Digest root;

    private MerkleTree(List<Digest> leafHashes) {
        this.leafHashes = List.copyOf(leafHashes);
        this.root = subtreeRoot(this.leafHashes, 0, this.leafHashes.size());
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

    /** MTH(D[from:to]) of RFC 6962, over leaf hashes. */
    static Digest subtreeRoot(List<Digest> leafHashes, int from, int to) {
        int n = to - from;
        if (n == 0) {
            return Sha256.hash();
        }
        if (n == 1) {
            return leafHashes.get(from);
        }
        int k = largestPowerOfTwoBelow(n);
        return nodeHash(subtreeRoot(leafHashes, from, from + k), subtreeRoot(leafHashes, from + k, to));
    }

    /** The largest power of two strictly less than {@code n}, for {@code n >= 2}. */
    static int largestPowerOfTwoBelow(int n) {
        return Integer.highestOneBit(n - 1);
    }
}
