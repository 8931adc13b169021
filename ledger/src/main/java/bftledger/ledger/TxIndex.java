package bftledger.ledger;

import bftledger.crypto.Digest;
import bftledger.ledger.proto.Block;
import bftledger.ledger.proto.Receipt;
import bftledger.ledger.proto.TxIndexEntry;
import com.google.common.hash.BloomFilter;
import com.google.common.hash.Funnel;
import com.google.protobuf.InvalidProtocolBufferException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.lmdbjava.ByteArrayProxy;
import org.lmdbjava.Dbi;
import org.lmdbjava.DbiFlags;
import org.lmdbjava.Env;
import org.lmdbjava.EnvFlags;
import org.lmdbjava.PutFlags;
import org.lmdbjava.Txn;

/**
 * The transaction index (tx id -> {@link TxIndexEntry}) in its own LMDB environment, written
 * without fsync. It is derived data: every entry follows from the stored blocks (a block's
 * transactions and receipts, bound by its receipts_root and state_root), so it needs no
 * durability of its own, only a way to tell when it cannot be trusted, and then it is rebuilt.
 *
 * <p>Why apart: ids are random, so every indexed transaction dirties its own B-tree page; in the
 * block store's synchronous commit that page was written and synced once per block, which was the
 * largest single cost of a committed transaction (the sync'd writes of the index pages). Here
 * the kernel writes a page back once however many commits dirtied it in between.
 *
 * <p>When it is trusted: LMDB without sync survives a crash of the process (every commit's writes
 * are in the page cache before the commit returns) but not of the operating system (pages reach
 * the disk in any order). The {@value #STATE_FILE} file, written with fsync, says which: "clean"
 * after a close that synced everything, or "open &lt;boot id&gt;" while a process may be writing.
 * At open the index is kept when the file says "clean", or "open" with this boot's id (only the
 * process died); otherwise (the machine restarted under a writer, or the file is missing or
 * unreadable) it is deleted and rebuilt from the blocks. It is also rebuilt when it names a
 * different block at its height than the store holds (an index from another store, or a copy
 * taken under a running node), and when it does not open at all: derived data never stops a
 * node from starting. One process has a store open at a time ({@link BlockStore} holds its lock
 * file), so an audit cannot open a running node's store and mark its index "clean" under the
 * node's unsynced pages.
 *
 * <p>Order with the block store: a block is committed (durably) to the store first, then its
 * entries here, so the index is never ahead of the blocks; the store brings it level before each
 * append and at open ({@link BlockStore}).
 *
 * <p>What a damaged disk cannot make it do: LMDB keeps no checksums, so every entry's value ends
 * in a CRC32C of the transaction id and the entry ({@value #FORMAT_VERSION}: the format with
 * them). A trusted index is read in full before LMDB maps it ({@link LmdbFileCheck#checkPages}:
 * every page's bounds, every entry's checksum, the meta values' sizes); anything wrong and it is
 * rebuilt from the blocks, as when it is not trusted. An entry found damaged later, when read, is
 * refused ({@link StoreCorruptedException}) and never served or used to decide a replay
 * (TxIndexTest#aFlippedByteInTheIndexIsRebuiltNotServed).
 */
final class TxIndex implements AutoCloseable {
    static final String DIR = "txindex";
    static final String STATE_FILE = "STATE";
    static final String DB_ENTRIES = "entries";
    static final String DB_META = "meta";
    static final byte[] META_HEIGHT = "height".getBytes(StandardCharsets.US_ASCII);
    /** The hash of the block at {@link #META_HEIGHT}: which chain the entries belong to. */
    static final byte[] META_TIP_HASH = "tip_hash".getBytes(StandardCharsets.US_ASCII);
    /** The value layout: {@value #FORMAT_VERSION} = entry bytes || CRC32C(tx id || entry bytes), u32 big-endian. */
    static final byte[] META_FORMAT = "format".getBytes(StandardCharsets.US_ASCII);
    static final int FORMAT_VERSION = 2;
    private static final int CHECKSUM_BYTES = 4;
    /**
     * Room kept written ahead of the last page in use. Commits store through the map
     * (MDB_WRITEMAP) into a file that is sparse at the map size, and a store into a hole on a full
     * disk kills the process (SIGBUS) where a write would fail with ENOSPC. A commit writes only
     * pages in use or new pages right after them, at most a block's entries (a few hundred pages),
     * so with this much written ahead by ordinary writes, which do fail with ENOSPC, no store
     * through the map ever needs new room (DiskFullTest).
     */
    static final long ROOM_AHEAD_BYTES = 8L << 20;
    /** The Bloom filter's smallest capacity, in ids (about 1.2 MB at its 1% false positives). */
    static final long KNOWN_IDS_MIN = 1L << 20;
    private static final double KNOWN_FALSE_POSITIVES = 0.01;
    private static final Funnel<Digest> DIGEST_FUNNEL = (id, sink) -> sink.putBytes(id.bytes());
    private static final String CLEAN = "clean";
    private static final String OPEN = "open ";
    private static final Path BOOT_ID = Path.of("/proc/sys/kernel/random/boot_id");

