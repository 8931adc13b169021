package bftledger.ledger;

import bftledger.crypto.Digest;
import bftledger.crypto.InclusionProof;
import bftledger.crypto.MerkleTree;
import bftledger.crypto.PublicKey;
import bftledger.ledger.proto.Block;
import bftledger.ledger.proto.BlockHeader;
import bftledger.ledger.proto.CommitCertificate;
import bftledger.ledger.proto.Receipt;
import bftledger.ledger.proto.SignedTransaction;
import bftledger.ledger.proto.TxIndexEntry;
import com.google.protobuf.ByteString;
import com.google.protobuf.InvalidProtocolBufferException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.BiConsumer;
import org.lmdbjava.ByteArrayProxy;
import org.lmdbjava.CursorIterable;
import org.lmdbjava.Dbi;
import org.lmdbjava.DbiFlags;
import org.lmdbjava.Env;
import org.lmdbjava.EnvFlags;
import org.lmdbjava.KeyRange;
import org.lmdbjava.PutFlags;
import org.lmdbjava.Txn;

/**
 * The append-only block store in LMDB, holding blocks with their certificates and receipts and
 * the executed state (accounts, records), so that a reopened store resumes execution exactly
 * where it stopped; beside it, the transaction index ({@link TxIndex}, derived from the blocks).
 *
 * <p>Named databases: {@value #DB_BLOCKS} (u64 big-endian height -> Block bytes),
 * {@value #DB_ACCOUNTS} (account key -> u64 balance), {@value #DB_RECORDS} (owner || key ->
 * value) and {@value #DB_META}; the index (tx id -> TxIndexEntry of its first execution) lives in
 * the {@value TxIndex#DIR} subdirectory.
 *
 * <p>Contract: an append is one LMDB write transaction holding the block and its state changes;
 * it is durable when the call returns (LMDB's default synchronous commit; this environment is
 * never opened with MDB_NOSYNC or MDB_NOMETASYNC). The block's index entries are written right
 * after, without sync: the index is rebuilt from the blocks whenever it cannot be trusted, and is
 * brought level with the blocks before every append, so execution always sees every earlier
 * transaction (replays are refused the same way on every replica). An append whose index write
 * fails (its map full) throws although its block is durable; the next append or open indexes
 * it before anything else. Nothing is ever overwritten: a
 * block that does not follow the tip is refused. Opening checks the tail (see
 * {@link #open(Path, ChainGenesis, long)}) and throws {@link StoreCorruptedException} rather than
 * repairing anything. One writer at a time (appends are synchronized); readers run concurrently,
 * each in its own {@link Snapshot}. A store is open at most once per process. When the map size
 * is exhausted an append fails with lmdbjava's MapFullException and writes nothing; reopen with a
 * larger map size.
 */
public final class BlockStore implements AutoCloseable {
    public static final long DEFAULT_MAP_SIZE = 1L << 30;
    public static final int MAX_DBS = 8;
    public static final int MAX_READERS = 126;
    /** 2: the transaction index moved out of this environment (version 1 held it as "txindex"). */
    public static final int FORMAT_VERSION = 2;

    static final String DB_BLOCKS = "blocks";
    /** Where version 1 kept the transaction index; dropped when such a store is opened. */
    static final String DB_TXINDEX_V1 = "txindex";
    static final String DB_ACCOUNTS = "accounts";
    static final String DB_RECORDS = "records";
    static final String DB_META = "meta";

    static final byte[] META_FORMAT_VERSION = ascii("format_version");
    static final byte[] META_CHAIN_ID = ascii("chain_id");
    static final byte[] META_GENESIS_HASH = ascii("genesis_hash");
    static final byte[] META_GENESIS = ascii("genesis");
    static final byte[] META_HEIGHT = ascii("height");
    static final byte[] META_TIP_HASH = ascii("tip_hash");
    static final byte[] META_STATE_ROOT = ascii("state_root");

    private static final org.slf4j.Logger log = org.slf4j.LoggerFactory.getLogger(BlockStore.class);
    // LMDB forbids opening one environment twice in a process (its locks are per process).
    private static final Set<Path> OPEN = ConcurrentHashMap.newKeySet();
    /** Locked while the store is open, so that a second process (an audit) cannot open it under a writer. */
    static final String LOCK_FILE = "LOCK";

