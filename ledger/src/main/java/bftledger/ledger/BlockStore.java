package bftledger.ledger;

import bftledger.crypto.Digest;
import bftledger.crypto.HeaderAnchor;
import bftledger.crypto.HistoryTree;
import bftledger.crypto.InclusionProof;
import bftledger.crypto.MerkleTree;
import bftledger.crypto.SparseMerkleTree;
import bftledger.ledger.proto.Block;
import bftledger.ledger.proto.BlockHeader;
import bftledger.ledger.proto.CommitCertificate;
import bftledger.ledger.proto.HeaderProof;
import bftledger.ledger.proto.Receipt;
import bftledger.ledger.proto.SignedTransaction;
import bftledger.ledger.proto.TransactionBody;
import com.google.protobuf.ByteString;
import com.google.protobuf.InvalidProtocolBufferException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Consumer;
import java.util.function.Function;
import java.util.function.Supplier;
import org.lmdbjava.PutFlags;
import org.lmdbjava.Txn;

/**
 * The append-only block store in LMDB: blocks with their certificates and receipts, the executed
 * state (accounts and records, the leaves of the state tree, and the tree itself), the blocks
 * tree behind blocks_root and which block certifies each header; beside it, the transaction
 * index ({@link TxIndex}, derived from the blocks). The layout is in {@link StoreEnv}.
 *
 * <p>Contract: an append is one LMDB write transaction holding the block, its state changes,
 * its blocks-tree leaf and its anchor; it is durable when the call returns. The state tree's
 * nodes follow in memory and reach LMDB every few dozen blocks ({@link StateTreeStore}); the
 * block's index entries are written right after, without sync, and brought level with the
 * blocks before every append and at open. Nothing is ever overwritten: a block that does not
 * follow the tip is refused. Opening checks the tail and that the state tree reproduces the
 * tip's state root, and throws {@link StoreCorruptedException} rather than repairing anything.
 * One writer at a time (appends are synchronized); readers run concurrently, each in its own
 * {@link StoreSnapshot}. A store is open at most once per process. When the map size is
 * exhausted an append fails with lmdbjava's MapFullException and writes nothing.
 */
public final class BlockStore implements AutoCloseable {
    public static final long DEFAULT_MAP_SIZE = 1L << 30;
    public static final int MAX_READERS = StoreEnv.MAX_READERS;
    public static final int FORMAT_VERSION = StoreEnv.FORMAT_VERSION;
    /** Blocks kept parsed (see {@link #parsedBlock}). */
    static final int PARSED_RECENT_MAX = 16;
    /** How long a proof waits for the state tree to publish a block already committed. */
    private static final int TREE_PUBLISH_WAIT_MILLIS = 2_000;

    private static final org.slf4j.Logger log = org.slf4j.LoggerFactory.getLogger(BlockStore.class);

    private final StoreLock lock;
    private final StoreEnv store;
    private final ChainGenesis genesis;
    private final BlockHistory history;
    private final AtomicBoolean closed = new AtomicBoolean();
    private StateTreeStore tree;
    private String stateTreeProblem;
    private String tailProblem;
    private TxIndex index;
    /**
     * The most recently read blocks, parsed. Blocks are never rewritten once stored, and a
     * replica under load looks up transactions of its newest blocks over and over (a submit that
     * arrives after its commit, a retry, a lookup by id): each read would otherwise parse and
     * re-check a whole block of up to a few hundred transactions.
     */
    private final Map<Long, Block> parsedRecent = new java.util.LinkedHashMap<>(PARSED_RECENT_MAX * 2, 0.75f, true) {
        @Override
        protected boolean removeEldestEntry(Map.Entry<Long, Block> eldest) {
            return size() > PARSED_RECENT_MAX;
        }
    };

    private BlockStore(StoreLock lock, StoreEnv store, ChainGenesis genesis) {
        this.lock = lock;
        this.store = store;
        this.genesis = genesis;
        this.history = new BlockHistory(store);
    }

    public static BlockStore open(Path dir, ChainGenesis genesis) {
        return open(dir, genesis, DEFAULT_MAP_SIZE);
    }

    /**
     * Creates the store for {@code genesis} in {@code dir}, or opens the existing one after
     * checking: the LMDB file is not truncated; format version, chain id and genesis hash match;
     * the block at the stored height exists, parses, passes every check that needs no
     * re-execution (including its certificate and transaction signatures), its hash is the stored
     * tip hash, its state root is the stored state root, it links to the block before it, and no
     * block lies beyond it; the state tree brought to the tip has the tip's state root.
     */
    public static BlockStore open(Path dir, ChainGenesis genesis, long mapSizeBytes) {
        return open(dir, genesis, mapSizeBytes, false);
    }

    /**
     * Opens a store for the offline audit: as {@link #open(Path, ChainGenesis)}, except that a
     * state tree that does not reproduce the tip's state root (or cannot be brought to the tip)
     * is reported by {@link #stateTreeProblem()} instead of refusing the store, so the audit can
     * walk the blocks and say where the ledger and its state part. Such a store appends nothing
     * and proves nothing.
     */
    public static BlockStore openForAudit(Path dir, ChainGenesis genesis) {
        return open(dir, genesis, DEFAULT_MAP_SIZE, true);
    }

