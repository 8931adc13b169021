package bftledger.node.replica;

import bftledger.ledger.LmdbFileCheck;
import bftledger.ledger.StoreCorruptedException;
import bftledger.pbft.MalformedMessageException;
import bftledger.pbft.PersistCodec;
import bftledger.pbft.PersistRecord;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.zip.CRC32C;
import org.lmdbjava.ByteArrayProxy;
import org.lmdbjava.Cursor;
import org.lmdbjava.CursorIterable;
import org.lmdbjava.Dbi;
import org.lmdbjava.DbiFlags;
import org.lmdbjava.Env;
import org.lmdbjava.EnvFlags;
import org.lmdbjava.KeyRange;
import org.lmdbjava.Txn;

/**
 * The consensus write-ahead log: the core's {@link PersistRecord}s in their own LMDB
 * environment (separate from the block store, so a WAL fsync never waits on a block write and
 * the block store stays a pure ledger). {@link #append} writes all records of one output in one
 * synchronous LMDB transaction; the caller sends that output's messages only after it returns,
 * which is the core's persist-before-send contract.
 *
 * <p>Layout: database {@value #DB_RECORDS}: key = u64 BE append counter; value = sequence u64 ||
 * the record in pbft's {@link PersistCodec} layout (signed messages as their wire bytes, never
 * re-encoded) || CRC32C(key || sequence || record) u32 BE. Database {@value #DB_META}: the
 * format ({@value #FORMAT_VERSION}) and this WAL's identity, 16 random bytes drawn when it was
 * created, which the node's {@link SigningMark} records with the {@link #position} it last saw.
 * When a checkpoint becomes stable, records about sequences at or below it are deleted (the core
 * says they are no longer needed); view records and the newest record are kept, so the append
 * counter never goes back.
 *
 * <p>Damage is refused at {@link #open}, before anything is decoded: the file must hold what its
 * meta page says, every reachable page must be sound ({@link LmdbFileCheck#checkPages}), and every
 * record's checksum must hold (a flipped byte in a key or a value, which LMDB cannot see). A WAL
 * of the format before checksums is rewritten with them on open (ConsensusWalTest).
 */
public final class ConsensusWal implements AutoCloseable {
    static final String DB_RECORDS = "wal";
    static final String DB_META = "meta";
    static final byte[] META_FORMAT = "format".getBytes(StandardCharsets.US_ASCII);
    static final byte[] META_IDENTITY = "identity".getBytes(StandardCharsets.US_ASCII);
    static final int FORMAT_VERSION = 2;
    static final int IDENTITY_BYTES = 16;
    private static final int CHECKSUM_BYTES = 4;
    // Record kinds, the first byte of the PersistCodec layout.
    private static final byte OWN = 1;
    private static final byte PREPARED = 2;
    private static final byte STABLE = 4;

    private final Env<byte[]> env;
    private final Dbi<byte[]> records;
    private final PersistCodec codec;
    private final Path dir;
    private final byte[] identity;
    private long next;

    private ConsensusWal(Env<byte[]> env, Dbi<byte[]> records, byte[] identity, PersistCodec codec, Path dir) {
        this.env = env;
        this.records = records;
        this.identity = identity;
        this.codec = codec;
        this.dir = dir;
        try (Txn<byte[]> txn = env.txnRead(); Cursor<byte[]> c = records.openCursor(txn)) {
            next = c.last() ? ByteBuffer.wrap(c.key()).getLong() + 1 : 0;
        }
    }