    private final Path dir;
    private final FileChannel lock;
    private final ChainGenesis genesis;
    private final AtomicBoolean closed = new AtomicBoolean();
    private final Env<byte[]> env;
    private final Dbi<byte[]> blocks;
    private TxIndex index;
    private final Dbi<byte[]> accounts;
    private final Dbi<byte[]> records;
    private final Dbi<byte[]> meta;
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
    static final int PARSED_RECENT_MAX = 16;

    private BlockStore(Path dir, FileChannel lock, ChainGenesis genesis, Env<byte[]> env) {
        this.dir = dir;
        this.lock = lock;
        this.genesis = genesis;
        this.env = env;
        this.blocks = env.openDbi(DB_BLOCKS, DbiFlags.MDB_CREATE);
        this.accounts = env.openDbi(DB_ACCOUNTS, DbiFlags.MDB_CREATE);
        this.records = env.openDbi(DB_RECORDS, DbiFlags.MDB_CREATE);
        this.meta = env.openDbi(DB_META, DbiFlags.MDB_CREATE);
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
     * block lies beyond it.
     */
    public static BlockStore open(Path dir, ChainGenesis genesis, long mapSizeBytes) {
        try {
            Files.createDirectories(dir);
        } catch (IOException e) {
            throw new IllegalStateException("cannot create store directory " + dir, e);
        }
        Path key;
        try {
            key = dir.toRealPath();
        } catch (IOException e) {
            throw new IllegalStateException("cannot resolve store directory " + dir, e);
        }
        if (!OPEN.add(key)) {
            throw new IllegalStateException("store " + key + " is already open in this process");
        }
        FileChannel lock = null;
        try {
            lock = lock(key);
            return openChecked(key, lock, genesis, mapSizeBytes);
        } catch (RuntimeException e) {
            closeQuietly(lock);
            OPEN.remove(key);
            throw e;
        }
    }

    /** The store's lock file, locked; refused while another process holds it. */
    private static FileChannel lock(Path dir) {
        FileChannel ch = null;
        try {
            ch = FileChannel.open(dir.resolve(LOCK_FILE), StandardOpenOption.CREATE, StandardOpenOption.WRITE);
            if (ch.tryLock() == null) {
                throw new StoreInUseException("store " + dir + " is open in another process (its " + LOCK_FILE
                        + " file is locked); stop that process first, or audit a copy of a stopped node's store");
            }
            return ch;
        } catch (IOException e) {
            closeQuietly(ch);
            throw new IllegalStateException("cannot lock store " + dir + ": " + e.getMessage(), e);
        } catch (RuntimeException e) {
            closeQuietly(ch);
            throw e;
        }
    }

    private static void closeQuietly(FileChannel ch) {
        if (ch != null) {
            try {
                ch.close();
            } catch (IOException ignored) {
                // releasing the lock was all that was left to do
            }
        }
    }

    private static BlockStore openChecked(Path dir, FileChannel lock, ChainGenesis genesis, long mapSizeBytes) {
        Path dataFile = dir.resolve("data.mdb");
        if (Files.exists(dataFile)) {
            LmdbFileCheck.check(dataFile);
        }
        // MDB_NOTLS: read transactions are not tied to a thread, so snapshots can move between
        // threads of a pool. Sync flags stay at LMDB's durable defaults.
        Env<byte[]> env = Env.create(ByteArrayProxy.PROXY_BA)
                .setMapSize(mapSizeBytes)
                .setMaxDbs(MAX_DBS)
                .setMaxReaders(MAX_READERS)
                .open(dir.toFile(), EnvFlags.MDB_NOTLS);
        BlockStore store = null;
        try {
            store = new BlockStore(dir, lock, genesis, env);
            store.initializeOrCheck();
            store.openIndex(mapSizeBytes);
        } catch (RuntimeException e) {
            if (store != null && store.index != null) {
                store.index.close();
            }
            env.close();
            throw e;
        }
        return store;
    }

    private void initializeOrCheck() {
        // Listed before the write transaction: lmdbjava lists names in a write transaction of its own.
        boolean hasVersion1Index = env.getDbiNames().stream()
                .anyMatch(name -> new String(name, StandardCharsets.UTF_8).equals(DB_TXINDEX_V1));
        try (Txn<byte[]> txn = env.txnWrite()) {
            if (meta.get(txn, META_FORMAT_VERSION) == null) {
                if (lastHeight(txn) != 0) {
                    throw new StoreCorruptedException(dir + ": blocks present but no metadata");
                }
                meta.put(txn, META_FORMAT_VERSION, ByteBuffer.allocate(4).putInt(FORMAT_VERSION).array());
                meta.put(txn, META_CHAIN_ID, genesis.chainId().getBytes(StandardCharsets.UTF_8));
                meta.put(txn, META_GENESIS_HASH, genesis.hash().bytes());
                meta.put(txn, META_GENESIS, genesis.bytes());
                meta.put(txn, META_HEIGHT, u64(0));
                meta.put(txn, META_TIP_HASH, genesis.hash().bytes());
                meta.put(txn, META_STATE_ROOT, genesis.stateRoot().bytes());
                for (Map.Entry<ByteString, Long> e : genesis.initialBalances().entrySet()) {
                    accounts.put(txn, e.getKey().toByteArray(), u64(e.getValue()));
                }
                txn.commit();
                return;
            }
            if (ByteBuffer.wrap(meta.get(txn, META_FORMAT_VERSION)).getInt() == 1) {
                migrateFromVersion1(txn, hasVersion1Index);
                txn.commit();
            }
        }
        try (Txn<byte[]> txn = env.txnRead()) {
            checkTail(txn);
        }
    }

    /** Version 1 held the transaction index here; it is rebuilt from the blocks in its own place. */
    private void migrateFromVersion1(Txn<byte[]> txn, boolean hasVersion1Index) {
        if (hasVersion1Index) {
            env.openDbi(txn, DB_TXINDEX_V1.getBytes(StandardCharsets.UTF_8), null, false).drop(txn, true);
        }
        meta.put(txn, META_FORMAT_VERSION, ByteBuffer.allocate(4).putInt(FORMAT_VERSION).array());
    }

    /** Opens the transaction index and brings it level with the blocks (rebuilding it when it was discarded). */
    private void openIndex(long mapSizeBytes) {
        index = TxIndex.open(dir, mapSizeBytes, false);
        long height = height();
        Optional<String> foreign = foreignIndex(height);
        if (foreign.isPresent()) {
            // Not something a crash produces (see TxIndex): start it over from the blocks.
            log.warn("event=txindex-discarded dir={} reason=\"{}\"", dir,
                    foreign.get());
            index.abandon();
            index = null;
            index = TxIndex.open(dir, mapSizeBytes, true);
        }
        long behind = height - index.height();
        if (behind > 0) {
            log.info("event=txindex-catch-up dir={} from={} to={} rebuilt={}",
                    dir, index.height(), height, index.rebuilt());
        }
        levelIndex();
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
        try (Txn<byte[]> txn = env.txnRead()) {
            stored = Blocks.hash(new Snapshot(txn, false, null).parseStoredBlock(at));
        }
        return recorded.isPresent() && recorded.get().equals(stored) ? Optional.empty()
                : Optional.of("the index's block at height " + at + " is " + recorded.map(Digest::hex).orElse("unrecorded")
                        + ", the store's is " + stored.hex());
    }

    /** Indexes stored blocks the index does not hold yet (after a crash between the two commits, or a rebuild). */
    private void levelIndex() {
        try (Txn<byte[]> txn = env.txnRead()) {
            levelIndex(txn);
        }
    }

    /** {@link #levelIndex()} up to the height {@code txn} sees (the append paths pass their write transaction). */
    private void levelIndex(Txn<byte[]> txn) {
        long height = new Snapshot(txn, false, null).height();
        for (long h = index.height() + 1; h <= height; h++) {
            byte[] raw = blocks.get(txn, u64(h));
            if (raw == null) {
                throw new StoreCorruptedException(dir + ": no block at height " + h + " to index");
            }
            try {
                Block block = Blocks.parse(raw);
                index.add(h, Blocks.hash(block), TxIndex.entriesOf(block));
            } catch (InvalidProtocolBufferException e) {
                throw new StoreCorruptedException(dir + ": block at height " + h + " does not decode: " + e.getMessage(), e);
            }
        }
    }

    /** After a block's durable commit: its entries into the index. */
    private void indexCommitted(ExecutedBlock executed) {
        List<TxIndex.Entry> entries = new java.util.ArrayList<>(executed.execution().changes().executed().size());
        for (StateChanges.Executed e : executed.execution().changes().executed()) {
            entries.add(new TxIndex.Entry(e.txId(), e.index(), e.receipt()));
        }
        index.add(executed.height(), executed.hash(), entries);
    }

    private void checkTail(Txn<byte[]> txn) {
        Snapshot s = new Snapshot(txn, false, null);
        byte[] version = meta.get(s.txn, META_FORMAT_VERSION);
        if (version.length != 4 || ByteBuffer.wrap(version).getInt() != FORMAT_VERSION) {
            throw new StoreCorruptedException(dir + ": metadata key format_version is not " + FORMAT_VERSION);
        }
        byte[] chainId = meta.get(s.txn, META_CHAIN_ID);
        if (chainId == null || !new String(chainId, StandardCharsets.UTF_8).equals(genesis.chainId())) {
            throw new StoreCorruptedException(dir + ": metadata key chain_id is not '" + genesis.chainId() + "'");
        }
        Digest storedGenesis = s.metaDigest(META_GENESIS_HASH);
        if (!storedGenesis.equals(genesis.hash())) {
            throw new StoreCorruptedException(dir + ": store belongs to genesis " + storedGenesis.hex() + ", not the given genesis "
                    + genesis.hash().hex());
        }
        long height = s.height();
        Digest tipHash = s.tipHash();
        Digest stateRoot = s.stateRoot();
        long last = lastHeight(s.txn);
        if (last != height) {
            throw new StoreCorruptedException(dir + ": metadata height is " + height + " but the last stored block is at height " + last);
        }
        if (height == 0) {
            if (!tipHash.equals(genesis.hash()) || !stateRoot.equals(genesis.stateRoot())) {
                throw new StoreCorruptedException(dir + ": at height 0 the metadata tip hash and state root must be genesis's");
            }
            return;
        }
        Block tip = s.parseBlock(height);
        Digest previousHash;
        if (height == 1) {
            previousHash = genesis.hash();
        } else {
            Block before = s.parseBlock(height - 1);
            previousHash = Blocks.hash(before);
        }
        BlockChecker.BlockCheck check = BlockChecker.check(genesis, height, previousHash, null, null, tip, null);
        if (!check.ok()) {
            throw new StoreCorruptedException(dir + ": tip block at height " + height + " is damaged: " + check.problems());
        }
        if (!check.hash().equals(tipHash)) {
            throw new StoreCorruptedException(dir + ": tip block at height " + height + " hashes to " + check.hash().hex()
                    + " but metadata tip_hash is " + tipHash.hex());
        }
        if (!check.header().getStateRoot().equals(ByteString.copyFrom(stateRoot.bytes()))) {
            throw new StoreCorruptedException(dir + ": tip block at height " + height + " has state root "
                    + ChainGenesis.hex(check.header().getStateRoot()) + " but metadata state_root is " + stateRoot.hex());
        }
    }

    public Path directory() {
        return dir;
    }

    public ChainGenesis genesis() {
        return genesis;
    }

    /** A consistent read-only view at the current tip; close it promptly (it pins LMDB pages). */
    public Snapshot snapshot() {
        // The blocks first: the index is written after them, so it holds at least what they do
        // except for a block being indexed right now (its transactions look not yet executed).
        Txn<byte[]> txn = env.txnRead();
        try {
            return new Snapshot(txn, true, index.read());
        } catch (RuntimeException e) {
            txn.close();
            throw e;
        }
    }

    public long height() {
        try (Snapshot s = snapshot()) {
            return s.height();
        }
    }

    public Tip tip() {
        try (Snapshot s = snapshot()) {
            return new Tip(s.height(), s.tipHash(), s.stateRoot());
        }
    }

    public record Tip(long height, Digest hash, Digest stateRoot) {}

    public Optional<Block> block(long height) {
        try (Snapshot s = snapshot()) {
            return s.block(height);
        }
    }

    public Optional<BlockHeader> header(long height) {
        try (Snapshot s = snapshot()) {
            return s.header(height);
        }
    }

    public Optional<TxRecord> transaction(Digest id) {
        try (Snapshot s = snapshot()) {
            return s.transaction(id);
        }
    }

    /** Whether {@code id} has executed (a cheap index probe: no block is read or parsed). */
    public boolean containsTransaction(Digest id) {
        // The index alone: it never holds a block the store does not (blocks are committed first).
        try (Txn<byte[]> txn = index.read()) {
            return index.get(txn, id).isPresent();
        }
    }

    public long balance(PublicKey account) {
        try (Snapshot s = snapshot()) {
            return s.balance(ByteString.copyFrom(account.bytes()));
        }
    }

    public Optional<ByteString> record(PublicKey owner, String key) {
        try (Snapshot s = snapshot()) {
            return s.record(RecordKey.of(ByteString.copyFrom(owner.bytes()), key));
        }
    }

    /**
     * A transaction as found through the index: its receipt, position and the block holding it,
     * from which a proof for a client follows: the block's certificate signs the batch digest,
     * which binds the header's tx_root; {@link #txProof()} puts the id under tx_root and
     * {@link #receiptProof()} the serialized receipt under receipts_root.
     */
    public record TxRecord(long height, int index, Receipt receipt, SignedTransaction transaction, Block block) {
        /** Inclusion of the 32-byte transaction id in the header's tx_root. */
        public InclusionProof txProof() {
            return MerkleTree.of(Blocks.txIds(block).stream().map(Digest::bytes).toList()).inclusionProof(index);
        }

        /** Inclusion of {@code receipt.toByteArray()} in the header's receipts_root. */
        public InclusionProof receiptProof() {
            return MerkleTree.of(block.getReceiptsList().stream().map(Receipt::toByteArray).toList()).inclusionProof(index);
        }
    }

    /**
     * Executes a committed batch on the tip and appends the resulting block, all in one durable
     * LMDB write transaction. The certificate's signatures are the caller's to have verified.
     */
    public synchronized ExecutedBlock appendBatch(long timestampMillis, List<VerifiedTransaction> txs, CommitCertificate certificate) {
        ExecutedBlock executed;
        try (Txn<byte[]> txn = env.txnWrite(); Snapshot state = writing(txn)) {
            executed = BlockBuilder.build(genesis, state, state.tipHash(), state.height() + 1, timestampMillis, txs, certificate);
            write(txn, state, executed);
            txn.commit();
        }
        indexCommitted(executed);
        return executed;
    }

    /** The state an append executes on: the write transaction, and the index (level with it). */
    private Snapshot writing(Txn<byte[]> txn) {
        levelIndex(txn);
        return new Snapshot(txn, false, index.read());
    }

    /**
     * Appends a block executed on the current tip (from {@link BlockBuilder} on a snapshot, or
     * {@link BlockChecker.BlockCheck#executed()}), in one durable LMDB write transaction. The
     * execution is trusted to belong to the block: pass only what those two produced.
     *
     * @throws IllegalStateException if the block does not follow the tip (height, previous hash
     *                               or the state it was executed on); nothing is written
     */
    public synchronized void append(ExecutedBlock executed) {
        try (Txn<byte[]> txn = env.txnWrite(); Snapshot state = writing(txn)) {
            write(txn, state, executed);
            txn.commit();
        }
        indexCommitted(executed);
    }

    /**
     * Fully checks an untrusted block as the next one (certificate, signatures, re-execution) and
     * appends it; the import path of a node catching up from peers.
     *
     * @return the check; the block was appended exactly when it is ok
     */
    public synchronized BlockChecker.BlockCheck append(Block block) {
        return append(block, tx -> Transactions.validate(tx, genesis.chainId()));
    }

    /**
     * As {@link #append(Block)}, with transactions validated by {@code validator} (see
     * {@link BlockChecker#checkNext(ChainGenesis, LedgerState, Digest, Block, java.util.function.Function)}).
     */
    public synchronized BlockChecker.BlockCheck append(Block block,
            java.util.function.Function<bftledger.ledger.proto.SignedTransaction, TxVerdict> validator) {
        BlockChecker.BlockCheck check;
        try (Txn<byte[]> txn = env.txnWrite(); Snapshot state = writing(txn)) {
            check = BlockChecker.checkNext(genesis, state, state.tipHash(), block, validator);
            if (!check.ok()) {
                return check;
            }
            write(txn, state, check.executed());
            txn.commit();
        }
        indexCommitted(check.executed());
        return check;
    }

    private void write(Txn<byte[]> txn, Snapshot state, ExecutedBlock executed) {
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
        if (!blocks.put(txn, u64(height), blockBytes, PutFlags.MDB_NOOVERWRITE)) {
            throw new StoreCorruptedException(dir + ": a block already exists at height " + height + " above the tip");
        }
        for (Map.Entry<ByteString, Long> e : execution.changes().balances().entrySet()) {
            accounts.put(txn, e.getKey().toByteArray(), u64(e.getValue()));
        }
        for (Map.Entry<RecordKey, ByteString> e : execution.changes().records().entrySet()) {
            records.put(txn, e.getKey().storeKey(), e.getValue().toByteArray());
        }
        meta.put(txn, META_HEIGHT, u64(height));
        meta.put(txn, META_TIP_HASH, executed.hash().bytes());
        meta.put(txn, META_STATE_ROOT, execution.stateRoot().bytes());
    }

    private long lastHeight(Txn<byte[]> txn) {
        try (var cursor = blocks.openCursor(txn)) {
            if (!cursor.last()) {
                return 0;
            }
            return ByteBuffer.wrap(cursor.key()).getLong();
        }
    }

    /** Closes the environment; every snapshot must be closed first. Idempotent. */
    @Override
    public void close() {
        if (closed.compareAndSet(false, true)) {
            index.close();
            env.close();
            closeQuietly(lock);
            OPEN.remove(dir);
        }
    }

    /**
     * A consistent view of the store inside one LMDB transaction; also the {@link LedgerState}
     * execution reads from. Values are copied out of LMDB, so they outlive the transaction.
     */
    public final class Snapshot implements LedgerState, AutoCloseable {
        final Txn<byte[]> txn;
        private final boolean owned;
        /** A read transaction of the index, always this snapshot's own; null only while opening the store. */
        private final Txn<byte[]> indexTxn;
        private long height = -1;

        private Snapshot(Txn<byte[]> txn, boolean owned, Txn<byte[]> indexTxn) {
            this.txn = txn;
            this.owned = owned;
            this.indexTxn = indexTxn;
        }

        @Override
        public long height() {
            if (height >= 0 && owned) {
                return height;
            }
            byte[] v = meta.get(txn, META_HEIGHT);
            if (v == null || v.length != 8) {
                throw new StoreCorruptedException(dir + ": metadata key height is missing or not 8 bytes");
            }
            height = ByteBuffer.wrap(v).getLong();
            return height;
        }

        public Digest tipHash() {
            return metaDigest(META_TIP_HASH);
        }

        @Override
        public Digest stateRoot() {
            return metaDigest(META_STATE_ROOT);
        }

        Digest metaDigest(byte[] key) {
            byte[] v = meta.get(txn, key);
            if (v == null || v.length != Digest.LENGTH) {
                throw new StoreCorruptedException(dir + ": metadata key " + new String(key, StandardCharsets.US_ASCII)
                        + " is missing or not 32 bytes");
            }
            return Digest.of(v);
        }

        @Override
        public long balance(ByteString account) {
            byte[] v = accounts.get(txn, account.toByteArray());
            if (v == null) {
                return 0;
            }
            if (v.length != 8) {
                throw new StoreCorruptedException(dir + ": account " + ChainGenesis.hex(account) + " balance is " + v.length + " bytes");
            }
            return ByteBuffer.wrap(v).getLong();
        }

        @Override
        public Optional<ByteString> record(RecordKey key) {
            byte[] v = records.get(txn, key.storeKey());
            return v == null ? Optional.empty() : Optional.of(ByteString.copyFrom(v));
        }

        @Override
        public Optional<TxLocation> executed(Digest txId) {
            return indexEntry(txId).map(e -> new TxLocation(e.getHeight(), e.getIndex()));
        }

        Optional<TxIndexEntry> indexEntry(Digest txId) {
            // An entry above this snapshot's height belongs to a block committed after it opened.
            long at = height();
            return index.get(indexTxn, txId).filter(e -> e.getHeight() <= at);
        }

        public Optional<TxRecord> transaction(Digest id) {
            Optional<TxIndexEntry> entry = indexEntry(id);
            if (entry.isEmpty()) {
                return Optional.empty();
            }
            long height = entry.get().getHeight();
            int index = entry.get().getIndex();
            Block block = parseBlock(height);
            if (index >= block.getTransactionsCount()) {
                throw new StoreCorruptedException(dir + ": index points " + id.hex() + " at " + height + "/" + index + ", past the block's end");
            }
            return Optional.of(new TxRecord(height, index, entry.get().getReceipt(), block.getTransactions(index), block));
        }

        /** The stored bytes of the block at {@code height}, if any. */
        public Optional<byte[]> rawBlock(long height) {
            return Optional.ofNullable(blocks.get(txn, u64(height)));
        }

        public Optional<Block> block(long height) {
            return rawBlock(height).isEmpty() ? Optional.empty() : Optional.of(parseBlock(height));
        }

        public Optional<BlockHeader> header(long height) {
            return block(height).map(b -> {
                try {
                    return Blocks.header(b);
                } catch (InvalidProtocolBufferException e) {
                    throw new StoreCorruptedException(dir + ": block header at height " + height + " does not parse", e);
                }
            });
        }

        Block parseBlock(long height) {
            if (!owned) {
                // Inside a write transaction: what it reads may still be rolled back, so it is
                // neither served from nor added to the cache of committed blocks.
                return parseStoredBlock(height);
            }
            synchronized (parsedRecent) {
                Block known = parsedRecent.get(height);
                if (known != null) {
                    return known;
                }
            }
            Block block = parseStoredBlock(height);
            synchronized (parsedRecent) {
                parsedRecent.put(height, block);
            }
            return block;
        }

        private Block parseStoredBlock(long height) {
            byte[] raw = blocks.get(txn, u64(height));
            if (raw == null) {
                throw new StoreCorruptedException(dir + ": no block at height " + height);
            }
            try {
                return Blocks.parse(raw);
            } catch (InvalidProtocolBufferException e) {
                throw new StoreCorruptedException(dir + ": block at height " + height + " does not decode: " + e.getMessage(), e);
            }
        }

        /** Highest height with a stored block (0 when none). */
        public long lastBlockHeight() {
            return lastHeight(txn);
        }

        /** Every stored account balance, in ascending account order; -1 for a value that is not 8 bytes. */
        public void forEachAccount(BiConsumer<ByteString, Long> action) {
            try (CursorIterable<byte[]> it = accounts.iterate(txn, KeyRange.all())) {
                for (CursorIterable.KeyVal<byte[]> kv : it) {
                    byte[] v = kv.val();
                    action.accept(ByteString.copyFrom(kv.key()), v.length == 8 ? ByteBuffer.wrap(v).getLong() : -1L);
                }
            }
        }

        /** Every stored record, in ascending (owner, key) order. */
        public void forEachRecord(BiConsumer<RecordKey, ByteString> action) {
            try (CursorIterable<byte[]> it = records.iterate(txn, KeyRange.all())) {
                for (CursorIterable.KeyVal<byte[]> kv : it) {
                    if (kv.key().length <= 32) {
                        throw new StoreCorruptedException(dir + ": record key of " + kv.key().length + " bytes has no owner and key");
                    }
                    action.accept(RecordKey.fromStoreKey(kv.key()), ByteString.copyFrom(kv.val()));
                }
            }
        }

        /**
         * Number of entries in the transaction index. Counted over the whole index, so exact only
         * at rest (an offline audit); on a live store it may include a block newer than this snapshot.
         */
        public long indexedTransactions() {
            return index.size(indexTxn);
        }

        @Override
        public void close() {
            try {
                if (indexTxn != null) {
                    indexTxn.close();
                }
            } finally {
                if (owned) {
                    txn.close();
                }
            }
        }
    }

    static byte[] u64(long v) {
        return ByteBuffer.allocate(8).putLong(v).array();
    }

    private static byte[] ascii(String s) {
        return s.getBytes(StandardCharsets.US_ASCII);
    }
}