    private static BlockStore open(Path dir, ChainGenesis genesis, long mapSizeBytes, boolean auditing) {
        StoreLock lock = StoreLock.take(dir);
        if (StateSyncBuilder.unfinished(dir)) {
            lock.close();
            throw new StoreCorruptedException(dir + " holds a store whose build from a state snapshot never finished"
                    + " (its " + StateSyncBuilder.UNFINISHED_FILE + " file is there); delete the directory and sync again");
        }
        StoreEnv env = null;
        BlockStore opened = null;
        try {
            env = StoreEnv.open(lock.dir, mapSizeBytes);
            opened = new BlockStore(lock, env, genesis);
            opened.initializeOrCheck(auditing);
            opened.openIndex(mapSizeBytes);
            return opened;
        } catch (RuntimeException e) {
            if (opened != null && opened.index != null) {
                opened.index.close();
            }
            if (env != null) {
                env.close();
            }
            lock.close();
            throw e;
        }
    }

    private void initializeOrCheck(boolean auditing) {
        try (Txn<byte[]> txn = store.env.txnWrite()) {
            if (store.meta.get(txn, StoreEnv.META_FORMAT_VERSION) == null) {
                if (store.lastBlockHeight(txn) != 0) {
                    throw new StoreCorruptedException(store.dir + ": blocks present but no metadata");
                }
                create(txn);
                txn.commit();
            }
        }
        try (Txn<byte[]> txn = store.env.txnRead()) {
            try {
                StoreTail.check(store, genesis, new StoreSnapshot(this, store, txn, null, false));
            } catch (DamagedBlockException e) {
                if (!auditing) {
                    throw e;
                }
                tailProblem = e.getMessage();
            }
            try {
                tree = openTree(txn);
            } catch (StoreCorruptedException e) {
                if (!auditing) {
                    throw e;
                }
                stateTreeProblem = e.getMessage();
            }
        }
    }

    /** The state tree, brought to the tip and checked against the tip's state root. */
    private StateTreeStore openTree(Txn<byte[]> txn) {
        StateTreeStore opened = StateTreeStore.open(store, txn);
        long height = store.height(txn);
        Digest tipRoot = store.digest(txn, StoreEnv.META_STATE_ROOT);
        if (opened.writtenHeight() < height) {
            opened.catchUp(txn, height, touchedLeaves(txn, opened.writtenHeight() + 1, height), tipRoot);
        } else if (opened.writtenHeight() > height) {
            throw new StoreCorruptedException(store.dir + ": the state tree is written at height " + opened.writtenHeight()
                    + ", above the tip " + height);
        } else if (!opened.root().hash().equals(tipRoot)) {
            throw new StoreCorruptedException(store.dir + ": the state tree's root " + opened.root().hash().hex()
                    + " is not the tip's state root " + tipRoot.hex());
        }
        return opened;
    }

    /** Why the state tree could not be brought to the tip (stores opened for audit only), or null. */
    public String stateTreeProblem() {
        return stateTreeProblem;
    }

    /** A damaged block found at the tip by the open's checks (stores opened for audit only), or null. */
    public String tailProblem() {
        return tailProblem;
    }

    private StateTreeStore tree() {
        if (tree == null) {
            throw new StoreCorruptedException(store.dir + ": " + stateTreeProblem);
        }
        return tree;
    }

    private void create(Txn<byte[]> txn) {
        create(store, genesis, txn);
    }

    /** Writes a new store for {@code genesis} into {@code txn}: metadata, initial balances, their state tree, blocks-tree leaf 0. */
    static void create(StoreEnv store, ChainGenesis genesis, Txn<byte[]> txn) {
        store.meta.put(txn, StoreEnv.META_FORMAT_VERSION, StoreEnv.u32(StoreEnv.FORMAT_VERSION));
        store.meta.put(txn, StoreEnv.META_CHAIN_ID, genesis.chainId().getBytes(java.nio.charset.StandardCharsets.UTF_8));
        store.meta.put(txn, StoreEnv.META_GENESIS_HASH, genesis.hash().bytes());
        store.meta.put(txn, StoreEnv.META_GENESIS, genesis.bytes());
        store.meta.put(txn, StoreEnv.META_HEIGHT, u64(0));
        store.meta.put(txn, StoreEnv.META_TIP_HASH, genesis.hash().bytes());
        store.meta.put(txn, StoreEnv.META_STATE_ROOT, genesis.stateRoot().bytes());
        for (Map.Entry<ByteString, Long> e : genesis.initialBalances().entrySet()) {
            store.accounts.put(txn, e.getKey().toByteArray(), u64(e.getValue()));
        }
        StateTreeStore.initialize(store, txn, genesis);
        new BlockHistory(store).append(txn, 0, genesis.hash());
    }

