package bftledger.ledger;

import bftledger.crypto.Digest;
import bftledger.crypto.SparseMerkleTree;
import bftledger.crypto.SparseMerkleTree.Children;
import bftledger.crypto.SparseMerkleTree.Node;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.ReentrantReadWriteLock;
import org.lmdbjava.Txn;

/**
 * The state tree's interior nodes in the block store. Each block's update stays in memory, held
 * by the tree's own nodes (a persistent tree: see {@link SparseMerkleTree}), and is written to
 * LMDB every {@link #FLUSH_BLOCKS} blocks, inside that block's own transaction, so a block costs
 * its hashes, not a thousand B-tree writes and their sync. What is in LMDB is the tree as of
 * {@link StoreEnv#META_TREE_HEIGHT}; at open the store brings it to the tip from the leaves the
 * later blocks touched ({@link #catchUp}), and compares the root with the tip's certified state
 * root, so a tree that does not match its blocks never serves a proof.
 *
 * <p>Readers (proofs) see one published version: a root and its nodes. Nodes in memory never
 * change, but LMDB holds one node per position, the latest written: a reader of version h must
 * read LMDB as of version h. So the writer publishes a block's root after its commit, under the
 * write lock, and a block that writes the tree commits under the write lock too; a reader takes
 * the version and opens its LMDB view under the read lock. Nodes read from LMDB stay held in
 * memory; when more than {@link #CACHED_NODES_MAX} are held, a write of the tree lets go of them
 * (under the write lock, after everything is written, so what is dropped is all in LMDB).
 */
final class StateTreeStore {
    /** Blocks between two writes of the tree to LMDB (the work after a crash is that many blocks' leaves). */
    static final int FLUSH_BLOCKS = 64;
    /** Nodes made since the last write that force an early write, bounding the memory a burst of new keys takes. */
    static final int DIRTY_NODES_MAX = 200_000;
    /** Nodes held in memory (read from LMDB, or added) beyond which a write of the tree drops them all. */
    static final int CACHED_NODES_MAX = 200_000;

    private final StoreEnv store;
    private final ReentrantReadWriteLock lock = new ReentrantReadWriteLock();
    /** Nodes read from LMDB since the tree last let go (by the writer and by readers). */
    private final AtomicLong loaded = new AtomicLong();
    /** Nodes the updates since the tree last let go added at new positions. */
    private long added;
    /** Nodes the updates since the last write made. */
    private long unwritten;
    private volatile Node root;
    private volatile long height;
    /** Read without the lock by {@link BlockStore#prune}, which only needs a value no higher than the latest. */
    private volatile long writtenHeight;

    private StateTreeStore(StoreEnv store, Node root, long height) {
        this.store = store;
        this.root = root;
        this.height = height;
        this.writtenHeight = height;
    }

    /** Writes the genesis tree into a new store (its creating transaction). */
    static void initialize(StoreEnv store, Txn<byte[]> txn, ChainGenesis genesis) {
        SparseMerkleTree.Update initial = genesis.stateTree();
        putUnstored(store, txn, initial.root());
        store.meta.put(txn, StoreEnv.META_TREE_ROOT, SparseMerkleTree.encodeNode(initial.root()));
        store.meta.put(txn, StoreEnv.META_TREE_HEIGHT, StoreEnv.u64(0));
    }

    /** Puts the nodes of the tree under {@code root} that LMDB does not hold yet into {@code txn}. */
    private static void putUnstored(StoreEnv store, Txn<byte[]> txn, Node root) {
        SparseMerkleTree.forEachUnstored(root, (position, children) -> store.stateNodes.put(txn, position.encode(), children.encode()));
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
            update = SparseMerkleTree.apply(nodes(txn), root, touchedLeaves);
        } catch (SparseMerkleTree.DamagedTreeException e) {
            throw new StoreCorruptedException(store.dir + ": the state tree is damaged: " + e.getMessage(), e);
        }
        if (!update.root().hash().equals(tipStateRoot)) {
            throw new StoreCorruptedException(store.dir + ": the state tree (written at height " + height + ", brought to "
                    + tipHeight + ") has root " + update.root().hash().hex() + ", the tip's state root is "
                    + tipStateRoot.hex() + "; the store's state does not match its blocks");
        }
        counted(update);
        root = update.root();
        height = tipHeight;
    }

    /** The root the next block executes on (writer only). */
    Node root() {
        return root;
    }

    /** The nodes the next block executes on, read inside the writer's transaction (writer only). */
    SparseMerkleTree.NodeStore writerNodes(Txn<byte[]> txn) {
        return nodes(txn);
    }

    /** Whether block {@code nextHeight} writes the tree to LMDB in its transaction. */
    boolean writeDue(long nextHeight) {
        return nextHeight - writtenHeight >= FLUSH_BLOCKS || unwritten >= DIRTY_NODES_MAX;
    }

    /** Puts the unwritten nodes of {@code update}'s version into the block's transaction, with the tree's metadata. */
    void write(Txn<byte[]> txn, SparseMerkleTree.Update update, long blockHeight) {
        putUnstored(store, txn, update.root());
        store.meta.put(txn, StoreEnv.META_TREE_ROOT, SparseMerkleTree.encodeNode(update.root()));
        store.meta.put(txn, StoreEnv.META_TREE_HEIGHT, StoreEnv.u64(blockHeight));
    }

    /** Writes every unwritten node (at a clean close, so the next open has nothing to bring up to date). */
    void writeAll(Txn<byte[]> txn, Runnable commit) {
        Node current = root;
        putUnstored(store, txn, current);
        store.meta.put(txn, StoreEnv.META_TREE_ROOT, SparseMerkleTree.encodeNode(current));
        store.meta.put(txn, StoreEnv.META_TREE_HEIGHT, StoreEnv.u64(height));
        commit.run();
        SparseMerkleTree.markStored(current);
        unwritten = 0;
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
        counted(update);
        lock.writeLock().lock();
        try {
            if (written) {
                commit.run();
                SparseMerkleTree.markStored(update.root());
                unwritten = 0;
                writtenHeight = blockHeight;
                if (loaded.get() + added > CACHED_NODES_MAX && update.root() instanceof SparseMerkleTree.Interior top) {
                    top.release();
                    loaded.set(0);
                    added = 0;
                }
            }
            root = update.root();
            height = blockHeight;
        } finally {
            lock.writeLock().unlock();
        }
    }

    private void counted(SparseMerkleTree.Update update) {
        unwritten += update.created();
        added += update.added();
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
            return read.apply(new View(height, root, nodes(txn)), txn);
        } finally {
            lock.readLock().unlock();
        }
    }

    private SparseMerkleTree.NodeStore nodes(Txn<byte[]> txn) {
        return position -> {
            byte[] raw = store.stateNodes.get(txn, position.encode());
            if (raw == null) {
                return null;
            }
            try {
                Children c = Children.decode(raw);
                loaded.incrementAndGet();
                return c;
            } catch (IllegalArgumentException e) {
                throw new SparseMerkleTree.DamagedTreeException("state tree node at depth " + position.depth()
                        + " does not decode: " + e.getMessage());
            }
        };
    }
}