    private static final org.slf4j.Logger log = org.slf4j.LoggerFactory.getLogger(TxIndex.class);

    private final Path dir;
    private final Env<byte[]> env;
    private final Dbi<byte[]> entries;
    private final Dbi<byte[]> meta;
    private final boolean rebuilt;
    /** Written through java.io, which an interrupt of the writing thread does not close (an NIO channel it would). */
    private final java.io.RandomAccessFile file;
    /** Every byte of the file below this offset has been written: stores through the map there need no new room. */
    private long roomUpTo;
    /** LMDB's page size (an environment's page size never changes). */
    private final int pageSize;
    private volatile long height;
    /**
     * Every id in the index, as a Bloom filter: a lookup of an id never indexed (a new
     * transaction, most lookups) ends here without LMDB. Ids are put in before the commit that
     * stores them, so the filter never misses an id LMDB holds (false positives go on to LMDB).
     * Sized for twice the entries at open, at least {@link #KNOWN_IDS_MIN}; past that it is built
     * again, twice as large, from the stored ids.
     */
    private volatile BloomFilter<Digest> known;
    private long knownCapacity;
    private long knownCount;

    private TxIndex(Path dir, Env<byte[]> env, boolean rebuilt) throws IOException {
        this.dir = dir;
        this.env = env;
        this.rebuilt = rebuilt;
        this.file = new java.io.RandomAccessFile(dir.resolve("data.mdb").toFile(), "rw");
        this.pageSize = env.stat().pageSize;
        this.roomUpTo = usedBytes();
        ensureRoom();
        this.entries = env.openDbi(DB_ENTRIES, DbiFlags.MDB_CREATE);
        this.meta = env.openDbi(DB_META, DbiFlags.MDB_CREATE);
        try (Txn<byte[]> txn = env.txnWrite()) {
            byte[] format = meta.get(txn, META_FORMAT);
            if (format == null && entries.stat(txn).entries == 0 && meta.get(txn, META_HEIGHT) == null) {
                meta.put(txn, META_FORMAT, ByteBuffer.allocate(4).putInt(FORMAT_VERSION).array());
            } else if (format == null || format.length != 4 || ByteBuffer.wrap(format).getInt() != FORMAT_VERSION) {
                throw new StoreCorruptedException(dir + ": transaction index of another format (its entries carry no checksums)");
            }
            this.height = storedHeight(txn);
            txn.commit();
        }
        buildKnown();
    }

    /** Builds {@link #known} from the stored ids (at open, and when it is full). */
    private void buildKnown() {
        try (Txn<byte[]> txn = env.txnRead()) {
            long count = entries.stat(txn).entries;
            long capacity = Math.max(KNOWN_IDS_MIN, 2 * count);
            BloomFilter<Digest> filter = BloomFilter.create(DIGEST_FUNNEL, capacity, KNOWN_FALSE_POSITIVES);
            try (org.lmdbjava.CursorIterable<byte[]> all = entries.iterate(txn)) {
                for (org.lmdbjava.CursorIterable.KeyVal<byte[]> kv : all) {
                    filter.put(Digest.of(kv.key()));
                }
            }
            this.knownCapacity = capacity;
            this.knownCount = count;
            this.known = filter;
        }
    }