    /**
     * The leaves blocks {@code from..to} changed, at their values now: every account a SUCCESS
     * transfer moved funds between and every record a SUCCESS put wrote (FAILED and DUPLICATE
     * change nothing).
     */
    private List<SparseMerkleTree.Change> touchedLeaves(Txn<byte[]> txn, long from, long to) {
        if (from < store.prunedBelow(txn)) {
            throw new StoreCorruptedException(store.dir + ": the state tree is written at height " + (from - 1)
                    + " and the blocks above it were pruned (below " + store.prunedBelow(txn) + ")");
        }
        TreeMap<Digest, Digest> leaves = new TreeMap<>();
        StoreSnapshot view = new StoreSnapshot(this, store, txn, null, false);
        for (long h = from; h <= to; h++) {
            // Unchecked: a damaged block gives wrong leaves, and the root comparison after says so.
            Block block = view.parseStoredBlock(h, false);
            for (int i = 0; i < block.getTransactionsCount() && i < block.getReceiptsCount(); i++) {
                if (block.getReceipts(i).getStatus() != Receipt.Status.SUCCESS) {
                    continue;
                }
                TransactionBody body;
                try {
                    body = TransactionBody.parseFrom(block.getTransactions(i).getBody());
                } catch (InvalidProtocolBufferException e) {
                    throw new StoreCorruptedException(store.dir + ": transaction " + i + " of block " + h + " does not parse", e);
                }
                if (body.hasTransfer()) {
                    for (ByteString account : List.of(body.getSender(), body.getTransfer().getTo())) {
                        leaves.put(StateKeys.account(account), StateKeys.balanceValue(view.balance(account)));
                    }
                } else if (body.hasPutRecord()) {
                    RecordKey key = new RecordKey(body.getSender(), body.getPutRecord().getKeyBytes());
                    long at = h;
                    RecordValue value = view.record(key).orElseThrow(() -> new StoreCorruptedException(store.dir
                            + ": record " + key + " written at height " + at + " is not stored"));
                    leaves.put(StateKeys.record(key), StateKeys.recordValue(value));
                }
            }
        }
        List<SparseMerkleTree.Change> changes = new ArrayList<>(leaves.size());
        leaves.forEach((k, v) -> changes.add(new SparseMerkleTree.Change(k, v)));
        return changes;
    }

    // ------------------------------------------------------------------------------ the index

    /** Opens the transaction index and brings it level with the blocks (rebuilding it when it was discarded). */
    private void openIndex(long mapSizeBytes) {
        index = TxIndex.open(store.dir, mapSizeBytes, false);
        long height = height();
        Optional<String> foreign = foreignIndex(height);
        if (foreign.isPresent()) {
            // Not something a crash produces (see TxIndex): start it over from the blocks.
            log.warn("event=txindex-discarded dir={} reason=\"{}\"", store.dir, foreign.get());
            index.abandon();
            index = null;
            index = TxIndex.open(store.dir, mapSizeBytes, true);
        }
        if (height > index.height()) {
            log.info("event=txindex-catch-up dir={} from={} to={} rebuilt={}", store.dir, index.height(), height,
                    index.rebuilt());
        }
        try (Txn<byte[]> txn = store.env.txnRead()) {
            levelIndex(txn);
        }
    }

    /** Why the index does not belong to these blocks, if it does not: ahead of them, or another block at its height. */
    private Optional<String> foreignIndex(long height) {
        long at = index.height();
        if (at > height) {
            return Optional.of("indexed to height " + at + ", above the store's " + height);
        }
        if (at == 0) {
            return Optional.empty();
        }
        Optional<Digest> recorded = index.tipHash();
        Digest stored;
        try (Txn<byte[]> txn = store.env.txnRead()) {
            stored = Blocks.hash(new StoreSnapshot(this, store, txn, null, false).parseStoredBlock(at, false));
        }
        return recorded.isPresent() && recorded.get().equals(stored) ? Optional.empty()
                : Optional.of("the index's block at height " + at + " is " + recorded.map(Digest::hex).orElse("unrecorded")
                        + ", the store's is " + stored.hex());
    }

    /** Indexes stored blocks the index does not hold yet, up to the height {@code txn} sees. */
    private void levelIndex(Txn<byte[]> txn) {
        long height = store.height(txn);
        StoreSnapshot view = new StoreSnapshot(this, store, txn, null, false);
        for (long h = index.height() + 1; h <= height; h++) {
            Block block = view.parseStoredBlock(h, false);
            index.add(h, Blocks.hash(block), TxIndex.entriesOf(block));
        }
    }

    private void indexCommitted(ExecutedBlock executed) {
        List<TxIndex.Entry> entries = new ArrayList<>(executed.execution().changes().executed().size());
        for (StateChanges.Executed e : executed.execution().changes().executed()) {
            entries.add(new TxIndex.Entry(e.txId(), e.index(), e.receipt()));
        }
        index.add(executed.height(), executed.hash(), entries);
    }

    TxIndex index() {
        return index;
    }

    // ------------------------------------------------------------------------------ damage

    /** Told each height found damaged when read (a node fetches a certified copy from peers). */
    private volatile java.util.function.LongConsumer damageListener = height -> {};
    private final java.util.Set<Long> damaged = java.util.concurrent.ConcurrentHashMap.newKeySet();

    public void onDamage(java.util.function.LongConsumer listener) {
        this.damageListener = listener;
    }

    /**
     * Reads every stored block through the integrity check (the full start-up check): the heights
     * found damaged, each also reported to the damage listener. Takes a read of the whole chain.
     */
    public List<Long> checkAllBlocks() {
        List<Long> found = new ArrayList<>();
        try (Txn<byte[]> txn = store.env.txnRead()) {
            StoreSnapshot view = new StoreSnapshot(this, store, txn, null, false);
            for (long h = 1; h <= view.height(); h++) {
                try {
                    view.parseStoredBlock(h);
                } catch (DamagedBlockException e) {
                    found.add(h);
                }
            }
        }
        return found;
    }

    /** Heights whose stored block was found damaged and not yet repaired. */
    public java.util.SortedSet<Long> damagedHeights() {
        return new java.util.TreeSet<>(damaged);
    }

