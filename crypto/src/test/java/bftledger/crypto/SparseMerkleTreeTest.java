package bftledger.crypto;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import bftledger.crypto.SparseMerkleTree.Change;
import bftledger.crypto.SparseMerkleTree.Children;
import bftledger.crypto.SparseMerkleTree.Node;
import bftledger.crypto.SparseMerkleTree.Position;
import bftledger.crypto.SparseMerkleTree.Proof;
import bftledger.crypto.SparseMerkleTree.Verdict;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;

class SparseMerkleTreeTest {

    /** The rule as written in the class comment, computed directly from the whole key set. */
    private static Digest reference(TreeMap<Digest, Digest> entries, int depth) {
        if (entries.isEmpty()) {
            return SparseMerkleTree.EMPTY_HASH;
        }
        if (entries.size() == 1) {
            var e = entries.firstEntry();
            return SparseMerkleTree.leafHash(e.getKey(), e.getValue());
        }
        TreeMap<Digest, Digest> left = new TreeMap<>();
        TreeMap<Digest, Digest> right = new TreeMap<>();
        entries.forEach((k, v) -> (SparseMerkleTree.bit(k, depth) == 0 ? left : right).put(k, v));
        return SparseMerkleTree.nodeHash(reference(left, depth + 1), reference(right, depth + 1));
    }

    /**
     * An in-memory store the updates are committed to, as a block store would. With
     * {@code fromStore}, the root kept after each update holds no children, so every read goes
     * through the store; otherwise the nodes held in memory serve and the store is not read.
     */
    private static final class MapStore implements SparseMerkleTree.NodeStore {
        final Map<Position, Children> nodes = new HashMap<>();
        final boolean fromStore;
        Node root = SparseMerkleTree.Empty.INSTANCE;

        MapStore(boolean fromStore) {
            this.fromStore = fromStore;
        }

        MapStore() {
            this(true);
        }

        @Override
        public Children get(Position position) {
            return nodes.get(position);
        }

        void apply(TreeMap<Digest, Digest> changes) {
            List<Change> list = new ArrayList<>();
            changes.forEach((k, v) -> list.add(new Change(k, v)));
            SparseMerkleTree.Update u = SparseMerkleTree.apply(this, root, list);
            // Copies, as a real store holds: no node read back holds children in memory.
            SparseMerkleTree.forEachUnstored(u.root(), (p, c) -> nodes.put(p, Children.decode(c.encode())));
            SparseMerkleTree.markStored(u.root());
            root = fromStore && u.root() instanceof SparseMerkleTree.Interior ? new SparseMerkleTree.Interior(u.root().hash())
                    : u.root();
        }
    }

    private static Digest random(Random r) {
        byte[] b = new byte[32];
        r.nextBytes(b);
        return Digest.of(b);
    }

    @Test
    void batchesOfUpdatesGiveTheRootTheRuleDefines() {
        batchesOfUpdatesGiveTheRootTheRuleDefines(true);
        batchesOfUpdatesGiveTheRootTheRuleDefines(false);
    }

    private static void batchesOfUpdatesGiveTheRootTheRuleDefines(boolean fromStore) {
        Seeded.run(r -> {
            MapStore store = new MapStore(fromStore);
            TreeMap<Digest, Digest> all = new TreeMap<>();
            List<Digest> keys = new ArrayList<>();
            for (int round = 0; round < 40; round++) {
                TreeMap<Digest, Digest> changes = new TreeMap<>();
                int n = 1 + r.nextInt(30);
                for (int i = 0; i < n; i++) {
                    // New keys and changes to old ones, mixed.
                    Digest key = !keys.isEmpty() && r.nextBoolean() ? keys.get(r.nextInt(keys.size())) : random(r);
                    changes.put(key, random(r));
                }
                store.apply(changes);
                changes.keySet().stream().filter(k -> !all.containsKey(k)).forEach(keys::add);
                all.putAll(changes);
                assertEquals(reference(all, 0), store.root.hash(), "after round " + round);
            }
            List<Change> entries = new ArrayList<>();
            all.forEach((k, v) -> entries.add(new Change(k, v)));
            assertEquals(store.root.hash(), SparseMerkleTree.build(entries).root().hash(), "built from scratch");
        });
    }

    @Test
    void proofsShowEveryKeyPresentAndOtherKeysAbsent() {
        Seeded.run(r -> {
            MapStore store = new MapStore();
            TreeMap<Digest, Digest> all = new TreeMap<>();
            for (int i = 0; i < 300; i++) {
                all.put(random(r), random(r));
            }
            store.apply(all);
            Digest root = store.root.hash();
            for (var e : all.entrySet()) {
                Verdict v = SparseMerkleTree.prove(store, store.root, e.getKey()).verify(root, e.getKey());
                assertEquals(Verdict.Kind.PRESENT, v.kind());
                assertEquals(e.getValue(), v.valueHash());
                assertEquals(e.getValue(), SparseMerkleTree.get(store, store.root, e.getKey()));
            }
            for (int i = 0; i < 300; i++) {
                Digest absent = random(r);
                Proof p = SparseMerkleTree.prove(store, store.root, absent);
                assertEquals(Verdict.Kind.ABSENT, p.verify(root, absent).kind());
                assertNull(SparseMerkleTree.get(store, store.root, absent));
            }
        });
    }

