package bftledger.crypto;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.AbstractList;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Random;
import org.junit.jupiter.api.Test;

class MerkleTreeTest {
    private static final HexFormat HEX = HexFormat.of();

    /** The leaves of the Certificate Transparency test vectors. */
    private static final List<byte[]> CT_LEAVES = List.of(
            HEX.parseHex(""),
            HEX.parseHex("00"),
            HEX.parseHex("10"),
            HEX.parseHex("2021"),
            HEX.parseHex("3031"),
            HEX.parseHex("40414243"),
            HEX.parseHex("5051525354555657"),
            HEX.parseHex("606162636465666768696a6b6c6d6e6f"));

    /**
     * Roots of the first n CT leaves, computed by hand from the RFC 6962 definition with
     * {@code xxd -r -p | sha256sum}: leaf = SHA-256(00 || d), node = SHA-256(01 || l || r).
     */
    private static final List<String> CT_ROOTS = List.of(
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
            "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
            "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
            "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
            "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
            "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328");

    @Test
    void knownRootsOfSmallTrees() {
        for (int n = 0; n <= CT_LEAVES.size(); n++) {
            MerkleTree tree = MerkleTree.of(CT_LEAVES.subList(0, n));
            assertEquals(Digest.fromHex(CT_ROOTS.get(n)), tree.root(), "root of the first " + n + " leaves");
            assertEquals(n, tree.size());
        }
        assertEquals(Digest.fromHex(CT_ROOTS.get(0)), Sha256.hash(), "empty tree = SHA-256 of nothing");
    }

    @Test
    void leafHashesBuildTheSameTree() {
        List<Digest> hashes = CT_LEAVES.stream().map(MerkleTree::leafHash).toList();
        MerkleTree tree = MerkleTree.ofLeafHashes(hashes);
        assertEquals(Digest.fromHex(CT_ROOTS.get(8)), tree.root());
        for (int i = 0; i < hashes.size(); i++) {
            assertEquals(hashes.get(i), tree.leafHashAt(i));
        }
    }

    @Test
    void knownProofsOfSmallTrees() {
        MerkleTree tree = MerkleTree.of(CT_LEAVES.subList(0, 7));
        Digest[] l = CT_LEAVES.stream().map(MerkleTree::leafHash).toArray(Digest[]::new);
        Digest h01 = MerkleTree.nodeHash(l[0], l[1]);
        Digest h23 = MerkleTree.nodeHash(l[2], l[3]);
        Digest h45 = MerkleTree.nodeHash(l[4], l[5]);
        Digest h0123 = MerkleTree.nodeHash(h01, h23);
        // Leaf 6 is unpaired at the bottom level, so its path skips that level.
        assertEquals(List.of(h45, h0123), tree.inclusionProof(6).path());
        assertEquals(List.of(l[1], h23, MerkleTree.nodeHash(h45, l[6])), tree.inclusionProof(0).path());
        assertEquals(List.of(l[4], l[6], h0123), tree.inclusionProof(5).path());
        // RFC 9162 2.1.5 examples: PROOF(3, D[7]) = [c, d, g, l] and PROOF(4, D[7]) = [l].
        assertEquals(List.of(l[2], l[3], h01, MerkleTree.nodeHash(h45, l[6])), tree.consistencyProof(3).path());
        assertEquals(List.of(MerkleTree.nodeHash(h45, l[6])), tree.consistencyProof(4).path());
        assertEquals(List.of(h45, l[6], h0123), tree.consistencyProof(6).path());
    }

    @Test
    void inclusionProofsOfEveryLeafOfRandomTrees() {
        Seeded.run(random -> {
            List<byte[]> leaves = randomLeaves(random, 80);
            List<MerkleTree> prefixes = prefixTrees(leaves);
            for (int n = 1; n <= 70; n++) {
                for (int i = 0; i < n; i++) {
                    checkInclusion(prefixes, leaves, i, n, random);
                }
            }
        });
    }