    DamagedBlockException damaged(long height, String why) {
        if (damaged.add(height)) {
            log.error("event=block-damaged dir={} height={} problem=\"{}\"", store.dir, height, why);
        }
        damageListener.accept(height);
        return new DamagedBlockException(height, store.dir + ": the block stored at height " + height + " is damaged: "
                + why + "; it is not served until a certified copy replaces it");
    }

    /**
     * Puts a certified copy of block {@code height} in place of a damaged one: the only write
     * that replaces a stored block, and only with a block whose header hash is the one the chain
     * recorded at that height (the blocks tree's leaf) and whose contents and certificate check
     * against genesis. Returns why the candidate was refused, or empty when it replaced the block.
     */
    public synchronized Optional<String> repair(long height, Block candidate) {
        Digest hash = Blocks.hash(candidate);
        Digest previous;
        Digest leaf;
        long prunedBelow;
        long tip;
        // This store's own sets: the chain it executed, which a repair only replaces like for like.
        List<ValidatorSets.ValidatorSet> sets;
        try (Txn<byte[]> txn = store.env.txnRead()) {
            tip = store.height(txn);
            if (height < 1 || height > tip) {
                return Optional.of("height " + height + " is not stored");
            }
            leaf = history.reader(txn).get(0, height);
            previous = height == 1 ? genesis.hash() : previousHashOf(txn, height);
            prunedBelow = store.prunedBelow(txn);
            sets = ValidatorSets.all(genesis, new StoreSnapshot(this, store, txn, null, false).record(ValidatorSets.RECORD));
        }
        if (leaf == null || !leaf.equals(MerkleTree.leafHash(hash.bytes()))) {
            return Optional.of("its header hash " + hash.shortHex() + " is not the one the chain recorded at " + height);
        }
        // A peer that pruned the height serves the pruned form: enough for a height this store
        // pruned too, or is about to prune next (the lowest whole one, which it then passes).
        boolean prunedCandidate = candidate.getTransactionsCount() == 0 && candidate.getReceiptsCount() > 0;
        if (prunedCandidate && (height > prunedBelow || height >= pruneLimit(Long.MAX_VALUE, tip))) {
            return Optional.of("it is in its pruned form, and this store keeps height " + height + " whole");
        }
        BlockChecker.BlockCheck check = prunedCandidate ? BlockChecker.checkPruned(genesis, sets, height, previous, null, candidate)
                : BlockChecker.checkServed(genesis, sets, height, previous, candidate);
        if (!check.ok()) {
            return Optional.of("it does not check: " + check.problems());
        }
        Optional<String> integrity = BlockIntegrity.problem(candidate, height, leaf, prunedCandidate);
        if (integrity.isPresent()) {
            return integrity;
        }
        try (Txn<byte[]> txn = store.env.txnWrite()) {
            long below = store.prunedBelow(txn);
            Block kept = height < below || prunedCandidate ? prunedForm(candidate) : candidate;
            store.blocks.put(txn, u64(height), StoredBlock.encode(kept.toByteArray()));
            if (prunedCandidate && height >= below) {
                // The lowest whole height, repaired in its pruned form (checked above): pruned now.
                store.meta.put(txn, StoreEnv.META_PRUNED_BELOW, u64(height + 1));
                store.meta.put(txn, StoreEnv.META_FORMAT_VERSION, StoreEnv.u32(StoreEnv.FORMAT_PRUNED));
            }
            txn.commit();
        }
        synchronized (parsedRecent) {
            parsedRecent.remove(height);
        }
        damaged.remove(height);
        log.warn("event=block-repaired dir={} height={} hash={}", store.dir, height, hash.shortHex());
        return Optional.empty();
    }

    // ------------------------------------------------------------------------------ pruning

    /** Most blocks one {@link #prune} call strips, in one write transaction (appends wait for it). */
    public static final int PRUNE_CHUNK_BLOCKS = 64;

    /** What one {@link #prune} call did: the new lowest whole block, blocks stripped, bytes of block values freed. */
    public record Pruned(long prunedBelow, int blocks, long bytesFreed) {}

    /** The lowest height whose block is stored whole: 1 unless the store was pruned. */
    public long prunedBelow() {
        try (Txn<byte[]> txn = store.env.txnRead()) {
            return store.prunedBelow(txn);
        }
    }

