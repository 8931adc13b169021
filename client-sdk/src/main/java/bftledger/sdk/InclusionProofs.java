package bftledger.sdk;

import bftledger.crypto.Digest;
import bftledger.crypto.MerkleTree;
import java.util.ArrayList;
import java.util.List;

/**
 * RFC 6962 / RFC 9162 (section 2.1.3) audit paths over the same tree as {@link MerkleTree}:
 * building one on the server side and checking one on the client side.
 */
public final class InclusionProofs {
    private InclusionProofs() {}

    /** The audit path for leaf {@code index} among {@code leafHashes}, bottom level first. */
    public static List<Digest> path(List<Digest> leafHashes, int index) {
        if (index < 0 || index >= leafHashes.size()) {
            throw new IllegalArgumentException("leaf " + index + " outside a tree of " + leafHashes.size());
        }
        List<Digest> path = new ArrayList<>();
        collect(leafHashes, index, 0, leafHashes.size(), path);
        return path;
    }

    // PATH(m, D[n]) of RFC 6962 2.1.1, recursive; appends deepest sibling first.
    private static void collect(List<Digest> leaves, int m, int from, int to, List<Digest> out) {
        int n = to - from;
        if (n <= 1) {
            return;
        }
        int k = Integer.highestOneBit(n - 1);
        if (m < k) {
            collect(leaves, m, from, from + k, out);
            out.add(root(leaves, from + k, to));
        } else {
            collect(leaves, m - k, from + k, to, out);
            out.add(root(leaves, from, from + k));
        }
    }

    private static Digest root(List<Digest> leaves, int from, int to) {
        return MerkleTree.ofLeafHashes(leaves.subList(from, to)).root();
    }

    /** True when {@code path} proves {@code leafHash} is leaf {@code index} of a tree of {@code size} with {@code root}. */
    public static boolean verify(Digest leafHash, long index, long size, List<Digest> path, Digest root) {
        if (index < 0 || index >= size) {
            return false;
        }
        long fn = index;
        long sn = size - 1;
        Digest r = leafHash;
        for (Digest p : path) {
            if (sn == 0) {
                return false;
            }
            if ((fn & 1) == 1 || fn == sn) {
                r = MerkleTree.nodeHash(p, r);
                if ((fn & 1) == 0) {
                    while ((fn & 1) == 0 && fn != 0) {
                        fn >>= 1;
                        sn >>= 1;
                    }
                }
            } else {
                r = MerkleTree.nodeHash(r, p);
            }
            fn >>= 1;
            sn >>= 1;
        }
        return sn == 0 && r.equals(root);
    }
}
