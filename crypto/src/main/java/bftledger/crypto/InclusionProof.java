package bftledger.crypto;

import java.util.List;
import java.util.Objects;
import java.util.Optional;

/**
 * Proof that a leaf is at {@code leafIndex} in an RFC 6962 Merkle tree of {@code treeSize} leaves
 * (RFC 9162 section 2.1.3): the audit path from the leaf's sibling up to the child of the root.
 *
 * <p>A record holds whatever a peer sent, so construction only rejects what cannot be
 * represented (negative numbers, nulls); {@link #verify} is the judge of everything else and
 * never throws on a wrong proof.
 *
 * <p>What a successful verification proves: the leaf is at {@code leafIndex} of the tree whose
 * root is {@code root}. The proof's own {@code treeSize} is only partly bound by the path (a leaf
 * with the same path shape in a tree of a different size hashes the same way), so a caller
 * compares {@code treeSize} (and {@code leafIndex}, if it matters) with what it trusts, such as
 * the transaction count in the signed block header.
 */
public record InclusionProof(long leafIndex, long treeSize, List<Digest> path) {
    /** A tree of at most 2^63 - 1 leaves has at most 63 levels below its root. */
    public static final int MAX_PATH_LENGTH = 63;

    public InclusionProof {
        if (leafIndex < 0 || treeSize < 0) {
            throw new IllegalArgumentException(
                    "negative leaf index or tree size in an inclusion proof: " + leafIndex + ", " + treeSize);
        }
        if (path == null || path.stream().anyMatch(Objects::isNull)) {
            throw new IllegalArgumentException("inclusion proof path is null or holds a null");
        }
        path = List.copyOf(path);
    }

    /** True when {@code leaf} (the leaf's bytes, hashed here as an RFC 6962 leaf) is proven under {@code root}. */
    public boolean verify(Digest root, byte[] leaf) {
        return verifyLeafHash(root, MerkleTree.leafHash(leaf));
    }

    /** True when the leaf with hash {@code leafHash} (see {@link MerkleTree#leafHash}) is proven under {@code root}. */
    public boolean verifyLeafHash(Digest root, Digest leafHash) {
        return rootFrom(leafIndex, treeSize, path, leafHash).map(root::equals).orElse(false);
    }

    /**
     * The root that {@code path} proves for a leaf with hash {@code leafHash} at
     * {@code leafIndex} of a tree of {@code treeSize} leaves, or empty when the path cannot be a
     * proof for that position (index out of range, too few or too many elements). This is the
     * RFC 9162 section 2.1.3.2 algorithm, stopping short of the final comparison.
     */
    public static Optional<Digest> rootFrom(long leafIndex, long treeSize, List<Digest> path, Digest leafHash) {
        if (leafIndex < 0 || leafIndex >= treeSize || path.size() > MAX_PATH_LENGTH) {
            return Optional.empty();
        }
        long fn = leafIndex;
        long sn = treeSize - 1;
        Digest r = leafHash;
        for (Digest p : path) {
            if (sn == 0) {
                return Optional.empty();
            }
            if ((fn & 1) == 1 || fn == sn) {
                r = MerkleTree.nodeHash(p, r);
                // Levels where this node was the unpaired last one carry it up with no sibling.
                while ((fn & 1) == 0 && fn != 0) {
                    fn >>= 1;
                    sn >>= 1;
                }
            } else {
                r = MerkleTree.nodeHash(r, p);
            }
            fn >>= 1;
            sn >>= 1;
        }
        return sn == 0 ? Optional.of(r) : Optional.empty();
    }
}
