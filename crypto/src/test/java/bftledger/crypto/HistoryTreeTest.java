package bftledger.crypto;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class HistoryTreeTest {
    private record Key(int level, long index) {}

    @Test
    void everyPrefixHasTheRfc6962RootAndAuditPaths() {
        Seeded.run(r -> {
            Map<Key, Digest> store = new HashMap<>();
            HistoryTree.NodeReader reader = (level, index) -> store.get(new Key(level, index));
            List<Digest> leaves = new ArrayList<>();
            for (int size = 0; size < 300; size++) {
                MerkleTree expected = MerkleTree.ofLeafHashes(leaves);
                assertEquals(expected.root(), HistoryTree.root(reader, size), "root of " + size);
                if (size > 0) {
                    int index = r.nextInt(size);
                    InclusionProof proof = HistoryTree.inclusionProof(reader, index, size);
                    assertEquals(expected.inclusionProof(index), proof, "path of " + index + " in " + size);
                    assertTrue(proof.verifyLeafHash(expected.root(), leaves.get(index)));
                }
                byte[] b = new byte[32];
                r.nextBytes(b);
                Digest leaf = MerkleTree.leafHash(b);
                for (HistoryTree.Node n : HistoryTree.append(reader, size, leaf)) {
                    store.put(new Key(n.level(), n.index()), n.hash());
                }
                leaves.add(leaf);
            }
            // About two nodes per leaf: the leaves and their completed subtrees.
            assertTrue(store.size() < 2 * leaves.size());
        });
    }

    @Test
    void aMissingNodeIsReportedNotGuessed() {
        HistoryTree.NodeReader empty = (level, index) -> null;
        assertThrows(HistoryTree.MissingNodeException.class, () -> HistoryTree.root(empty, 3));
        assertThrows(IllegalArgumentException.class, () -> HistoryTree.inclusionProof(empty, 3, 3));
    }
}
