package bftledger.crypto;

import java.util.List;
import java.util.Objects;

/**
 * Proof that the RFC 6962 Merkle tree of the first {@code oldSize} leaves is a prefix of the tree
 * of {@code newSize} leaves (RFC 9162 section 2.1.4): an append-only check between two roots.
 *
 * <p>A record holds whatever a peer sent, so construction only rejects what cannot be
 * represented (negative numbers, nulls); {@link #verify} is the judge of everything else
 * (including {@code oldSize > newSize}) and never throws on a wrong proof.
 *
 * <p>Edge cases: when {@code oldSize == newSize} the path must be empty and the roots equal; when
 * {@code oldSize == 0} the path must be empty and the old root must be the empty tree's hash,
 * and the new root is not constrained (every tree extends the empty tree).
 */
public record ConsistencyProof(long oldSize, long newSize, List<Digest> path) {
    /** At most one node per level of the new tree, plus the old subtree's root: 64 for 2^63 - 1 leaves. */
    public static final int MAX_PATH_LENGTH = 64;

    public ConsistencyProof {
        if (oldSize < 0 || newSize < 0) {
            throw new IllegalArgumentException(
                    "negative tree size in a consistency proof: " + oldSize + ", " + newSize);
        }
        if (path == null || path.stream().anyMatch(Objects::isNull)) {
            throw new IllegalArgumentException("consistency proof path is null or holds a null");
        }
        path = List.copyOf(path);
    }

    /** True when the tree with root {@code oldRoot} of {@code oldSize} leaves is a prefix of the tree with root {@code newRoot}. */
    public boolean verify(Digest oldRoot, Digest newRoot) {
        if (oldSize > newSize || path.size() > MAX_PATH_LENGTH) {
            return false;
        }
        if (oldSize == 0) {
            return path.isEmpty() && oldRoot.equals(Sha256.hash());
        }
        if (oldSize == newSize) {
            return path.isEmpty() && oldRoot.equals(newRoot);
        }
        // RFC 9162 section 2.1.4.2 from here on, with 0 < oldSize < newSize.
        if (path.isEmpty()) {
            return false;
        }
        int next = 0;
        Digest seed;
        if (Long.bitCount(oldSize) == 1) {
            // The old tree is a whole subtree of the new one; the prover leaves its root out.
            seed = oldRoot;
        } else {
            seed = path.get(next++);
        }
        long fn = oldSize - 1;
        long sn = newSize - 1;
        while ((fn & 1) == 1) {
            fn >>= 1;
            sn >>= 1;
        }
        Digest fr = seed;
        Digest sr = seed;
        for (; next < path.size(); next++) {
            Digest c = path.get(next);
            if (sn == 0) {
                return false;
            }
            if ((fn & 1) == 1 || fn == sn) {
                fr = MerkleTree.nodeHash(c, fr);
                sr = MerkleTree.nodeHash(c, sr);
                while ((fn & 1) == 0 && fn != 0) {
                    fn >>= 1;
                    sn >>= 1;
                }
            } else {
                sr = MerkleTree.nodeHash(sr, c);
            }
            fn >>= 1;
            sn >>= 1;
        }
        return sn == 0 && fr.equals(oldRoot) && sr.equals(newRoot);
    }
}