    /**
     * Opens (creating) the WAL in {@code dir} after checking it.
     *
     * @throws StoreCorruptedException when the file is truncated or damaged, naming what and where
     */
    public static ConsensusWal open(Path dir, PersistCodec codec, long mapSizeBytes) {
        try {
            Files.createDirectories(dir);
        } catch (IOException e) {
            throw new StoreCorruptedException("cannot create the consensus WAL directory " + dir + ": " + e.getMessage(), e);
        }
        Path dataFile = dir.resolve("data.mdb");
        if (Files.exists(dataFile)) {
            checkFile(dataFile);
        }
        Env<byte[]> env = Env.create(ByteArrayProxy.PROXY_BA).setMapSize(mapSizeBytes).setMaxDbs(2).setMaxReaders(16)
                .open(dir.toFile(), EnvFlags.MDB_NOTLS);
        try {
            Dbi<byte[]> dbi = env.openDbi(DB_RECORDS, DbiFlags.MDB_CREATE);
            Dbi<byte[]> meta = env.openDbi(DB_META, DbiFlags.MDB_CREATE);
            byte[] identity = formatted(env, dbi, meta, dataFile);
            return new ConsensusWal(env, dbi, identity, codec, dir);
        } catch (RuntimeException e) {
            env.close();
            throw e;
        }
    }

    /** The pages and, when the format has them, every record's checksum, before LMDB maps the file. */
    private static void checkFile(Path dataFile) {
        byte[][] format = new byte[1][];
        List<String> damaged = new ArrayList<>();
        LmdbFileCheck.checkPages(dataFile, (db, key, value) -> {
            if (db.equals(DB_META) && Arrays.equals(key, META_FORMAT)) {
                format[0] = value;
            } else if (db.equals(DB_RECORDS) && damaged.isEmpty() && !checksumHolds(key, value)) {
                damaged.add(key.length == 8 ? Long.toString(ByteBuffer.wrap(key).getLong()) : HexFormat.of().formatHex(key));
            }
        });
        if (format[0] != null && !Arrays.equals(format[0], u32(FORMAT_VERSION))) {
            throw new StoreCorruptedException(dataFile + ": consensus WAL format " + HexFormat.of().formatHex(format[0])
                    + ", not " + FORMAT_VERSION);
        }
        if (format[0] != null && !damaged.isEmpty()) {
            throw new StoreCorruptedException(dataFile + ": consensus WAL record " + damaged.get(0)
                    + " fails its checksum (a damaged byte in the record or its key)");
        }
    }

    /** This WAL's identity; a WAL of the format before checksums gets them (and an identity) here. */
    private static byte[] formatted(Env<byte[]> env, Dbi<byte[]> records, Dbi<byte[]> meta, Path dataFile) {
        try (Txn<byte[]> txn = env.txnWrite()) {
            byte[] format = meta.get(txn, META_FORMAT);
            byte[] identity = meta.get(txn, META_IDENTITY);
            if (format != null) {
                if (identity == null || identity.length != IDENTITY_BYTES) {
                    throw new StoreCorruptedException(dataFile + ": consensus WAL has no identity");
                }
                return identity;
            }
            List<byte[][]> unchecked = new ArrayList<>();
            try (CursorIterable<byte[]> it = records.iterate(txn, KeyRange.all())) {
                for (CursorIterable.KeyVal<byte[]> kv : it) {
                    unchecked.add(new byte[][] {kv.key(), kv.val()});
                }
            }
            for (byte[][] kv : unchecked) {
                records.put(txn, kv[0], withChecksum(kv[0], kv[1]));
            }
            identity = new byte[IDENTITY_BYTES];
            new SecureRandom().nextBytes(identity);
            meta.put(txn, META_IDENTITY, identity);
            meta.put(txn, META_FORMAT, u32(FORMAT_VERSION));
            txn.commit();
            return identity;
        }
    }

    /** Durably appends {@code batch} (one output's records), then truncates below a new stable checkpoint. */
    public synchronized void append(List<PersistRecord> batch) {
        if (batch.isEmpty()) {
            return;
        }
        long stable = -1;
        long first = next;
        try (Txn<byte[]> txn = env.txnWrite()) {
            long key = first;
            for (PersistRecord record : batch) {
                byte[] k = key(key++);
                records.put(txn, k, withChecksum(k, encode(record)));
                if (record instanceof PersistRecord.StableCheckpoint sc) {
                    stable = Math.max(stable, sc.sequence());
                }
            }
            if (stable > 0) {
                truncate(txn, stable, key - 1);
            }
            txn.commit();
            next = key;
        }
    }

