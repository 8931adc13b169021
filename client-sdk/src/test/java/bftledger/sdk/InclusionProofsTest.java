package bftledger.sdk;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import bftledger.crypto.Digest;
import bftledger.crypto.MerkleTree;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class InclusionProofsTest {
    private static final long SEED = Long.getLong("bftledger.seed", System.nanoTime());

    @Test
    void everyLeafOfRandomTreesProvesAgainstTheRootAndNothingElseDoes() {
        SplittableRandom random = new SplittableRandom(SEED);
        String why = "seed " + SEED + " (replay with -Dbftledger.seed=" + SEED + ")";
        for (int round = 0; round < 60; round++) {
            int size = 1 + random.nextInt(70);
            List<byte[]> leaves = new ArrayList<>();
            for (int i = 0; i < size; i++) {
                byte[] leaf = new byte[32];
                random.nextBytes(leaf);
                leaves.add(leaf);
            }
            MerkleTree tree = MerkleTree.of(leaves);
            List<Digest> hashes = new ArrayList<>();
            for (byte[] leaf : leaves) {
                hashes.add(MerkleTree.leafHash(leaf));
            }
            for (int i = 0; i < size; i++) {
                List<Digest> path = InclusionProofs.path(hashes, i);
                assertTrue(InclusionProofs.verify(hashes.get(i), i, size, path, tree.root()), why + " leaf " + i + "/" + size);
                int other = (i + 1) % size;
                if (other != i) {
                    assertFalse(InclusionProofs.verify(hashes.get(other), i, size, path, tree.root()), why);
                    assertFalse(InclusionProofs.verify(hashes.get(i), other, size, path, tree.root()), why);
                }
                // (A path can also fit a larger claimed size; the header's tx_count pins the size.)
                assertFalse(InclusionProofs.verify(hashes.get(i), i, i, path, tree.root()), why);
                if (!path.isEmpty()) {
                    List<Digest> tampered = new ArrayList<>(path);
                    tampered.set(random.nextInt(path.size()), Digest.ZERO);
                    assertFalse(InclusionProofs.verify(hashes.get(i), i, size, tampered, tree.root()), why);
                }
            }
        }
    }

    @Test
    void singleLeafTreeHasAnEmptyPath() {
        Digest leaf = MerkleTree.leafHash(new byte[32]);
        assertEquals(List.of(), InclusionProofs.path(List.of(leaf), 0));
        assertTrue(InclusionProofs.verify(leaf, 0, 1, List.of(), leaf));
    }
}
