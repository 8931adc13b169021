package bftledger.node.replica;

import bftledger.crypto.Digest;
import bftledger.ledger.StoreCorruptedException;
import bftledger.pbft.Checkpoint;
import bftledger.pbft.MalformedMessageException;
import bftledger.pbft.MessageCodec;
import bftledger.pbft.MessageType;
import bftledger.pbft.PersistRecord;
import bftledger.pbft.PrePrepare;
import bftledger.pbft.Prepare;
import bftledger.pbft.PreparedCertificate;
import bftledger.pbft.Signed;
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
 * <p>Layout: key = u64 BE append counter; value = type u8 || sequence u64 || body, where the body
 * is a message's wire bytes (as signed, never re-encoded) or a small fixed layout. When a
 * checkpoint becomes stable, records about sequences at or below it are deleted (the core says
 * they are no longer needed); view records are kept.
 */
public final class ConsensusWal implements AutoCloseable {
    private static final byte OWN = 1;
    private static final byte PREPARED = 2;
    private static final byte VIEW = 3;
    private static final byte STABLE = 4;

    private final Env<byte[]> env;
    private final Dbi<byte[]> records;
    private final MessageCodec codec;
    private final Path dir;
    private long next;

    private ConsensusWal(Env<byte[]> env, Dbi<byte[]> records, MessageCodec codec, Path dir) {
        this.env = env;
        this.records = records;
        this.codec = codec;
        this.dir = dir;
        try (Txn<byte[]> txn = env.txnRead(); Cursor<byte[]> c = records.openCursor(txn)) {
            next = c.last() ? ByteBuffer.wrap(c.key()).getLong() + 1 : 0;
        }
    }

    public static ConsensusWal open(Path dir, MessageCodec codec, long mapSizeBytes) {
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
                byte type = v[0];
                long sequence = ByteBuffer.wrap(v, 1, 8).getLong();
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

    static byte[] encode(PersistRecord record) {
        Out out = new Out();
        if (record instanceof PersistRecord.OwnMessage m) {
            out.u8(OWN).u64(m.sequence()).blob(m.message().wire());
        } else if (record instanceof PersistRecord.Prepared p) {
            out.u8(PREPARED).u64(p.sequence()).blob(p.certificate().prePrepare().wire()).u32(p.certificate().prepares().size());
            for (Signed<Prepare> prepare : p.certificate().prepares()) {
                out.blob(prepare.wire());
            }
        } else if (record instanceof PersistRecord.ViewState v) {
            out.u8(VIEW).u64(0).u64(v.view()).u8(v.changing() ? 1 : 0);
        } else if (record instanceof PersistRecord.StableCheckpoint s) {
            out.u8(STABLE).u64(s.sequence()).raw(s.digest().bytes()).u32(s.proof().size());
            for (Signed<Checkpoint> c : s.proof()) {
                out.blob(c.wire());
            }
        } else {
            throw new IllegalStateException("unknown persist record " + record);
        }
        return out.bytes();
    }

    PersistRecord decode(byte[] value) throws MalformedMessageException {
        ByteBuffer in = ByteBuffer.wrap(value);
        byte type = in.get();
        long sequence = in.getLong();
        switch (type) {
            case OWN:
                return new PersistRecord.OwnMessage(codec.decode(blob(in)));
            case PREPARED: {
                Signed<PrePrepare> pp = codec.decode(blob(in), MessageType.PRE_PREPARE).as(PrePrepare.class);
                int count = in.getInt();
                List<Signed<Prepare>> prepares = new ArrayList<>();
                for (int i = 0; i < count; i++) {
                    prepares.add(codec.decode(blob(in), MessageType.PREPARE).as(Prepare.class));
                }
                return new PersistRecord.Prepared(new PreparedCertificate(pp, prepares));
            }
            case VIEW:
                return new PersistRecord.ViewState(in.getLong(), in.get() == 1);
            case STABLE: {
                byte[] digest = new byte[Digest.LENGTH];
                in.get(digest);
                int count = in.getInt();
                List<Signed<Checkpoint>> proof = new ArrayList<>();
                for (int i = 0; i < count; i++) {
                    proof.add(codec.decode(blob(in), MessageType.CHECKPOINT).as(Checkpoint.class));
                }
                return new PersistRecord.StableCheckpoint(sequence, Digest.of(digest), proof);
            }
            default:
                throw new IllegalArgumentException("unknown record type " + type);
        }
    }

    private static byte[] blob(ByteBuffer in) {
        int length = in.getInt();
        if (length < 0 || length > in.remaining()) {
            throw new IllegalArgumentException("length " + length + " beyond the record");
        }
        byte[] b = new byte[length];
        in.get(b);
        return b;
    }

    private static final class Out {
        private final java.io.ByteArrayOutputStream buffer = new java.io.ByteArrayOutputStream();

        Out u8(int v) {
            buffer.write(v);
            return this;
        }

        Out u32(int v) {
            return raw(ByteBuffer.allocate(4).putInt(v).array());
        }

        Out u64(long v) {
            return raw(ByteBuffer.allocate(8).putLong(v).array());
        }

        Out raw(byte[] b) {
            buffer.writeBytes(b);
            return this;
        }

        Out blob(byte[] b) {
            return u32(b.length).raw(b);
        }

        byte[] bytes() {
            return buffer.toByteArray();
        }
    }

    @Override
    public synchronized void close() {
        env.close();
    }
}