    @Test
    void inclusionProofsInLargeTrees() {
        Seeded.run(random -> {
            for (int n : new int[] {1024, 1025, 3000 + random.nextInt(2000)}) {
                List<byte[]> leaves = randomLeaves(random, n + 1);
                MerkleTree bigger = MerkleTree.of(leaves);
                leaves = leaves.subList(0, n);
                MerkleTree tree = MerkleTree.of(leaves);
                List<Digest> hashes = leaves.stream().map(MerkleTree::leafHash).toList();
                assertEquals(mth(hashes, 0, n), tree.root());
                for (int probe = 0; probe < 40; probe++) {
                    int i = probe < 3 ? new int[] {0, n - 1, n / 2}[probe] : random.nextInt(n);
                    InclusionProof proof = tree.inclusionProof(i);
                    assertEquals(referencePath(hashes, i, 0, n), proof.path(), "path of leaf " + i + " of " + n);
                    assertTrue(proof.verify(tree.root(), leaves.get(i)));
                    assertFalse(proof.verify(tree.root(), leaves.get((i + 1) % n)));
                    // Within one tree size the path binds the index.
                    assertFalse(new InclusionProof((i + 1) % n, n, proof.path()).verify(tree.root(), leaves.get(i)));
                    // Against the next tree, it verifies only where it is also that tree's proof.
                    assertEquals(bigger.inclusionProof(i).path().equals(proof.path()),
                            new InclusionProof(i, n + 1L, proof.path()).verify(bigger.root(), leaves.get(i)));
                }
            }
        });
    }

    @Test
    void consistencyProofsBetweenAllSmallSizes() {
        Seeded.run(random -> {
            List<byte[]> leaves = randomLeaves(random, 45);
            List<MerkleTree> prefixes = prefixTrees(leaves);
            for (int n = 0; n <= 40; n++) {
                for (int m = 0; m <= n; m++) {
                    checkConsistency(prefixes, m, n, random);
                }
            }
        });
    }

    @Test
    void consistencyProofsBetweenRandomLargeSizes() {
        Seeded.run(random -> {
            List<byte[]> leaves = randomLeaves(random, 2100);
            List<MerkleTree> prefixes = prefixTrees(leaves);
            for (int trial = 0; trial < 60; trial++) {
                int n = 1 + random.nextInt(2000);
                int m = trial % 5 == 0 ? Integer.highestOneBit(n) : random.nextInt(n + 1);
                checkConsistency(prefixes, m, n, random);
            }
        });
    }

    @Test
    void proofsOutsideTheTreeAreRefused() {
        MerkleTree tree = MerkleTree.of(CT_LEAVES);
        assertThrows(IndexOutOfBoundsException.class, () -> tree.inclusionProof(-1));
        assertThrows(IndexOutOfBoundsException.class, () -> tree.inclusionProof(8));
        assertThrows(IndexOutOfBoundsException.class, () -> MerkleTree.of(List.of()).inclusionProof(0));
        assertThrows(IllegalArgumentException.class, () -> tree.consistencyProof(9));
        assertThrows(IllegalArgumentException.class, () -> tree.consistencyProof(-1));
        assertThrows(IllegalArgumentException.class, () -> new InclusionProof(-1, 3, List.of()));
        assertThrows(IllegalArgumentException.class, () -> new ConsistencyProof(1, -3, List.of()));
        List<Digest> withNull = new ArrayList<>();
        withNull.add(null);
        assertThrows(IllegalArgumentException.class, () -> new InclusionProof(0, 2, withNull));
        assertThrows(IllegalArgumentException.class, () -> new ConsistencyProof(1, 2, withNull));
    }