    /**
     * Strips the transactions from blocks below {@code keepFrom}, keeping each one's header,
     * certificate and receipts ({@link #prunedForm}): at most {@link #PRUNE_CHUNK_BLOCKS} blocks
     * per call, in one durable write transaction, lowest first (call again until it prunes
     * nothing). The header chain from genesis stays checkable, every block hash stays provable
     * (the blocks tree is kept), the state stays whole, and the transaction index can still be
     * rebuilt from the store; LMDB reuses the freed pages for later blocks. Never strips the tip,
     * nor a block the store needs to reopen (those above the state tree's last write or the
     * index's height). A damaged block stops the prune below it until a certified copy repairs it.
     * ({@code BlockStoreTest#pruningKeepsHeadersProofsAndTheIndexAndFreesPages})
     */
    public Pruned prune(long keepFrom) {
        // Read, checked and rewritten outside the writer's lock, so the core thread's next block
        // waits only for the puts; a block repaired meanwhile (its stored bytes changed) ends the chunk.
        long from;
        List<byte[]> stored = new ArrayList<>();
        List<byte[]> rewritten = new ArrayList<>();
        try (StoreSnapshot view = snapshot()) {
            from = view.prunedBelow();
            long to = Math.min(pruneLimit(keepFrom, view.height()), from + PRUNE_CHUNK_BLOCKS);
            for (long h = from; h < to; h++) {
                Block block;
                try {
                    block = view.parseStoredBlock(h);
                } catch (DamagedBlockException e) {
                    break;
                }
                stored.add(store.blocks.get(view.txn, u64(h)));
                rewritten.add(StoredBlock.encode(prunedForm(block).toByteArray()));
            }
        }
        if (stored.isEmpty()) {
            return new Pruned(from, 0, 0);
        }
        long height;
        long freed = 0;
        synchronized (this) {
            try (Txn<byte[]> txn = store.env.txnWrite()) {
                if (store.prunedBelow(txn) != from) {
                    return new Pruned(store.prunedBelow(txn), 0, 0);
                }
                long limit = pruneLimit(keepFrom, store.height(txn));
                for (height = from; height - from < stored.size() && height < limit; height++) {
                    byte[] now = store.blocks.get(txn, u64(height));
                    byte[] before = stored.get((int) (height - from));
                    if (!java.util.Arrays.equals(now, before)) {
                        break;
                    }
                    byte[] after = rewritten.get((int) (height - from));
                    store.blocks.put(txn, u64(height), after);
                    freed += before.length - after.length;
                }
                if (height == from) {
                    return new Pruned(from, 0, 0);
                }
                store.meta.put(txn, StoreEnv.META_PRUNED_BELOW, u64(height));
                store.meta.put(txn, StoreEnv.META_FORMAT_VERSION, StoreEnv.u32(StoreEnv.FORMAT_PRUNED));
                txn.commit();
            }
        }
        synchronized (parsedRecent) {
            long below = height;
            parsedRecent.keySet().removeIf(h -> h < below);
        }
        return new Pruned(height, (int) (height - from), freed);
    }

    /**
     * The lowest height a prune may not reach: {@code keepFrom}, and never the tip, nor a block
     * above the state tree's last write or the index's height (the store rebuilds those from
     * blocks when it reopens). Both only grow, so a value read without the lock errs low.
     */
    private long pruneLimit(long keepFrom, long tip) {
        return Math.min(Math.min(keepFrom, tip), Math.min(tree().writtenHeight() + 1, index.height() + 1));
    }

    /**
     * A block as kept below the pruning height: its header, certificate and receipts. The
     * receipts (each names its transaction id) keep the store the source of the transaction index,
     * which the at-most-once rule reads and which is rebuilt from the store after a machine crash
     * or a restore; they are about a quarter of a transfer's bytes.
     */
    public static Block prunedForm(Block block) {
        return Block.newBuilder().setHeader(block.getHeader()).setCertificate(block.getCertificate())
                .addAllReceipts(block.getReceiptsList()).build();
    }

    /** The previous_hash block {@code height} must carry: the hash of the block below, if that one is intact, else null. */
    private Digest previousHashOf(Txn<byte[]> txn, long height) {
        try {
            return Blocks.hash(new StoreSnapshot(this, store, txn, null, false).parseStoredBlock(height - 1));
        } catch (DamagedBlockException e) {
            return null;
        }
    }

    BlockHistory history() {
        return history;
    }

    // ------------------------------------------------------------------------------ appends

    /**
     * Executes a committed batch on the tip and appends the resulting block, all in one durable
     * LMDB write transaction. The certificate's signatures are the caller's to have verified.
     */
    public synchronized ExecutedBlock appendBatch(long timestampMillis, HeaderAnchor anchor, List<VerifiedTransaction> txs,
            CommitCertificate certificate) {
        return inWriteTxn(state -> {
            ExecutedBlock executed = BlockBuilder.build(genesis, state, state.tipHash(), state.height() + 1,
                    timestampMillis, anchor, txs, certificate);
            return Optional.of(executed);
        }).orElseThrow();
    }

    /**
     * Appends a block executed on the current tip (from {@link BlockBuilder} on a state of this
     * store, or {@link BlockChecker.BlockCheck#executed()}), in one durable LMDB write transaction.
     *
     * @throws IllegalStateException if the block does not follow the tip (height, previous hash
     *                               or the state it was executed on); nothing is written
     */
    public synchronized void append(ExecutedBlock executed) {
        inWriteTxn(state -> Optional.of(executed));
    }

    /**
     * Fully checks an untrusted block as the next one (certificate, signatures, anchor, re-execution) and
     * appends it; the import path of a node catching up from peers.
     *
     * @return the check; the block was appended exactly when it is ok
     */
    public synchronized BlockChecker.BlockCheck append(Block block) {
        return append(block, tx -> Transactions.validate(tx, genesis.chainId()));
    }

    /**
     * As {@link #append(Block)}, with transactions validated by {@code validator} (see
     * {@link BlockChecker#checkNext(ChainGenesis, LedgerState, Digest, Block, Function)}).
     */
    public synchronized BlockChecker.BlockCheck append(Block block, Function<SignedTransaction, TxVerdict> validator) {
        BlockChecker.BlockCheck[] check = new BlockChecker.BlockCheck[1];
        inWriteTxn(state -> {
            check[0] = BlockChecker.checkNext(genesis, state, state.tipHash(), block, validator);
            return check[0].ok() ? Optional.of(check[0].executed()) : Optional.empty();
        });
        return check[0];
    }

