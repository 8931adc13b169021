package bftledger.ledger;

import bftledger.crypto.Digest;
import bftledger.crypto.SparseMerkleTree;
import bftledger.crypto.SparseMerkleTree.Children;
import bftledger.crypto.SparseMerkleTree.Node;
import bftledger.crypto.SparseMerkleTree.Position;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.locks.ReentrantReadWriteLock;
import org.lmdbjava.Txn;

/**
 * The state tree's interior nodes in the block store. Each block's update goes to memory
 * ({@code dirty}) and is written to LMDB every {@link #FLUSH_BLOCKS} blocks, inside that block's
 * own transaction, so a block costs its hashes, not a thousand B-tree writes and their sync. What
 * is in LMDB is the tree as of {@link StoreEnv#META_TREE_HEIGHT}; at open the store brings it to
 * the tip from the leaves the later blocks touched ({@link #catchUp}), and compares the root with
 * the tip's certified state root, so a tree that does not match its blocks never serves a proof.
 *
 * <p>Readers (proofs) see one published version: a root and the nodes of that version. The writer
 * publishes a block's update after its commit, under the write lock; a flush commits under the
 * write lock too, because it rewrites nodes in LMDB that readers of the previous version would
 * otherwise read. Nodes read from LMDB by the writer are kept in a bounded cache of current
 * versions; readers never add to it (their LMDB view may be a version older than the cache's).
 */
final class StateTreeStore {
    /** Blocks between two writes of the tree to LMDB (the work after a crash is that many blocks' leaves). */
    static final int FLUSH_BLOCKS = 64;
    /** Unwritten nodes that force an early write, bounding the memory a burst of new keys takes. */
    static final int DIRTY_NODES_MAX = 200_000;
    /** Current nodes kept in memory beyond the unwritten ones; the cache is emptied when it grows past this. */
    static final int CACHED_NODES_MAX = 200_000;

    private final StoreEnv store;
    private final ReentrantReadWriteLock lock = new ReentrantReadWriteLock();
    private final Map<Position, Children> dirty = new HashMap<>();
    private final Map<Position, Children> cached = new ConcurrentHashMap<>();
    private volatile Node root;
    private volatile long height;
    private long writtenHeight;

    private StateTreeStore(StoreEnv store, Node root, long height) {
        this.store = store;
        this.root = root;
        this.height = height;
        this.writtenHeight = height;
    }

    /** Writes the genesis tree into a new store (its creating transaction). */
    static void initialize(StoreEnv store, Txn<byte[]> txn, ChainGenesis genesis) {
        SparseMerkleTree.Update initial = genesis.stateTree();
        for (Map.Entry<Position, Children> e : initial.written().entrySet()) {
            store.stateNodes.put(txn, e.getKey().encode(), e.getValue().encode());
        }
        store.meta.put(txn, StoreEnv.META_TREE_ROOT, SparseMerkleTree.encodeNode(initial.root()));
        store.meta.put(txn, StoreEnv.META_TREE_HEIGHT, StoreEnv.u64(0));
    }

    /** The tree as last written to LMDB; {@link #catchUp} brings it to the tip. */
    static StateTreeStore open(StoreEnv store, Txn<byte[]> txn) {
        byte[] encodedRoot = store.meta.get(txn, StoreEnv.META_TREE_ROOT);
        if (encodedRoot == null) {
            throw new StoreCorruptedException(store.dir + ": metadata key state_tree_root is missing");
        }
        Node root;
        try {
            root = SparseMerkleTree.decodeNode(encodedRoot);
        } catch (IllegalArgumentException e) {
            throw new StoreCorruptedException(store.dir + ": metadata key state_tree_root does not decode: " + e.getMessage(), e);
        }
        return new StateTreeStore(store, root, store.u64(txn, StoreEnv.META_TREE_HEIGHT, "state_tree_height"));
    }

    long writtenHeight() {
        return writtenHeight;
    }

    /**
     * Brings the tree from its written height to {@code tipHeight} by setting every leaf that the
     * blocks in between changed to its value now (those leaves' current values are the tip's;
     * no other leaf changed), then checks the root against {@code tipStateRoot}.
     */
    void catchUp(Txn<byte[]> txn, long tipHeight, java.util.List<SparseMerkleTree.Change> touchedLeaves, Digest tipStateRoot) {
        if (height > tipHeight) {
            throw new StoreCorruptedException(store.dir + ": the state tree is written at height " + height
                    + ", above the tip " + tipHeight);
        }
        SparseMerkleTree.Update update;
        try {
            update = SparseMerkleTree.apply(nodes(txn, true), root, touchedLeaves);
        } catch (SparseMerkleTree.DamagedTreeException e) {
            throw new StoreCorruptedException(store.dir + ": the state tree is damaged: " + e.getMessage(), e);
        }
        if (!update.root().hash().equals(tipStateRoot)) {
            throw new StoreCorruptedException(store.dir + ": the state tree (written at height " + height + ", brought to "
                    + tipHeight + ") has root " + update.root().hash().hex() + ", the tip's state root is "
                    + tipStateRoot.hex() + "; the store's state does not match its blocks");
        }
        dirty.putAll(update.written());
        root = update.root();
        height = tipHeight;
    }