    @Test
    void consistencyEdgeCases() {
        MerkleTree tree = MerkleTree.of(CT_LEAVES);
        Digest empty = Sha256.hash();
        Digest root8 = tree.root();
        Digest root5 = MerkleTree.of(CT_LEAVES.subList(0, 5)).root();
        ConsistencyProof same = tree.consistencyProof(8);
        assertEquals(List.of(), same.path());
        assertTrue(same.verify(root8, root8));
        assertFalse(same.verify(root5, root8));
        ConsistencyProof fromEmpty = tree.consistencyProof(0);
        assertEquals(List.of(), fromEmpty.path());
        assertTrue(fromEmpty.verify(empty, root8));
        assertFalse(fromEmpty.verify(root5, root8), "the old root of an empty tree is the empty hash");
        // A shrinking "consistency" is never accepted, whatever the path.
        ConsistencyProof fiveToEight = tree.consistencyProof(5);
        assertTrue(fiveToEight.verify(root5, root8));
        assertFalse(new ConsistencyProof(8, 5, fiveToEight.path()).verify(root8, root5));
        assertFalse(new ConsistencyProof(8, 5, List.of()).verify(root8, root5));
        assertFalse(new ConsistencyProof(5, 8, List.of()).verify(root5, root8));
        assertFalse(new ConsistencyProof(0, 8, List.of(root8)).verify(empty, root8));
        assertFalse(new ConsistencyProof(8, 8, List.of(root8)).verify(root8, root8));
    }

    // ---- checks shared by the randomized tests ----

    private static void checkInclusion(List<MerkleTree> prefixes, List<byte[]> leaves, int i, int n, Random random) {
        MerkleTree tree = prefixes.get(n);
        List<Digest> hashes = leafHashes(leaves, n);
        InclusionProof proof = tree.inclusionProof(i);
        String what = "leaf " + i + " of " + n;
        assertEquals(i, proof.leafIndex());
        assertEquals(n, proof.treeSize());
        assertEquals(referencePath(hashes, i, 0, n), proof.path(), what);
        assertTrue(proof.verify(tree.root(), leaves.get(i)), what);
        assertTrue(proof.verifyLeafHash(tree.root(), hashes.get(i)), what);
        assertEquals(tree.root(), InclusionProof.rootFrom(i, n, proof.path(), hashes.get(i)).orElseThrow());

        // Another leaf, a wrong root.
        if (n > 1) {
            assertFalse(proof.verify(tree.root(), leaves.get((i + 1) % n)), what + ": other leaf");
        }
        assertFalse(proof.verify(prefixes.get(n - 1).root(), leaves.get(i)), what + ": root of a smaller tree");
        assertFalse(proof.verify(randomDigest(random), leaves.get(i)), what + ": random root");

        // Each element tampered, one element missing, one extra, the order reversed.
        List<Digest> path = proof.path();
        for (int e = 0; e < path.size(); e++) {
            List<Digest> tampered = new ArrayList<>(path);
            tampered.set(e, flipBit(path.get(e), random));
            assertFalse(new InclusionProof(i, n, tampered).verify(tree.root(), leaves.get(i)), what + ": element " + e);
            List<Digest> missing = new ArrayList<>(path);
            missing.remove(e);
            assertFalse(new InclusionProof(i, n, missing).verify(tree.root(), leaves.get(i)), what + ": without " + e);
        }
        for (int at = 0; at <= path.size(); at++) {
            List<Digest> extra = new ArrayList<>(path);
            extra.add(at, randomDigest(random));
            assertFalse(new InclusionProof(i, n, extra).verify(tree.root(), leaves.get(i)), what + ": extra at " + at);
        }
        if (path.size() > 1) {
            List<Digest> reversed = new ArrayList<>(path);
            java.util.Collections.reverse(reversed);
            if (!reversed.equals(path)) {
                assertFalse(new InclusionProof(i, n, reversed).verify(tree.root(), leaves.get(i)), what + ": reversed");
            }
        }

        // The same path claimed for another position is accepted only where it is that
        // position's own proof (checked against that tree's true root and leaf): the path
        // binds the position except where two positions share a path shape.
        for (int otherIndex = Math.max(0, i - 2); otherIndex <= i + 2; otherIndex++) {
            for (int otherSize : new int[] {n - 1, n, n + 1, n + 2, 2 * n}) {
                if (otherSize >= prefixes.size() || (otherIndex == i && otherSize == n)) {
                    continue;
                }
                boolean accepted = new InclusionProof(otherIndex, otherSize, path).verify(
                        prefixes.get(otherSize).root(), leaves.get(otherIndex));
                boolean isItsProof = otherIndex < otherSize
                        && prefixes.get(otherSize).inclusionProof(otherIndex).path().equals(path);
                assertEquals(isItsProof, accepted, what + " claimed as leaf " + otherIndex + " of " + otherSize);
            }
        }
        assertFalse(new InclusionProof(n, n, path).verify(tree.root(), leaves.get(i)), what + ": index = size");
        assertFalse(new InclusionProof(i + (long) n, n, path).verify(tree.root(), leaves.get(i)), what + ": index past size");
    }