    @Test
    void alteredProofsProveNothing() {
        Seeded.run(r -> {
            MapStore store = new MapStore();
            TreeMap<Digest, Digest> all = new TreeMap<>();
            for (int i = 0; i < 64; i++) {
                all.put(random(r), random(r));
            }
            store.apply(all);
            Digest root = store.root.hash();
            Digest key = all.firstKey();
            Proof honest = SparseMerkleTree.prove(store, store.root, key);
            // Another value for the same key.
            Proof otherValue = new Proof(honest.siblings(), new SparseMerkleTree.Leaf(key, random(r)));
            assertEquals(Verdict.Kind.INVALID, otherValue.verify(root, key).kind());
            // Claiming the key is absent by ending at an empty subtree.
            Proof absent = new Proof(honest.siblings(), SparseMerkleTree.Empty.INSTANCE);
            assertEquals(Verdict.Kind.INVALID, absent.verify(root, key).kind());
            // One sibling changed.
            List<Digest> siblings = new ArrayList<>(honest.siblings());
            siblings.set(r.nextInt(siblings.size()), random(r));
            assertEquals(Verdict.Kind.INVALID, new Proof(siblings, honest.terminal()).verify(root, key).kind());
            // A sibling dropped.
            assertEquals(Verdict.Kind.INVALID,
                    new Proof(honest.siblings().subList(1, honest.siblings().size()), honest.terminal()).verify(root, key).kind());
            // Another key's honest proof presented for this key.
            Digest other = all.lastKey();
            assertEquals(Verdict.Kind.INVALID, SparseMerkleTree.prove(store, store.root, other).verify(root, key).kind());
            // A leaf that cannot stand on the key's path, offered as proof of absence.
            Proof misplaced = new Proof(List.of(), new SparseMerkleTree.Leaf(other, all.get(other)));
            assertEquals(Verdict.Kind.INVALID, misplaced.verify(root, key).kind());
        });
    }

    /**
     * An update leaves the version it started from as it was (its proofs still verify against its
     * root), and after a write only the nodes later updates make are unstored.
     */
    @Test
    void anUpdateLeavesEarlierVersionsIntactAndOnlyItsOwnNodesUnstored() {
        Seeded.run(r -> {
            MapStore store = new MapStore(false);
            TreeMap<Digest, Digest> first = new TreeMap<>();
            for (int i = 0; i < 200; i++) {
                first.put(random(r), random(r));
            }
            store.apply(first);
            Node before = store.root;
            Digest beforeHash = before.hash();
            Map<Position, Children> stored = new HashMap<>(store.nodes);

            TreeMap<Digest, Digest> second = new TreeMap<>();
            second.put(first.firstKey(), random(r));
            second.put(random(r), random(r));
            List<Change> list = new ArrayList<>();
            second.forEach((k, v) -> list.add(new Change(k, v)));
            SparseMerkleTree.Update u = SparseMerkleTree.apply(store, before, list);
            Map<Position, Children> unstored = u.written();
            assertEquals(u.created(), unstored.size(), "every node the update made, and nothing else, is unstored");
            long replaced = unstored.keySet().stream().filter(stored::containsKey).count();
            assertEquals(u.created() - u.added(), replaced, "nodes made at positions that held one replace it");
            Map<Position, Children> after = new HashMap<>(stored);
            after.putAll(unstored);
            assertEquals(stored.size() + u.added(), after.size(), "the tree grew by the nodes added at new positions");

            assertEquals(beforeHash, before.hash());
            for (var e : first.entrySet()) {
                Proof p = SparseMerkleTree.prove(store, before, e.getKey());
                assertEquals(e.getValue(), p.verify(beforeHash, e.getKey()).valueHash(), "the old version still proves its values");
            }
            Proof changed = SparseMerkleTree.prove(store, u.root(), first.firstKey());
            assertEquals(second.get(first.firstKey()), changed.verify(u.root().hash(), first.firstKey()).valueHash());
        });
    }

