package bftledger.crypto;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * A sparse Merkle tree over 256-bit keys: the authenticated state behind a block header's
 * state root, with membership and non-membership proofs. The hashing rule is part of the public
 * contract (a client in any language verifies proofs with it):
 *
 * <pre>
 * empty subtree   32 zero bytes
 * leaf            SHA-256("bftledger/v1/smt-leaf" 0x00 || key (32) || value_hash (32))
 * interior node   SHA-256("bftledger/v1/smt-node" 0x00 || left (32) || right (32))
 * </pre>
 *
 * The key's bits, most significant bit of byte 0 first, choose left (0) or right (1) from the
 * root down. A subtree that holds no key is empty; a subtree that holds exactly one key is that
 * key's leaf (a leaf sits at the highest level where it is alone, so a tree of n random keys is
 * about log2(n) deep); any other subtree is an interior node. The root is the hash of the whole
 * tree. Keys are never removed; a key's value hash may change.
 *
 * <p>Storage is a port ({@link NodeStore}): interior nodes are kept by their position
 * ({@link Position}: depth and key prefix) as their two children; leaves and empty subtrees live
 * inside their parent's entry. In memory the tree is persistent: an {@link Interior} node may hold
 * its {@link Children}, and {@link #apply} builds new nodes on the changed paths that share every
 * other subtree with the version it started from, so a version, once made, never changes and a
 * reader holding its root needs no lock against the writer. A node whose children are not held is
 * read from the store by position; what is read is checked against the hash its parent names and
 * then held (content-addressed, so any thread may do it). {@link #apply} touches O(changes x
 * depth) nodes and writes nothing to the store: the caller writes {@link #forEachUnstored} in the
 * transaction of its choice and then {@link #markStored}.
 */
public final class SparseMerkleTree {
    /** The hash of an empty subtree, and the root of a tree with no keys. */
    public static final Digest EMPTY_HASH = Digest.ZERO;
    /** Interior nodes sit at depths 0..255; leaves at most one deeper. */
    public static final int KEY_BITS = 256;

    private static final byte[] LEAF_TAG = "bftledger/v1/smt-leaf\0".getBytes(StandardCharsets.US_ASCII);
    private static final byte[] NODE_TAG = "bftledger/v1/smt-node\0".getBytes(StandardCharsets.US_ASCII);

    private SparseMerkleTree() {}

    public static Digest leafHash(Digest key, Digest valueHash) {
        return Sha256.hash(LEAF_TAG, key.raw(), valueHash.raw());
    }

    public static Digest nodeHash(Digest left, Digest right) {
        return Sha256.hash(NODE_TAG, left.raw(), right.raw());
    }

    /** Bit {@code index} of {@code key}, 0 being the most significant bit of byte 0. */
    public static int bit(Digest key, int index) {
        return bit(key.raw(), index);
    }

    static int bit(byte[] key, int index) {
        return (key[index >>> 3] >>> (7 - (index & 7))) & 1;
    }

    // ------------------------------------------------------------------------------ nodes

    /** What stands at a position: nothing, one key's leaf, or an interior node (kept in the store). */
    public sealed interface Node permits Empty, Leaf, Interior {
        Digest hash();
    }

    public record Empty() implements Node {
        public static final Empty INSTANCE = new Empty();

        @Override
        public Digest hash() {
            return EMPTY_HASH;
        }
    }

    /** One key's leaf; its hash is computed when first asked for (most leaves read are never hashed). */
    public static final class Leaf implements Node {
        private final Digest key;
        private final Digest valueHash;
        private Digest hash;

        public Leaf(Digest key, Digest valueHash) {
            this.key = Objects.requireNonNull(key);
            this.valueHash = Objects.requireNonNull(valueHash);
        }

        public Digest key() {
            return key;
        }

        public Digest valueHash() {
            return valueHash;
        }

        @Override
        public Digest hash() {
            Digest h = hash;
            if (h == null) {
                h = leafHash(key, valueHash);
                hash = h;
            }
            return h;
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof Leaf l && key.equals(l.key) && valueHash.equals(l.valueHash);
        }

        @Override
        public int hashCode() {
            return key.hashCode() * 31 + valueHash.hashCode();
        }

        @Override
        public String toString() {
            return "Leaf(" + key.shortHex() + " -> " + valueHash.shortHex() + ")";
        }
    }

    /**
     * An interior node: its hash, and its children while they are held in memory (null when they
     * are to be read from the store). Equal by hash.
     */
    public static final class Interior implements Node {
        private final Digest hash;
        private volatile Children children;

        /** A node known by its hash only; its children are read from the store when needed. */
        public Interior(Digest hash) {
            this.hash = Objects.requireNonNull(hash);
        }

        /** A node whose children are in memory. */
        public Interior(Children children) {
            this.hash = children.hash();
            this.children = children;
        }

        @Override
        public Digest hash() {
            return hash;
        }

        /** The children held in memory, or null. */
        public Children heldChildren() {
            return children;
        }

        /**
         * Drops the children held in memory, so that they are read from the store again. Only for
         * a node whose subtree is all in the store ({@link Children#stored()}), and only while no
         * other thread walks the tree.
         */
        public void release() {
            Children c = children;
            if (c != null && !c.stored()) {
                throw new IllegalStateException("the children of " + hash.shortHex() + " are not in the store");
            }
            children = null;
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof Interior i && hash.equals(i.hash);
        }

        @Override
        public int hashCode() {
            return hash.hashCode();
        }

        @Override
        public String toString() {
            return "Interior(" + hash.shortHex() + ")";
        }
    }

    /**
     * A position in the tree: its depth and the first {@code depth} bits of every key below it (the
     * rest zero), held as four longs so that positions are cheap map keys. Interior nodes stand at
     * depths 0..255; depth 256 is a single key's place.
     */
    public static final class Position {
        public static final Position ROOT = new Position(0, new long[4]);

        private final int depth;
        private final long[] prefix;

        private Position(int depth, long[] prefix) {
            if (depth < 0 || depth > KEY_BITS) {
                throw new IllegalArgumentException("depth " + depth + " outside 0.." + KEY_BITS);
            }
            this.depth = depth;
            this.prefix = prefix;
        }

        /** The position at {@code depth} on the path of {@code key}. */
        public static Position of(int depth, Digest key) {
            long[] p = new long[4];
            byte[] k = key.raw();
            for (int i = 0; i < depth; i++) {
                if (bit(k, i) == 1) {
                    p[i >>> 6] |= 1L << (63 - (i & 63));
                }
            }
            return new Position(depth, p);
        }

        public int depth() {
            return depth;
        }

        /** The prefix as 32 bytes, the bits at and beyond {@link #depth()} zero. */
        public Digest prefix() {
            byte[] out = new byte[Digest.LENGTH];
            for (int i = 0; i < 32; i++) {
                out[i] = (byte) (prefix[i >>> 3] >>> (56 - 8 * (i & 7)));
            }
            return Digest.wrap(out);
        }

        Position child(int side) {
            long[] p = prefix.clone();
            if (side == 1) {
                p[depth >>> 6] |= 1L << (63 - (depth & 63));
            }
            return new Position(depth + 1, p);
        }

        /** 33 bytes: depth (the low 8 bits; only interior positions, 0..255, are stored), then the prefix. */
        public byte[] encode() {
            byte[] out = new byte[1 + Digest.LENGTH];
            out[0] = (byte) depth;
            for (int i = 0; i < 32; i++) {
                out[1 + i] = (byte) (prefix[i >>> 3] >>> (56 - 8 * (i & 7)));
            }
            return out;
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof Position p && depth == p.depth && java.util.Arrays.equals(prefix, p.prefix);
        }

        /**
         * Every bit of depth and prefix mixed into the low bits HashMap indexes by: positions on one
         * key's path differ in a single bit, which a polynomial hash left in the high bits, filling
         * tree bins on every block's update.
         */
        @Override
        public int hashCode() {
            long h = depth;
            for (long word : prefix) {
                h = Long.rotateLeft(h ^ word, 29) * 0x9E3779B97F4A7C15L;
            }
            h = (h ^ (h >>> 33)) * 0xFF51AFD7ED558CCDL;
            h = (h ^ (h >>> 33)) * 0xC4CEB9FE1A85EC53L;
            return (int) (h ^ (h >>> 33));
        }

        @Override
        public String toString() {
            return "Position(" + depth + ", " + prefix().shortHex() + ")";
        }
    }

    /**
     * An interior node as stored: its two children. Its hash is computed once. {@link #stored()}
     * says the store holds it and, by the same write or an earlier one, every node below it.
     */
    public static final class Children {
        private final Node left;
        private final Node right;
        private Digest hash;
        private volatile boolean stored;

        public Children(Node left, Node right) {
            this.left = Objects.requireNonNull(left);
            this.right = Objects.requireNonNull(right);
        }

        public Node left() {
            return left;
        }

        public Node right() {
            return right;
        }

        public Node side(int side) {
            return side == 0 ? left : right;
        }

        public boolean stored() {
            return stored;
        }

        public Digest hash() {
            Digest h = hash;
            if (h == null) {
                h = nodeHash(left.hash(), right.hash());
                hash = h;
            }
            return h;
        }

        public byte[] encode() {
            byte[] l = encodeNode(left);
            byte[] r = encodeNode(right);
            byte[] out = new byte[l.length + r.length];
            System.arraycopy(l, 0, out, 0, l.length);
            System.arraycopy(r, 0, out, l.length, r.length);
            return out;
        }

        /** @throws IllegalArgumentException when the bytes are not an encoding this class writes */
        public static Children decode(byte[] bytes) {
            int[] at = {0};
            Node left = decodeNode(bytes, at);
            Node right = decodeNode(bytes, at);
            if (at[0] != bytes.length) {
                throw new IllegalArgumentException("interior node entry has " + (bytes.length - at[0]) + " trailing bytes");
            }
            return new Children(left, right);
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof Children c && left.equals(c.left) && right.equals(c.right);
        }

        @Override
        public int hashCode() {
            return left.hashCode() * 31 + right.hashCode();
        }
    }

    private static final byte EMPTY_TAG = 0;
    private static final byte LEAF_NODE_TAG = 1;
    private static final byte INTERIOR_TAG = 2;

    /** One byte kind, then for a leaf its key and value hash, for an interior node its hash. */
    public static byte[] encodeNode(Node node) {
        if (node instanceof Leaf leaf) {
            byte[] out = new byte[1 + 2 * Digest.LENGTH];
            out[0] = LEAF_NODE_TAG;
            System.arraycopy(leaf.key().raw(), 0, out, 1, Digest.LENGTH);
            System.arraycopy(leaf.valueHash().raw(), 0, out, 1 + Digest.LENGTH, Digest.LENGTH);
            return out;
        } else if (node instanceof Interior interior) {
            byte[] out = new byte[1 + Digest.LENGTH];
            out[0] = INTERIOR_TAG;
            System.arraycopy(interior.hash().raw(), 0, out, 1, Digest.LENGTH);
            return out;
        }
        return new byte[] {EMPTY_TAG};
    }

    /** @throws IllegalArgumentException when the bytes are not exactly one encoded node */
    public static Node decodeNode(byte[] bytes) {
        int[] at = {0};
        Node node = decodeNode(bytes, at);
        if (at[0] != bytes.length) {
            throw new IllegalArgumentException("node entry has " + (bytes.length - at[0]) + " trailing bytes");
        }
        return node;
    }

    private static Node decodeNode(byte[] bytes, int[] at) {
        if (at[0] >= bytes.length) {
            throw new IllegalArgumentException("node entry ends early");
        }
        byte tag = bytes[at[0]++];
        switch (tag) {
            case EMPTY_TAG -> {
                return Empty.INSTANCE;
            }
            case LEAF_NODE_TAG -> {
                Digest key = digestAt(bytes, at);
                return new Leaf(key, digestAt(bytes, at));
            }
            case INTERIOR_TAG -> {
                return new Interior(digestAt(bytes, at));
            }
            default -> throw new IllegalArgumentException("unknown node kind " + tag);
        }
    }

    private static Digest digestAt(byte[] bytes, int[] at) {
        if (at[0] + Digest.LENGTH > bytes.length) {
            throw new IllegalArgumentException("node entry ends inside a hash");
        }
        byte[] d = new byte[Digest.LENGTH];
        System.arraycopy(bytes, at[0], d, 0, Digest.LENGTH);
        at[0] += Digest.LENGTH;
        return Digest.wrap(d);
    }

    // ------------------------------------------------------------------------------ storage port

    /** Where interior nodes are read from. A missing or undecodable entry under a known interior node is damage. */
    @FunctionalInterface
    public interface NodeStore {
        /** The children of the interior node at {@code position}, or null when the store holds none there. */
        Children get(Position position);
    }

    /** Thrown when the store lacks an interior node the tree refers to, or its children do not hash to it. */
    public static final class DamagedTreeException extends RuntimeException {
        public DamagedTreeException(String message) {
            super(message);
        }
    }

    /**
     * The children of {@code node}, which stands at {@code depth} on the path of {@code key}: those
     * held in memory, or else those the store holds at its position, checked and then held.
     */
    private static Children children(NodeStore store, Interior node, int depth, Digest key) {
        Children held = node.children;
        if (held != null) {
            return held;
        }
        Children read = read(store, Position.of(depth, key), node.hash());
        read.stored = true;
        node.children = read;
        return read;
    }

    private static Children read(NodeStore store, Position position, Digest expected) {
        Children children = store.get(position);
        if (children == null) {
            throw new DamagedTreeException("no interior node stored at depth " + position.depth() + " prefix "
                    + position.prefix().shortHex());
        }
        if (!children.hash().equals(expected)) {
            throw new DamagedTreeException("interior node at depth " + position.depth() + " prefix "
                    + position.prefix().shortHex() + " hashes to " + children.hash().shortHex() + ", its parent names "
                    + expected.shortHex());
        }
        return children;
    }

    // ------------------------------------------------------------------------------ updates

    /**
     * A new root, and how many interior nodes the update made: {@code created} in all,
     * {@code added} of them at positions that held no interior node before (the tree grew by that
     * many nodes; the others replace a node at their position).
     */
    public record Update(Node root, int created, int added) {
        public Update {
            Objects.requireNonNull(root);
        }

        /**
         * The interior nodes of this version that the store does not hold yet, by position: what
         * a caller writes to commit the update (and, for a tree built from scratch, every node).
         */
        public Map<Position, Children> written() {
            Map<Position, Children> out = new HashMap<>();
            forEachUnstored(root, out::put);
            return out;
        }
    }

    /** A key and the value hash it takes. */
    public record Change(Digest key, Digest valueHash) {}

    /** A visitor of stored entries: a position and the interior node there. */
    @FunctionalInterface
    public interface NodeSink {
        void put(Position position, Children children);
    }

    /**
     * Visits every interior node of the tree under {@code root} that is held in memory and not
     * stored, parents before children. A stored node's subtree is stored too, so the walk does not
     * enter it: the work is the number of unstored nodes.
     */
    public static void forEachUnstored(Node root, NodeSink sink) {
        if (root instanceof Interior interior) {
            forEachUnstored(Position.ROOT, interior, sink);
        }
    }

    private static void forEachUnstored(Position at, Interior node, NodeSink sink) {
        Children c = node.children;
        if (c == null || c.stored) {
            return;
        }
        sink.put(at, c);
        if (c.left instanceof Interior left) {
            forEachUnstored(at.child(0), left, sink);
        }
        if (c.right instanceof Interior right) {
            forEachUnstored(at.child(1), right, sink);
        }
    }

    /** Marks every node {@link #forEachUnstored} visits as stored: call after the store's write of them commits. */
    public static void markStored(Node root) {
        if (root instanceof Interior interior) {
            markStored(interior);
        }
    }

    private static void markStored(Interior node) {
        Children c = node.children;
        if (c == null || c.stored) {
            return;
        }
        if (c.left instanceof Interior left) {
            markStored(left);
        }
        if (c.right instanceof Interior right) {
            markStored(right);
        }
        // Children first: a node marked stored promises its whole subtree is.
        c.stored = true;
    }

    /**
     * Sets each key of {@code changes} to its value hash on the tree whose root is {@code root}.
     * {@code changes} must be sorted by key (unsigned) with no key twice. The tree under
     * {@code root} is not changed (beyond holding children read from the store).
     *
     * @throws DamagedTreeException when the store does not hold what the tree refers to
     */
    public static Update apply(NodeStore store, Node root, List<Change> changes) {
        for (int i = 1; i < changes.size(); i++) {
            if (changes.get(i - 1).key().compareTo(changes.get(i).key()) >= 0) {
                throw new IllegalArgumentException("changes must be sorted by key with no key twice");
            }
        }
        int[] counts = new int[2];
        Node updated = update(store, 0, root, changes, 0, changes.size(), counts);
        return new Update(updated, counts[0], counts[1]);
    }

    /** {@code counts}: interior nodes created, and of those at new positions. */
    private static Node update(NodeStore store, int depth, Node node, List<Change> changes, int from, int to,
            int[] counts) {
        if (from == to) {
            return node;
        }
        if (node instanceof Interior interior) {
            Children children = children(store, interior, depth, changes.get(from).key());
            return split(store, depth, children.left(), children.right(), changes, from, to, counts, false);
        }
        if (node instanceof Leaf leaf && !containsKey(changes, from, to, leaf.key())) {
            // The leaf moves down beside the new keys: it joins the batch as a change of its own.
            List<Change> merged = new ArrayList<>(to - from + 1);
            boolean placed = false;
            for (int i = from; i < to; i++) {
                if (!placed && leaf.key().compareTo(changes.get(i).key()) < 0) {
                    merged.add(new Change(leaf.key(), leaf.valueHash()));
                    placed = true;
                }
                merged.add(changes.get(i));
            }
            if (!placed) {
                merged.add(new Change(leaf.key(), leaf.valueHash()));
            }
            return build(store, depth, merged, 0, merged.size(), counts);
        }
        return build(store, depth, changes, from, to, counts);
    }

    /** A subtree holding exactly {@code changes[from, to)} (the old content was empty or a leaf they replace). */
    private static Node build(NodeStore store, int depth, List<Change> changes, int from, int to, int[] counts) {
        if (to - from == 1) {
            Change c = changes.get(from);
            return new Leaf(c.key(), c.valueHash());
        }
        return split(store, depth, Empty.INSTANCE, Empty.INSTANCE, changes, from, to, counts, true);
    }

    private static Node split(NodeStore store, int depth, Node left, Node right, List<Change> changes, int from,
            int to, int[] counts, boolean added) {
        if (depth >= KEY_BITS) {
            throw new IllegalStateException("two distinct keys cannot share all " + KEY_BITS + " bits");
        }
        int mid = from;
        while (mid < to && bit(changes.get(mid).key(), depth) == 0) {
            mid++;
        }
        Node newLeft = mid > from ? update(store, depth + 1, left, changes, from, mid, counts) : left;
        Node newRight = to > mid ? update(store, depth + 1, right, changes, mid, to, counts) : right;
        counts[0]++;
        if (added) {
            counts[1]++;
        }
        return new Interior(new Children(newLeft, newRight));
    }

    private static boolean containsKey(List<Change> changes, int from, int to, Digest key) {
        for (int i = from; i < to; i++) {
            if (changes.get(i).key().equals(key)) {
                return true;
            }
        }
        return false;
    }

    // ------------------------------------------------------------------------------ proofs

    /**
     * The path to where a key is or would be: the sibling hashes from the root down (one per
     * interior node passed), and what the search reached: the key's own leaf (membership),
     * another key's leaf or an empty subtree (non-membership).
     */
    public record Proof(List<Digest> siblings, Node terminal) {
        public Proof {
            siblings = List.copyOf(siblings);
            Objects.requireNonNull(terminal);
            if (terminal instanceof Interior) {
                throw new IllegalArgumentException("a proof ends at a leaf or an empty subtree");
            }
            if (siblings.size() > KEY_BITS) {
                throw new IllegalArgumentException("a proof passes at most " + KEY_BITS + " interior nodes");
            }
        }

        /**
         * What this proof shows about {@code key} under {@code root}: its value hash, its absence, or
         * nothing (the proof does not lead to the root, or its terminal leaf cannot stand on the key's path).
         */
        public Verdict verify(Digest root, Digest key) {
            int depth = siblings.size();
            if (terminal instanceof Leaf leaf && !leaf.key().equals(key) && !samePrefix(leaf.key(), key, depth)) {
                return Verdict.INVALID;
            }
            byte[] k = key.raw();
            Digest h = terminal.hash();
            for (int i = depth - 1; i >= 0; i--) {
                Digest sibling = siblings.get(i);
                h = bit(k, i) == 0 ? nodeHash(h, sibling) : nodeHash(sibling, h);
            }
            if (!h.equals(root)) {
                return Verdict.INVALID;
            }
            if (terminal instanceof Leaf leaf && leaf.key().equals(key)) {
                return Verdict.present(leaf.valueHash());
            }
            return Verdict.ABSENT;
        }
    }

    /** The outcome of checking a proof. */
    public record Verdict(Kind kind, Digest valueHash) {
        public enum Kind { PRESENT, ABSENT, INVALID }

        static final Verdict ABSENT = new Verdict(Kind.ABSENT, null);
        static final Verdict INVALID = new Verdict(Kind.INVALID, null);

        static Verdict present(Digest valueHash) {
            return new Verdict(Kind.PRESENT, valueHash);
        }
    }

    private static boolean samePrefix(Digest a, Digest b, int bits) {
        byte[] x = a.raw();
        byte[] y = b.raw();
        for (int i = 0; i < bits; i++) {
            if (bit(x, i) != bit(y, i)) {
                return false;
            }
        }
        return true;
    }

    /**
     * The proof for {@code key} in the tree whose root is {@code root}.
     *
     * @throws DamagedTreeException when the store does not hold what the tree refers to
     */
    public static Proof prove(NodeStore store, Node root, Digest key) {
        byte[] k = key.raw();
        List<Digest> siblings = new ArrayList<>();
        Node node = root;
        int depth = 0;
        while (node instanceof Interior interior) {
            Children children = children(store, interior, depth, key);
            int side = bit(k, depth);
            siblings.add(children.side(1 - side).hash());
            node = children.side(side);
            if (depth + 1 >= KEY_BITS && node instanceof Interior) {
                throw new DamagedTreeException("interior node below depth " + (KEY_BITS - 1));
            }
            depth++;
        }
        return new Proof(siblings, node);
    }

    /** The value hash stored for {@code key}, or null. Reads the same path a proof does. */
    public static Digest get(NodeStore store, Node root, Digest key) {
        Proof p = prove(store, root, key);
        return p.terminal() instanceof Leaf leaf && leaf.key().equals(key) ? leaf.valueHash() : null;
    }

    /**
     * The root of a tree holding exactly {@code entries} (sorted by key, distinct), every interior
     * node held in memory: a tree built from scratch, as a fresh store or an audit rebuilds it.
     */
    public static Update build(List<Change> entries) {
        return apply(position -> null, Empty.INSTANCE, entries);
    }
}