    private static void checkConsistency(List<MerkleTree> prefixes, int m, int n, Random random) {
        MerkleTree oldTree = prefixes.get(m);
        MerkleTree newTree = prefixes.get(n);
        List<Digest> hashes = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            hashes.add(newTree.leafHashAt(i));
        }
        ConsistencyProof proof = newTree.consistencyProof(m);
        String what = "consistency " + m + " -> " + n;
        assertEquals(m, proof.oldSize());
        assertEquals(n, proof.newSize());
        List<Digest> expected = (m == 0 || m == n) ? List.of() : referenceSubproof(hashes, m, 0, n, true);
        assertEquals(expected, proof.path(), what);
        assertTrue(proof.verify(oldTree.root(), newTree.root()), what);

        Digest oldRoot = oldTree.root();
        Digest newRoot = newTree.root();
        if (m > 0) {
            assertFalse(proof.verify(randomDigest(random), newRoot), what + ": random old root");
            assertFalse(proof.verify(prefixes.get(m - 1).root(), newRoot), what + ": smaller old root");
            assertFalse(proof.verify(newRoot, oldRoot) && m != n, what + ": roots swapped");
            assertFalse(proof.verify(oldRoot, randomDigest(random)), what + ": random new root");
            if (n + 1 < prefixes.size()) {
                assertFalse(proof.verify(oldRoot, prefixes.get(n + 1).root()), what + ": larger new root");
            }
        }
        List<Digest> path = proof.path();
        for (int e = 0; e < path.size(); e++) {
            List<Digest> tampered = new ArrayList<>(path);
            tampered.set(e, flipBit(path.get(e), random));
            assertFalse(new ConsistencyProof(m, n, tampered).verify(oldRoot, newRoot), what + ": element " + e);
            List<Digest> missing = new ArrayList<>(path);
            missing.remove(e);
            assertFalse(new ConsistencyProof(m, n, missing).verify(oldRoot, newRoot), what + ": without " + e);
        }
        for (int at = 0; at <= path.size(); at++) {
            List<Digest> extra = new ArrayList<>(path);
            extra.add(at, randomDigest(random));
            assertFalse(new ConsistencyProof(m, n, extra).verify(oldRoot, newRoot), what + ": extra at " + at);
        }
        // Claimed for other sizes against those trees' true roots: accepted only where the path
        // is that pair's own proof.
        for (int otherOld = Math.max(0, m - 1); otherOld <= m + 1; otherOld++) {
            for (int otherNew : new int[] {n - 1, n, n + 1, 2 * n}) {
                if (otherNew < 0 || otherNew >= prefixes.size() || (otherOld == m && otherNew == n)) {
                    continue;
                }
                boolean accepted = new ConsistencyProof(otherOld, otherNew, path)
                        .verify(prefixes.get(otherOld).root(), prefixes.get(otherNew).root());
                boolean isItsProof = otherOld <= otherNew
                        && prefixes.get(otherNew).consistencyProof(otherOld).path().equals(path);
                assertEquals(isItsProof, accepted, what + " claimed as " + otherOld + " -> " + otherNew);
            }
        }
    }

    // ---- reference implementation: RFC 9162 2.1 written out literally, recursion over lists ----

    private static Digest mth(List<Digest> d, int from, int to) {
        int n = to - from;
        if (n == 0) {
            return Sha256.hash();
        }
        if (n == 1) {
            return d.get(from);
        }
        int k = 1;
        while (k * 2 < n) {
            k *= 2;
        }
        return MerkleTree.nodeHash(mth(d, from, from + k), mth(d, from + k, to));
    }

    /** PATH(m, D[from:to]). */
    private static List<Digest> referencePath(List<Digest> d, int m, int from, int to) {
        int n = to - from;
        List<Digest> path = new ArrayList<>();
        if (n == 1) {
            return path;
        }
        int k = 1;
        while (k * 2 < n) {
            k *= 2;
        }
        if (m < k) {
            path.addAll(referencePath(d, m, from, from + k));
            path.add(mth(d, from + k, to));
        } else {
            path.addAll(referencePath(d, m - k, from + k, to));
            path.add(mth(d, from, from + k));
        }
        return path;
    }

    /** SUBPROOF(m, D[from:to], b). */
    private static List<Digest> referenceSubproof(List<Digest> d, int m, int from, int to, boolean b) {
        int n = to - from;
        List<Digest> proof = new ArrayList<>();
        if (m == n) {
            if (!b) {
                proof.add(mth(d, from, to));
            }
            return proof;
        }
        int k = 1;
        while (k * 2 < n) {
            k *= 2;
        }
        if (m <= k) {
            proof.addAll(referenceSubproof(d, m, from, from + k, b));
            proof.add(mth(d, from + k, to));
        } else {
            proof.addAll(referenceSubproof(d, m - k, from + k, to, false));
            proof.add(mth(d, from, from + k));
        }
        return proof;
    }

    // ---- helpers ----

    private static List<byte[]> randomLeaves(Random random, int count) {
        List<byte[]> leaves = new ArrayList<>(count);
        for (int i = 0; i < count; i++) {
            byte[] leaf = new byte[random.nextInt(40)];
            random.nextBytes(leaf);
            // Distinct leaves, so "another leaf" really is different.
            leaves.add(concat(leaf, Integer.toString(i).getBytes(java.nio.charset.StandardCharsets.US_ASCII)));
        }
        return leaves;
    }

    /** The trees of the first n leaves, for every n, built on first use (the large tests touch few sizes). */
    private static List<MerkleTree> prefixTrees(List<byte[]> leaves) {
        List<Digest> hashes = leaves.stream().map(MerkleTree::leafHash).toList();
        Map<Integer, MerkleTree> built = new HashMap<>();
        return new AbstractList<>() {
            @Override
            public MerkleTree get(int n) {
                Objects.checkIndex(n, size());
                return built.computeIfAbsent(n, size -> MerkleTree.ofLeafHashes(hashes.subList(0, size)));
            }

            @Override
            public int size() {
                return hashes.size() + 1;
            }
        };
    }

    private static List<Digest> leafHashes(List<byte[]> leaves, int n) {
        return leaves.subList(0, n).stream().map(MerkleTree::leafHash).toList();
    }

    private static Digest randomDigest(Random random) {
        byte[] bytes = new byte[Digest.LENGTH];
        random.nextBytes(bytes);
        return Digest.of(bytes);
    }

    private static Digest flipBit(Digest digest, Random random) {
        byte[] bytes = digest.bytes();
        int bit = random.nextInt(Digest.LENGTH * 8);
        bytes[bit / 8] ^= (byte) (1 << (bit % 8));
        return Digest.of(bytes);
    }

    private static byte[] concat(byte[] a, byte[] b) {
        byte[] out = new byte[a.length + b.length];
        System.arraycopy(a, 0, out, 0, a.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }
}