    /** The root the next block executes on (writer only). */
    Node root() {
        return root;
    }

    /** The nodes the next block executes on, read inside the writer's transaction (writer only). */
    SparseMerkleTree.NodeStore writerNodes(Txn<byte[]> txn) {
        return nodes(txn, true);
    }

    /** Whether block {@code nextHeight} writes the tree to LMDB in its transaction. */
    boolean writeDue(long nextHeight) {
        return nextHeight - writtenHeight >= FLUSH_BLOCKS || dirty.size() >= DIRTY_NODES_MAX;
    }

    /** Puts the unwritten nodes and {@code update}'s into the block's transaction, with the tree's metadata. */
    void write(Txn<byte[]> txn, SparseMerkleTree.Update update, long blockHeight) {
        for (Map.Entry<Position, Children> e : dirty.entrySet()) {
            if (!update.written().containsKey(e.getKey())) {
                store.stateNodes.put(txn, e.getKey().encode(), e.getValue().encode());
            }
        }
        for (Map.Entry<Position, Children> e : update.written().entrySet()) {
            store.stateNodes.put(txn, e.getKey().encode(), e.getValue().encode());
        }
        store.meta.put(txn, StoreEnv.META_TREE_ROOT, SparseMerkleTree.encodeNode(update.root()));
        store.meta.put(txn, StoreEnv.META_TREE_HEIGHT, StoreEnv.u64(blockHeight));
    }

    /** Writes every unwritten node (at a clean close, so the next open has nothing to bring up to date). */
    void writeAll(Txn<byte[]> txn) {
        for (Map.Entry<Position, Children> e : dirty.entrySet()) {
            store.stateNodes.put(txn, e.getKey().encode(), e.getValue().encode());
        }
        store.meta.put(txn, StoreEnv.META_TREE_ROOT, SparseMerkleTree.encodeNode(root));
        store.meta.put(txn, StoreEnv.META_TREE_HEIGHT, StoreEnv.u64(height));
        dirty.clear();
        writtenHeight = height;
    }

    /**
     * Commits a block's transaction and publishes its update. When the transaction also wrote the
     * tree ({@code written}), the commit happens under the write lock (see the class comment).
     */
    void commitAndPublish(Runnable commit, SparseMerkleTree.Update update, long blockHeight, boolean written) {
        if (!written) {
            commit.run();
        }
        lock.writeLock().lock();
        try {
            if (written) {
                commit.run();
                cached.putAll(dirty);
                cached.putAll(update.written());
                dirty.clear();
                writtenHeight = blockHeight;
            } else {
                dirty.putAll(update.written());
            }
            root = update.root();
            height = blockHeight;
            if (cached.size() > CACHED_NODES_MAX) {
                cached.clear();
            }
        } finally {
            lock.writeLock().unlock();
        }
    }

    /** What a reader sees: one published version of the tree. */
    record View(long height, Node root, SparseMerkleTree.NodeStore nodes) {}

    /**
     * Runs {@code read} on the published version with an LMDB read transaction opened by
     * {@code openTxn} while that version is held, so that it sees at least the version's written
     * nodes (and the blocks up to it; possibly one block more, committed and not yet published).
     */
    <T> T read(java.util.function.Supplier<Txn<byte[]>> openTxn, java.util.function.BiFunction<View, Txn<byte[]>, T> read) {
        lock.readLock().lock();
        try (Txn<byte[]> txn = openTxn.get()) {
            return read.apply(new View(height, root, nodes(txn, false)), txn);
        } finally {
            lock.readLock().unlock();
        }
    }

    private SparseMerkleTree.NodeStore nodes(Txn<byte[]> txn, boolean writer) {
        return position -> {
            Children c = dirty.get(position);
            if (c != null) {
                return c;
            }
            c = cached.get(position);
            if (c != null) {
                return c;
            }
            byte[] raw = store.stateNodes.get(txn, position.encode());
            if (raw == null) {
                return null;
            }
            try {
                c = Children.decode(raw);
            } catch (IllegalArgumentException e) {
                throw new SparseMerkleTree.DamagedTreeException("state tree node at depth " + position.depth()
                        + " does not decode: " + e.getMessage());
            }
            if (writer) {
                cached.put(position, c);
            }
            return c;
        };
    }
}