    /** False when {@code txId} is certainly not indexed; true when it may be (look it up). */
    boolean mightContain(Digest txId) {
        return known.mightContain(txId);
    }

    /**
     * Opens the index under {@code storeDir}, discarding it first when it cannot be trusted (see
     * the class comment) or when {@code discard} says so; then marks it open for this boot before
     * anything is written.
     */
    static TxIndex open(Path storeDir, long mapSizeBytes, boolean discard) {
        Path dir = storeDir.resolve(DIR);
        boolean trusted = !discard && trusted(dir);
        try {
            return openAt(dir, mapSizeBytes, trusted);
        } catch (RuntimeException damaged) {
            if (!trusted) {
                throw damaged;
            }
            log.warn("event=txindex-unreadable dir={} error=\"{}\" action=rebuild", dir, damaged.getMessage());
            return openAt(dir, mapSizeBytes, false);
        }
    }

    private static TxIndex openAt(Path dir, long mapSizeBytes, boolean trusted) {
        try {
            if (!trusted) {
                deleteEnvironment(dir);
            }
            Files.createDirectories(dir);
            writeState(dir, OPEN + bootId().orElse("unknown"));
        } catch (IOException e) {
            throw new StoreCorruptedException("cannot prepare the transaction index " + dir + ": " + e.getMessage(), e);
        }
        Path dataFile = dir.resolve("data.mdb");
        if (Files.exists(dataFile)) {
            LmdbFileCheck.checkPages(dataFile, (db, key, value) -> checkStored(dataFile, db, key, value));
        }
        // MDB_NOSYNC: see the class comment. MDB_WRITEMAP: commits store into the map directly
        // instead of one pwrite per dirty page, several times less CPU per block on the core
        // thread; the kernel writes pages back when it flushes. The file is sparse at the map
        // size: see ROOM_AHEAD_BYTES for a full disk.
        Env<byte[]> env = Env.create(ByteArrayProxy.PROXY_BA).setMapSize(mapSizeBytes).setMaxDbs(2)
                .setMaxReaders(BlockStore.MAX_READERS)
                .open(dir.toFile(), EnvFlags.MDB_NOTLS, EnvFlags.MDB_NOSYNC, EnvFlags.MDB_WRITEMAP);
        try {
            return new TxIndex(dir, env, !trusted);
        } catch (IOException e) {
            env.close();
            throw new java.io.UncheckedIOException("cannot prepare the transaction index " + dir + ": " + e.getMessage(), e);
        } catch (RuntimeException e) {
            env.close();
            throw e;
        }
    }

    /** Whether this open started from an empty index because the previous one was not trusted. */
    boolean rebuilt() {
        return rebuilt;
    }

    /** Highest block height whose transactions are indexed. */
    long height() {
        return height;
    }

    /** The hash of the block at {@link #height()} as recorded when it was indexed (empty at 0 or when absent). */
    Optional<Digest> tipHash() {
        try (Txn<byte[]> txn = env.txnRead()) {
            byte[] v = meta.get(txn, META_TIP_HASH);
            return v == null || v.length != Digest.LENGTH ? Optional.empty() : Optional.of(Digest.of(v));
        }
    }

    Txn<byte[]> read() {
        return env.txnRead();
    }

    /** Whether {@code txId} is indexed; most ids asked about are new, and the filter answers those without a read transaction. */
    boolean contains(Digest txId) {
        if (!known.mightContain(txId)) {
            return false;
        }
        try (Txn<byte[]> txn = env.txnRead()) {
            return stored(txn, txId).isPresent();
        }
    }

    Optional<TxIndexEntry> get(Txn<byte[]> txn, Digest txId) {
        return known.mightContain(txId) ? stored(txn, txId) : Optional.empty();
    }

