package bftledger.node.replica;

import bftledger.ledger.StoreCorruptedException;
import bftledger.pbft.MalformedMessageException;
import bftledger.pbft.PersistCodec;
import bftledger.pbft.PersistRecord;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
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
 * <p>Layout: key = u64 BE append counter; value = sequence u64 || the record in pbft's
 * {@link PersistCodec} layout (signed messages as their wire bytes, never re-encoded). When a
 * checkpoint becomes stable, records about sequences at or below it are deleted (the core says
 * they are no longer needed); view records are kept.
 */
public final class ConsensusWal implements AutoCloseable {
    // Record kinds, the first byte of the PersistCodec layout.
    private static final byte OWN = 1;
    private static final byte PREPARED = 2;
    private static final byte STABLE = 4;

    private final Env<byte[]> env;
    private final Dbi<byte[]> records;
    private final PersistCodec codec;
    private final Path dir;
    private long next;

    private ConsensusWal(Env<byte[]> env, Dbi<byte[]> records, PersistCodec codec, Path dir) {
        this.env = env;
        this.records = records;
        this.codec = codec;
        this.dir = dir;
        try (Txn<byte[]> txn = env.txnRead(); Cursor<byte[]> c = records.openCursor(txn)) {
            next = c.last() ? ByteBuffer.wrap(c.key()).getLong() + 1 : 0;
        }
    }

    public static ConsensusWal open(Path dir, PersistCodec codec, long mapSizeBytes) {
        try {
            Files.createDirectories(dir);
        } catch (IOException e) {
            throw new StoreCorruptedException("cannot create the consensus WAL directory " + dir + ": " + e.getMessage(), e);
        }
        Env<byte[]> env = Env.create(ByteArrayProxy.PROXY_BA).setMapSize(mapSizeBytes).setMaxDbs(1).setMaxReaders(16)
                .open(dir.toFile(), EnvFlags.MDB_NOTLS);
        Dbi<byte[]> dbi = env.openDbi("wal", DbiFlags.MDB_CREATE);
        return new ConsensusWal(env, dbi, codec, dir);
    }

    /** Durably appends {@code batch} (one output's records), then truncates below a new stable checkpoint. */
    public synchronized void append(List<PersistRecord> batch) {
        if (batch.isEmpty()) {
            return;
        }
        long stable = -1;
        try (Txn<byte[]> txn = env.txnWrite()) {
            for (PersistRecord record : batch) {
                records.put(txn, key(next++), encode(record));
                if (record instanceof PersistRecord.StableCheckpoint sc) {
                    stable = Math.max(stable, sc.sequence());
                }
            }
            if (stable > 0) {
                truncate(txn, stable);
            }
            txn.commit();
        }
    }

    private void truncate(Txn<byte[]> txn, long stable) {
        long newest = next - 1;
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
                try {
                    out.add(decode(kv.val()));
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

    private static byte[] key(long index) {
        return ByteBuffer.allocate(8).putLong(index).array();
    }

    /** sequence u64 || the pbft {@link PersistCodec} bytes (whose first byte is the record kind). */
    static byte[] encode(PersistRecord record) {
        byte[] body = PersistCodec.encode(record);
        return ByteBuffer.allocate(8 + body.length).putLong(record.sequence()).put(body).array();
    }

    PersistRecord decode(byte[] value) throws MalformedMessageException {
        if (value.length < 9) {
            throw new IllegalArgumentException("record of " + value.length + " bytes");
        }
        return codec.decode(java.util.Arrays.copyOfRange(value, 8, value.length));
    }

    @Override
    public synchronized void close() {
        env.close();
    }
}