    /**
     * Runs {@code build} on the state in a write transaction, writes the block it returns (if
     * any) and commits; then publishes the state tree and indexes the block.
     */
    private Optional<ExecutedBlock> inWriteTxn(Function<WritingState, Optional<ExecutedBlock>> build) {
        Optional<ExecutedBlock> executed;
        try (Txn<byte[]> txn = store.env.txnWrite()) {
            levelIndex(txn);
            Txn<byte[]> indexTxn = index.read();
            try {
                WritingState state = new WritingState(txn, indexTxn);
                executed = build.apply(state);
                if (executed.isPresent()) {
                    ExecutedBlock block = executed.get();
                    write(txn, state, block);
                    boolean treeWritten = tree().writeDue(block.height());
                    if (treeWritten) {
                        tree().write(txn, block.execution().stateUpdate(), block.height());
                    }
                    tree().commitAndPublish(txn::commit, block.execution().stateUpdate(), block.height(), treeWritten);
                }
            } finally {
                indexTxn.close();
            }
        }
        executed.ifPresent(this::indexCommitted);
        executed.ifPresent(block -> onAppended(block.height()));
        return executed;
    }

    // ------------------------------------------------------------------------------ snapshot heights

    /** Where to hand a view of every {@code every}-th height; null: nobody asked. */
    private record SnapshotHook(long every, Consumer<StoreSnapshot> taker) {}

    private volatile SnapshotHook snapshotHook;

    /**
     * After each appended block whose height is a multiple of {@code every}, hands {@code taker} a
     * read view opened right after that block's commit, while the append still holds the writer's
     * lock: the view is exactly at that height. It runs on the appending thread (the consensus
     * core's), so the taker should only hand the view on (views may move between threads); the
     * taker owns the view and must close it. A taker that throws does not fail the append: the
     * failure is logged and the view closed, so a taker that throws must not have handed it on.
     * Replaces an earlier hook ({@code StateSnapshotsTest#snapshotHeightsHandOverViewsAtThoseHeights}).
     */
    public void onSnapshotHeight(long every, Consumer<StoreSnapshot> taker) {
        if (every <= 0) {
            throw new IllegalArgumentException("every must be positive, got " + every);
        }
        snapshotHook = new SnapshotHook(every, java.util.Objects.requireNonNull(taker));
    }

    private void onAppended(long height) {
        SnapshotHook hook = snapshotHook;
        if (hook == null || height % hook.every() != 0) {
            return;
        }
        StoreSnapshot view;
        try {
            view = snapshot();
        } catch (RuntimeException e) {
            // A full reader table, say: the block is committed, and this height goes without a snapshot.
            log.error("event=snapshot-view-failed dir={} height={} error=\"{}\"", store.dir, height, e.toString());
            return;
        }
        try {
            hook.taker().accept(view);
        } catch (RuntimeException e) {
            log.error("event=snapshot-taker-failed dir={} height={} error=\"{}\"", store.dir, height, e.toString(), e);
            try {
                view.close();
            } catch (RuntimeException closing) {
                log.warn("event=snapshot-view-close-failed dir={} error=\"{}\"", store.dir, closing.toString());
            }
        }
    }

    private void write(Txn<byte[]> txn, WritingState state, ExecutedBlock executed) {
        long height = executed.height();
        if (height != state.height() + 1) {
            throw new IllegalStateException("block at height " + height + " does not follow the tip at " + state.height());
        }
        Digest tip = state.tipHash();
        if (!executed.header().getPreviousHash().equals(ByteString.copyFrom(tip.bytes()))) {
            throw new IllegalStateException("block " + height + " links to " + ChainGenesis.hex(executed.header().getPreviousHash())
                    + ", the tip is " + tip.hex());
        }
        ExecutionResult execution = executed.execution();
        if (execution.height() != height || !execution.baseStateRoot().equals(state.stateRoot())
                || !executed.header().getStateRoot().equals(ByteString.copyFrom(execution.stateRoot().bytes()))) {
            throw new IllegalStateException("block " + height + " was not executed on the tip's state");
        }
        byte[] blockBytes = executed.block().toByteArray();
        if (blockBytes.length > Blocks.MAX_BLOCK_BYTES) {
            // Blocks.parse would refuse it on the next open: never write what cannot be read back.
            throw new IllegalArgumentException("block " + height + " is " + blockBytes.length + " bytes, over MAX_BLOCK_BYTES");
        }
        if (!store.blocks.put(txn, u64(height), StoredBlock.encode(blockBytes), PutFlags.MDB_NOOVERWRITE)) {
            throw new StoreCorruptedException(store.dir + ": a block already exists at height " + height + " above the tip");
        }
        for (Map.Entry<ByteString, Long> e : execution.changes().balances().entrySet()) {
            store.accounts.put(txn, e.getKey().toByteArray(), u64(e.getValue()));
        }
        for (Map.Entry<RecordKey, RecordValue> e : execution.changes().records().entrySet()) {
            store.records.put(txn, e.getKey().storeKey(), e.getValue().encode());
        }
        history.append(txn, height, executed.hash());
        history.anchored(txn, height, anchorOf(executed.header()));
        store.meta.put(txn, StoreEnv.META_HEIGHT, u64(height));
        store.meta.put(txn, StoreEnv.META_TIP_HASH, executed.hash().bytes());
        store.meta.put(txn, StoreEnv.META_STATE_ROOT, execution.stateRoot().bytes());
    }

    static HeaderAnchor anchorOf(BlockHeader header) {
        return header.getAnchorHeight() == 0 ? HeaderAnchor.NONE
                : new HeaderAnchor(header.getAnchorHeight(), Digest.of(header.getAnchorHash().toByteArray()));
    }