    /** The entry LMDB holds for {@code txId}, checksum checked. */
    private Optional<TxIndexEntry> stored(Txn<byte[]> txn, Digest txId) {
        byte[] v = entries.get(txn, txId.bytes());
        if (v == null) {
            return Optional.empty();
        }
        if (!checksumHolds(txId.bytes(), v)) {
            throw new StoreCorruptedException(dir + ": transaction index entry for " + txId.hex() + " fails its checksum;"
                    + " restart the node to rebuild the index from the blocks");
        }
        try {
            return Optional.of(TxIndexEntry.parseFrom(java.util.Arrays.copyOf(v, v.length - CHECKSUM_BYTES)));
        } catch (InvalidProtocolBufferException e) {
            throw new StoreCorruptedException(dir + ": transaction index entry for " + txId.hex() + " does not parse", e);
        }
    }

    /** The stored value of an entry: its bytes, then the checksum over the id and them. */
    static byte[] storedValue(Digest txId, TxIndexEntry entry) {
        byte[] body = entry.toByteArray();
        return ByteBuffer.allocate(body.length + CHECKSUM_BYTES).put(body).putInt(checksum(txId.bytes(), body, body.length))
                .array();
    }

    private static int checksum(byte[] key, byte[] value, int valueLength) {
        java.util.zip.CRC32C crc = new java.util.zip.CRC32C();
        crc.update(key);
        crc.update(value, 0, valueLength);
        return (int) crc.getValue();
    }

    private static boolean checksumHolds(byte[] key, byte[] value) {
        int length = value.length - CHECKSUM_BYTES;
        return key.length == Digest.LENGTH && length >= 0
                && checksum(key, value, length) == ByteBuffer.wrap(value, length, CHECKSUM_BYTES).getInt();
    }

    /** What {@link LmdbFileCheck#checkPages} sees of a trusted index before it is mapped: damage means a rebuild. */
    private static void checkStored(Path file, String db, byte[] key, byte[] value) {
        boolean ok = switch (db) {
            case DB_ENTRIES -> checksumHolds(key, value);
            case DB_META -> java.util.Arrays.equals(key, META_HEIGHT) ? value.length == 8
                    : java.util.Arrays.equals(key, META_TIP_HASH) ? value.length == Digest.LENGTH
                    : java.util.Arrays.equals(key, META_FORMAT) && value.length == 4;
            default -> true;
        };
        if (!ok) {
            throw new StoreCorruptedException(file + ": " + db + " entry " + java.util.HexFormat.of().formatHex(key)
                    + " is damaged (" + value.length + " bytes" + (db.equals(DB_ENTRIES) ? ", checksum fails" : "") + ")");
        }
    }

    long size(Txn<byte[]> txn) {
        return entries.stat(txn).entries;
    }

    /** One executed transaction's entry, as the block at {@code height} holds it. */
    record Entry(Digest txId, int index, Receipt receipt) {}

    /**
     * Indexes the block at {@code height} (the next one). An id indexed already means a
     * transaction executed twice, an execution bug: refused, and nothing of the block is written.
     */
    synchronized void add(long height, Digest blockHash, List<Entry> executed) {
        if (height != this.height + 1) {
            throw new IllegalStateException("indexing block " + height + " but the index is at " + this.height);
        }
        try {
            ensureRoom();
        } catch (IOException e) {
            throw new java.io.UncheckedIOException("cannot index block " + height + " in " + dir + ": " + e.getMessage(), e);
        }
        BloomFilter<Digest> filter = known;
        for (Entry e : executed) {
            filter.put(e.txId());
        }
        knownCount += executed.size();
        try (Txn<byte[]> txn = env.txnWrite()) {
            for (Entry e : executed) {
                byte[] value = storedValue(e.txId(),
                        TxIndexEntry.newBuilder().setHeight(height).setIndex(e.index()).setReceipt(e.receipt()).build());
                if (!entries.put(txn, e.txId().bytes(), value, PutFlags.MDB_NOOVERWRITE)) {
                    throw new IllegalStateException("transaction " + e.txId().hex() + " executed twice: an execution bug");
                }
            }
            meta.put(txn, META_HEIGHT, BlockStore.u64(height));
            meta.put(txn, META_TIP_HASH, blockHash.bytes());
            txn.commit();
        }
        this.height = height;
        if (knownCount > knownCapacity) {
            buildKnown();
        }
    }

    private long usedBytes() {
        return (env.info().lastPageNumber + 1) * pageSize;
    }