    private void truncate(Txn<byte[]> txn, long stable, long newest) {
        try (CursorIterable<byte[]> it = records.iterate(txn, KeyRange.all())) {
            List<byte[]> doomed = new ArrayList<>();
            for (CursorIterable.KeyVal<byte[]> kv : it) {
                byte[] v = kv.val();
                long sequence = ByteBuffer.wrap(v, 0, 8).getLong();
                byte type = v[8];
                boolean old = type == STABLE ? sequence < stable
                        : (type == OWN || type == PREPARED) && sequence > 0 && sequence <= stable;
                if (old && ByteBuffer.wrap(kv.key()).getLong() != newest) {
                    doomed.add(kv.key());
                }
            }
            for (byte[] k : doomed) {
                records.delete(txn, k);
            }
        }
    }

    /** Every record in append order, for {@code Replica.restore}. A record that does not decode is corruption. */
    public synchronized List<PersistRecord> readAll() {
        List<PersistRecord> out = new ArrayList<>();
        try (Txn<byte[]> txn = env.txnRead(); CursorIterable<byte[]> it = records.iterate(txn, KeyRange.all())) {
            for (CursorIterable.KeyVal<byte[]> kv : it) {
                long index = ByteBuffer.wrap(kv.key()).getLong();
                if (!checksumHolds(kv.key(), kv.val())) {
                    throw new StoreCorruptedException("consensus WAL " + dir + ": record " + index + " fails its checksum");
                }
                try {
                    out.add(decode(Arrays.copyOf(kv.val(), kv.val().length - CHECKSUM_BYTES)));
                } catch (MalformedMessageException | RuntimeException e) {
                    throw new StoreCorruptedException("consensus WAL " + dir + ": record " + index
                            + " does not decode (" + e.getMessage() + ")", e);
                }
            }
        }
        return out;
    }

    public synchronized long size() {
        try (Txn<byte[]> txn = env.txnRead()) {
            return records.stat(txn).entries;
        }
    }

    /** How many records were ever appended: the append counter, which deletions never lower. */
    public synchronized long position() {
        return next;
    }

    public Path directory() {
        return dir;
    }

    /** Drawn when this WAL was created; a WAL made again (lost, emptied, replaced) has another. */
    public byte[] identity() {
        return identity.clone();
    }

    private static byte[] key(long index) {
        return ByteBuffer.allocate(8).putLong(index).array();
    }

    private static byte[] u32(int v) {
        return ByteBuffer.allocate(4).putInt(v).array();
    }

    /** sequence u64 || the pbft {@link PersistCodec} bytes (whose first byte is the record kind). */
    static byte[] encode(PersistRecord record) {
        byte[] body = PersistCodec.encode(record);
        return ByteBuffer.allocate(8 + body.length).putLong(record.sequence()).put(body).array();
    }

    static byte[] withChecksum(byte[] key, byte[] value) {
        return ByteBuffer.allocate(value.length + CHECKSUM_BYTES).put(value).putInt(checksum(key, value, value.length))
                .array();
    }

    private static int checksum(byte[] key, byte[] value, int length) {
        CRC32C crc = new CRC32C();
        crc.update(key);
        crc.update(value, 0, length);
        return (int) crc.getValue();
    }

    private static boolean checksumHolds(byte[] key, byte[] value) {
        int length = value.length - CHECKSUM_BYTES;
        return length >= 9 && checksum(key, value, length) == ByteBuffer.wrap(value, length, CHECKSUM_BYTES).getInt();
    }

    PersistRecord decode(byte[] value) throws MalformedMessageException {
        if (value.length < 9) {
            throw new IllegalArgumentException("record of " + value.length + " bytes");
        }
        return codec.decode(Arrays.copyOfRange(value, 8, value.length));
    }

    @Override
    public synchronized void close() {
        env.close();
    }
}