    @Test
    void aReleasedRootReadsItsNodesBackFromTheStore() {
        MapStore store = new MapStore(false);
        TreeMap<Digest, Digest> entries = new TreeMap<>();
        Random r = new Random(11);
        for (int i = 0; i < 50; i++) {
            entries.put(random(r), random(r));
        }
        store.apply(entries);
        SparseMerkleTree.Interior top = (SparseMerkleTree.Interior) store.root;
        top.release();
        assertNull(top.heldChildren());
        for (var e : entries.entrySet()) {
            assertEquals(e.getValue(), SparseMerkleTree.get(store, top, e.getKey()));
        }
        SparseMerkleTree.Update u = SparseMerkleTree.apply(store, top, List.of(new Change(entries.firstKey(), random(r))));
        assertThrows(IllegalStateException.class, () -> ((SparseMerkleTree.Interior) u.root()).release(),
                "a node whose children are not stored cannot let go of them");
    }

    @Test
    void keysThatDifferOnlyInTheirLastBitSitUnderAnInteriorNodeAtDepth255() {
        byte[] a = new byte[32];
        byte[] b = new byte[32];
        b[31] = 1;
        MapStore store = new MapStore();
        TreeMap<Digest, Digest> entries = new TreeMap<>();
        entries.put(Digest.of(a), Sha256.hash(new byte[] {1}));
        entries.put(Digest.of(b), Sha256.hash(new byte[] {2}));
        store.apply(entries);
        assertEquals(reference(entries, 0), store.root.hash());
        Proof p = SparseMerkleTree.prove(store, store.root, Digest.of(b));
        assertEquals(256, p.siblings().size());
        assertEquals(Verdict.Kind.PRESENT, p.verify(store.root.hash(), Digest.of(b)).kind());
    }

    @Test
    void aMissingOrAlteredStoredNodeIsReportedAsDamage() {
        MapStore store = new MapStore();
        TreeMap<Digest, Digest> entries = new TreeMap<>();
        Random r = new Random(7);
        for (int i = 0; i < 16; i++) {
            entries.put(random(r), random(r));
        }
        store.apply(entries);
        Position child = store.nodes.keySet().stream().filter(p -> p.depth() > 0).findFirst().orElseThrow();
        Children kept = store.nodes.remove(child);
        Digest key = entries.keySet().stream().filter(k -> underPosition(k, child)).findFirst().orElseThrow();
        assertThrows(SparseMerkleTree.DamagedTreeException.class, () -> SparseMerkleTree.prove(store, store.root, key));
        store.nodes.put(child, new Children(kept.right(), kept.left()));
        assertThrows(SparseMerkleTree.DamagedTreeException.class,
                () -> SparseMerkleTree.apply(store, store.root, List.of(new Change(key, random(r)))));
    }

    private static boolean underPosition(Digest key, Position p) {
        for (int i = 0; i < p.depth(); i++) {
            if (SparseMerkleTree.bit(key, i) != SparseMerkleTree.bit(p.prefix(), i)) {
                return false;
            }
        }
        return true;
    }

    @Test
    void storedEntriesRoundTripAndRefuseGarbage() {
        Random r = new Random(3);
        Children c = new Children(new SparseMerkleTree.Leaf(random(r), random(r)), new SparseMerkleTree.Interior(random(r)));
        assertEquals(c, Children.decode(c.encode()));
        Children e = new Children(SparseMerkleTree.Empty.INSTANCE, new SparseMerkleTree.Leaf(random(r), random(r)));
        assertEquals(e, Children.decode(e.encode()));
        byte[] bytes = c.encode();
        assertThrows(IllegalArgumentException.class, () -> Children.decode(java.util.Arrays.copyOf(bytes, bytes.length - 1)));
        assertThrows(IllegalArgumentException.class, () -> Children.decode(java.util.Arrays.copyOf(bytes, bytes.length + 1)));
        byte[] badKind = bytes.clone();
        badKind[0] = 9;
        assertThrows(IllegalArgumentException.class, () -> Children.decode(badKind));
        assertInstanceOf(SparseMerkleTree.Empty.class, SparseMerkleTree.decodeNode(new byte[] {0}));
    }

    /**
     * The published rule on a fixed input: keys SHA-256("a"), SHA-256("b"), SHA-256("c") with value
     * hashes SHA-256("1"), SHA-256("2"), SHA-256("3"). An implementation in another language checks
     * itself against this root (and the test-vector file).
     */
    @Test
    void aFixedTreeHasThePublishedRoot() {
        TreeMap<Digest, Digest> entries = new TreeMap<>();
        entries.put(Sha256.hash("a".getBytes()), Sha256.hash("1".getBytes()));
        entries.put(Sha256.hash("b".getBytes()), Sha256.hash("2".getBytes()));
        entries.put(Sha256.hash("c".getBytes()), Sha256.hash("3".getBytes()));
        MapStore store = new MapStore();
        store.apply(entries);
        assertEquals(reference(entries, 0), store.root.hash());
        assertEquals(FIXED_ROOT, store.root.hash().hex());
    }

    // Computed independently of this code from the rule in the class comment (a few lines of Python with hashlib).
    static final String FIXED_ROOT = "62028619569e5728a308c67acff0c988c9b224b773476491637a39e55c00f813";
}