    /** The state an append executes on: the write transaction, the tree as the writer holds it, the index. */
    private final class WritingState implements LedgerState {
        private final StoreSnapshot view;

        WritingState(Txn<byte[]> txn, Txn<byte[]> indexTxn) {
            this.view = new StoreSnapshot(BlockStore.this, store, txn, indexTxn, false);
        }

        @Override
        public long height() {
            return view.height();
        }

        Digest tipHash() {
            return view.tipHash();
        }

        @Override
        public SparseMerkleTree.Node stateTree() {
            return tree().root();
        }

        @Override
        public SparseMerkleTree.NodeStore stateNodes() {
            return tree().writerNodes(view.txn);
        }

        @Override
        public HistoryTree.NodeReader history() {
            return history.reader(view.txn);
        }

        @Override
        public long balance(ByteString account) {
            return view.balance(account);
        }

        @Override
        public Optional<RecordValue> record(RecordKey key) {
            return view.record(key);
        }

        @Override
        public Optional<TxLocation> executed(Digest txId) {
            return view.executed(txId);
        }
    }

    // ------------------------------------------------------------------------------ reads

    public Path directory() {
        return store.dir;
    }

    public ChainGenesis genesis() {
        return genesis;
    }

    /** A consistent read-only view at the current tip; close it promptly (it pins LMDB pages). */
    /** Every validator set so far, genesis's first, from this store's VALIDATORS record. */
    public List<ValidatorSets.ValidatorSet> validatorSets() {
        try (Txn<byte[]> txn = store.env.txnRead()) {
            return ValidatorSets.all(genesis, new StoreSnapshot(this, store, txn, null, false).record(ValidatorSets.RECORD));
        }
    }

    /**
     * The VALIDATORS record's value at the tip (empty: genesis's set alone), as served to a
     * replica that joins by state sync: it checks the chain from genesis by the approvals it carries.
     */
    public ByteString validatorSetsRecord() {
        try (Txn<byte[]> txn = store.env.txnRead()) {
            return new StoreSnapshot(this, store, txn, null, false).record(ValidatorSets.RECORD).map(RecordValue::value)
                    .orElse(ByteString.EMPTY);
        }
    }

    public StoreSnapshot snapshot() {
        // The blocks first: the index is written after them, so it holds at least what they do
        // except for a block being indexed right now (its transactions look not yet executed).
        Txn<byte[]> txn = store.env.txnRead();
        try {
            return new StoreSnapshot(this, store, txn, index.read(), true);
        } catch (RuntimeException e) {
            txn.close();
            throw e;
        }
    }

    Block parsedBlock(long height, Supplier<Block> parse) {
        synchronized (parsedRecent) {
            Block known = parsedRecent.get(height);
            if (known != null) {
                return known;
            }
        }
        Block block = parse.get();
        synchronized (parsedRecent) {
            parsedRecent.put(height, block);
        }
        return block;
    }

    public long height() {
        try (StoreSnapshot s = snapshot()) {
            return s.height();
        }
    }

    public Tip tip() {
        try (StoreSnapshot s = snapshot()) {
            return new Tip(s.height(), s.tipHash(), s.stateRoot());
        }
    }

    public record Tip(long height, Digest hash, Digest stateRoot) {}

    public Optional<Block> block(long height) {
        try (StoreSnapshot s = snapshot()) {
            return s.block(height);
        }
    }

    /** The block at {@code height} as stored: whole, or in its pruned form below {@link #prunedBelow()}. */
    public Optional<Block> stored(long height) {
        try (StoreSnapshot s = snapshot()) {
            return s.stored(height);
        }
    }

    public Optional<BlockHeader> header(long height) {
        try (StoreSnapshot s = snapshot()) {
            return s.header(height);
        }
    }

    public Optional<TxRecord> transaction(Digest id) {
        try (StoreSnapshot s = snapshot()) {
            return s.transaction(id);
        }
    }

    public long balance(bftledger.crypto.PublicKey account) {
        try (StoreSnapshot s = snapshot()) {
            return s.balance(ByteString.copyFrom(account.bytes()));
        }
    }

    /** A record's current value (without its writer), if it was ever written. */
    public Optional<ByteString> record(bftledger.crypto.PublicKey owner, String key) {
        try (StoreSnapshot s = snapshot()) {
            return s.record(RecordKey.of(ByteString.copyFrom(owner.bytes()), key)).map(RecordValue::value);
        }
    }

    /** Whether {@code id} has executed (a cheap index probe: no block is read or parsed). */
    public boolean containsTransaction(Digest id) {
        // The index alone: it never holds a block the store does not (blocks are committed first).
        return index.contains(id);
    }

    /** The highest height a stored block certifies, 0 when none. */
    public long certifiedHeight() {
        try (Txn<byte[]> txn = store.env.txnRead()) {
            return history.certifiedHeight(txn);
        }
    }

    /**
     * A transaction as found through the index: its receipt, position and the block holding it.
     * {@link #txProof()} puts the id under the header's tx_root and {@link #receiptProof()} the
     * serialized receipt under receipts_root.
     */
    public record TxRecord(long height, int index, Receipt receipt, SignedTransaction transaction, Block block) {
        /**
         * Whether the block's transactions were pruned: then {@code transaction} is null,
         * {@code block} holds the header, certificate and receipts, and there is no inclusion
         * proof of the transaction to give.
         */
        public boolean pruned() {
            return transaction == null;
        }