    /** Writes zeros past the pages in use until {@link #ROOM_AHEAD_BYTES} are written ahead; ENOSPC fails here, not in the map. */
    private void ensureRoom() throws IOException {
        long used = usedBytes();
        if (roomUpTo >= used + ROOM_AHEAD_BYTES / 2) {
            return;
        }
        long from = Math.max(roomUpTo, used);
        byte[] zeros = new byte[1 << 20];
        file.seek(from);
        for (long at = from; at < used + ROOM_AHEAD_BYTES; at += zeros.length) {
            file.write(zeros);
        }
        roomUpTo = used + ROOM_AHEAD_BYTES;
    }

    /** The entries a stored block gives: its transactions that executed (every receipt but DUPLICATE). */
    static List<Entry> entriesOf(Block block) {
        // A pruned block keeps its receipts alone; each names its transaction's id.
        boolean pruned = block.getTransactionsCount() == 0;
        List<Entry> out = new ArrayList<>(block.getReceiptsCount());
        for (int i = 0; i < block.getReceiptsCount(); i++) {
            Receipt receipt = block.getReceipts(i);
            if (receipt.getStatus() != Receipt.Status.DUPLICATE) {
                Digest id = pruned ? Digest.of(receipt.getTxId().toByteArray()) : Transactions.id(block.getTransactions(i));
                out.add(new Entry(id, i, receipt));
            }
        }
        return out;
    }

    /** Writes everything to disk, then records that the index can be trusted as it is. */
    @Override
    public synchronized void close() {
        try {
            env.sync(true);
            writeState(dir, CLEAN);
        } catch (IOException | RuntimeException e) {
            // Left marked open: the next open decides from the boot id, and rebuilds if in doubt.
            log.warn("event=txindex-close-unsynced dir={} error=\"{}\"", dir, e.getMessage());
        } finally {
            closeFile();
            env.close();
        }
    }

    /** Closes without marking it clean (the caller is about to discard it). */
    synchronized void abandon() {
        closeFile();
        env.close();
    }

    private void closeFile() {
        try {
            file.close();
        } catch (IOException ignored) {
            // only the handle used for writing room ahead
        }
    }

    private long storedHeight(Txn<byte[]> txn) {
        byte[] v = meta.get(txn, META_HEIGHT);
        if (v == null) {
            return 0;
        }
        if (v.length != 8) {
            throw new StoreCorruptedException(dir + ": transaction index height is " + v.length + " bytes");
        }
        return ByteBuffer.wrap(v).getLong();
    }

    private static boolean trusted(Path dir) {
        String state;
        try {
            state = Files.readString(dir.resolve(STATE_FILE), StandardCharsets.US_ASCII).trim();
        } catch (NoSuchFileException e) {
            return false;
        } catch (IOException e) {
            return false;
        }
        if (state.equals(CLEAN)) {
            return true;
        }
        Optional<String> boot = bootId();
        return boot.isPresent() && state.equals(OPEN + boot.get());
    }

    private static Optional<String> bootId() {
        try {
            String id = Files.readString(BOOT_ID, StandardCharsets.US_ASCII).trim();
            return id.isEmpty() ? Optional.empty() : Optional.of(id);
        } catch (IOException | RuntimeException e) {
            return Optional.empty();
        }
    }

    /** Replaces the state file durably: written to a temporary file, synced, renamed, directory synced. */
    private static void writeState(Path dir, String state) throws IOException {
        Path tmp = dir.resolve(STATE_FILE + ".tmp");
        try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                StandardOpenOption.TRUNCATE_EXISTING)) {
            ch.write(ByteBuffer.wrap((state + "\n").getBytes(StandardCharsets.US_ASCII)));
            ch.force(true);
        }
        Files.move(tmp, dir.resolve(STATE_FILE), java.nio.file.StandardCopyOption.ATOMIC_MOVE,
                java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        try (FileChannel d = FileChannel.open(dir, StandardOpenOption.READ)) {
            d.force(true);
        }
    }

    private static void deleteEnvironment(Path dir) throws IOException {
        for (String name : List.of("data.mdb", "lock.mdb", STATE_FILE, STATE_FILE + ".tmp")) {
            Files.deleteIfExists(dir.resolve(name));
        }
    }
}