        /** Inclusion of the 32-byte transaction id in the header's tx_root. */
        public InclusionProof txProof() {
            requireBody();
            return MerkleTree.of(Blocks.txIds(block).stream().map(Digest::bytes).toList()).inclusionProof(index);
        }

        /** Inclusion of {@code receipt.toByteArray()} in the header's receipts_root. */
        public InclusionProof receiptProof() {
            return MerkleTree.of(block.getReceiptsList().stream().map(Receipt::toByteArray).toList()).inclusionProof(index);
        }

        private void requireBody() {
            if (pruned()) {
                throw new IllegalStateException("block " + height + " was pruned: its transactions are gone");
            }
        }
    }

    // ------------------------------------------------------------------------------ proofs

    /**
     * The proof that block {@code height}'s header is certified (see {@link Proofs#headerProof}).
     * Empty when no stored block certifies it or a later header yet.
     */
    public Optional<HeaderProof> headerProof(long height) {
        try (StoreSnapshot s = snapshot()) {
            return Proofs.headerProof(s, history, height);
        }
    }

    /** The proof for block {@code height}'s header against the certified header at {@code certified} (see {@link Proofs}). */
    public Optional<HeaderProof> headerProof(long height, long certified) {
        try (StoreSnapshot s = snapshot()) {
            return Proofs.headerProof(s, history, height, certified);
        }
    }

    /** The hash of block {@code height} (0: the genesis hash), if stored. */
    public Optional<Digest> blockHash(long height) {
        if (height == 0) {
            return Optional.of(genesis.hash());
        }
        try (StoreSnapshot s = snapshot()) {
            return s.stored(height).map(Blocks::hash);
        }
    }

    /** What the state holds for one key at one height, and the proof of it under that height's state root. */
    public record StateRead<T>(long height, Optional<T> value, SparseMerkleTree.Proof proof) {}

    /** An account's balance (empty: never credited, so 0) with its proof, at the latest published height. */
    public StateRead<Long> accountProof(ByteString account) {
        return readState(StateKeys.account(account), s -> s.storedBalance(account));
    }

    /** A record's value and writer (empty: never written) with its proof, at the latest published height. */
    public StateRead<RecordValue> recordProof(RecordKey key) {
        return readState(StateKeys.record(key), s -> s.record(key));
    }

    /**
     * Reads one key's value and its tree proof at the same height: the tree's published version
     * and an LMDB view at that version's height. A block committed but not yet published by the
     * tree is waited for (the writer publishes right after its commit).
     *
     * @throws StoreCorruptedException when the stored tree does not hold what its root names
     */
    private <T> StateRead<T> readState(Digest treeKey, Function<StoreSnapshot, Optional<T>> value) {
        long deadline = System.nanoTime() + java.util.concurrent.TimeUnit.MILLISECONDS.toNanos(TREE_PUBLISH_WAIT_MILLIS);
        while (true) {
            Optional<StateRead<T>> read = tree().read(store.env::txnRead, (view, txn) -> {
                StoreSnapshot s = new StoreSnapshot(this, store, txn, null, false);
                if (s.height() != view.height()) {
                    return Optional.empty();
                }
                try {
                    SparseMerkleTree.Proof proof = SparseMerkleTree.prove(view.nodes(), view.root(), treeKey);
                    return Optional.of(new StateRead<>(view.height(), value.apply(s), proof));
                } catch (SparseMerkleTree.DamagedTreeException e) {
                    throw new StoreCorruptedException(store.dir + ": the state tree is damaged: " + e.getMessage(), e);
                }
            });
            if (read.isPresent()) {
                return read.get();
            }
            if (System.nanoTime() > deadline) {
                throw new IllegalStateException("the state tree did not publish the committed tip within "
                        + TREE_PUBLISH_WAIT_MILLIS + " ms");
            }
            java.util.concurrent.locks.LockSupport.parkNanos(200_000);
        }
    }

    // ------------------------------------------------------------------------------ backup

    /**
     * Copies this store's environment (blocks, certificates, receipts, state and its tree, the
     * blocks tree and anchors: everything but the transaction index, which is derived from the
     * blocks and rebuilt when a store opens without it) into the empty directory {@code target},
     * compacted, while appends go on: LMDB copies inside one read transaction, so the copy is the
     * store as one commit left it. Returns the copy's head.
     */
    public StoreCopy.Head copyTo(Path target) {
        store.env.copy(target.toFile(), org.lmdbjava.CopyFlags.MDB_CP_COMPACT);
        return StoreCopy.head(target);
    }

    // ------------------------------------------------------------------------------ close

    /** Closes the environment; every snapshot must be closed first. Idempotent. */
    @Override
    public void close() {
        if (closed.compareAndSet(false, true)) {
            if (tree != null && tree.writtenHeight() < height()) {
                synchronized (this) {
                    try (Txn<byte[]> txn = store.env.txnWrite()) {
                        tree.writeAll(txn, txn::commit);
                    } catch (RuntimeException e) {
                        // The next open brings the tree up to date from the blocks, as after a crash.
                        log.warn("event=state-tree-unwritten dir={} error=\"{}\"", store.dir, e.toString());
                    }
                }
            }
            index.close();
            store.close();
            lock.close();
        }
    }

    static byte[] u64(long v) {
        return StoreEnv.u64(v);
    }
}
