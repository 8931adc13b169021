package bftledger.node.replica;

import bftledger.ledger.StoreCorruptedException;
import bftledger.pbft.MalformedMessageException;
import bftledger.pbft.PersistCodec;
import bftledger.pbft.PersistRecord;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.zip.CRC32C;
import org.lmdbjava.ByteArrayProxy;
import org.lmdbjava.CursorIterable;
import org.lmdbjava.Dbi;
import org.lmdbjava.Env;
import org.lmdbjava.EnvFlags;
import org.lmdbjava.KeyRange;
import org.lmdbjava.Txn;

/**
 * The consensus write-ahead log: the core's {@link PersistRecord}s in an append-only file of
 * their own (not in the block store, so a WAL flush never waits on a block write and the block
 * store stays a pure ledger). {@link #append} writes all records of one output group as one
 * frame and flushes it ({@code fdatasync}) before returning; the caller sends that group's
 * messages only after it returns, which is the core's persist-before-send contract.
 *
 * <p>Why a file and not LMDB: an LMDB commit flushes the device twice (its data pages, then its
 * meta page) and writes whole pages; the WAL is written twice per block by every replica and
 * never read until a restart, so one sequential write and one flush per append is all it needs.
 *
 * <p>Frame layout (little of it, all of it checked on open): {@code magic u32 | length u32 |
 * crc32c u32 | payload}, the payload {@code count u32} then {@code count} times {@code length u32
 * | record}, each record {@code sequence u64 || the record in pbft's PersistCodec layout} (signed
 * messages as their wire bytes, never re-encoded). Frames start at multiples of 8.
 *
 * <p>A crash can leave only the last frame torn: each frame is flushed before the next is
 * written. So on open a frame that fails its checks is the torn end (cut off; its messages were
 * never sent) if no valid frame follows it, and damage (refused, {@link StoreCorruptedException})
 * if one does.
 *
 * <p>When a checkpoint becomes stable, records about sequences at or below it are dropped (the
 * core says they are no longer needed; view records stay): the live records are written to a
 * new file, flushed, and renamed over the log, whose directory is then flushed.
 */
public final class ConsensusWal implements AutoCloseable {
    // Record kinds, the first byte of the PersistCodec layout.
    private static final byte OWN = 1;
    private static final byte PREPARED = 2;
    private static final byte STABLE = 4;

    static final String LOG_FILE = "consensus.wal";
    private static final int MAGIC = 0xB7F1_0A1E;
    private static final int HEADER_BYTES = 12;
    private static final int ALIGN = 8;

    private final PersistCodec codec;
    private final Path dir;
    private final Path file;
    /** Bound on one frame, so a damaged length is never trusted: the largest append a core can make is far below it. */
    private final long frameBytesMax;
    /** The live records, encoded, in append order: what the file holds and {@link #readAll} returns. */
    private final List<byte[]> live = new ArrayList<>();
    private FileChannel channel;
    private long end;

    private ConsensusWal(PersistCodec codec, Path dir, long frameBytesMax) {
        this.codec = codec;
        this.dir = dir;
        this.file = dir.resolve(LOG_FILE);
        this.frameBytesMax = frameBytesMax;
    }

    /**
     * Opens (or creates) the log in {@code dir}. {@code frameBytesMax} bounds one append (the
     * node passes its store map size, far above any real append). A WAL written by an earlier
     * version (an LMDB environment in the same directory) is carried over into the log first.
     */
    public static ConsensusWal open(Path dir, PersistCodec codec, long frameBytesMax) {
        ConsensusWal wal = new ConsensusWal(codec, dir, Math.min(frameBytesMax, Integer.MAX_VALUE - 64));
        try {
            Files.createDirectories(dir);
            Files.deleteIfExists(dir.resolve(LOG_FILE + ".new")); // a compaction that did not finish
            if (!Files.exists(wal.file) && Files.exists(dir.resolve("data.mdb"))) {
                wal.rewrite(readLmdb(dir));
            }
            Files.deleteIfExists(dir.resolve("data.mdb"));
            Files.deleteIfExists(dir.resolve("lock.mdb"));
            wal.channel = FileChannel.open(wal.file, StandardOpenOption.CREATE, StandardOpenOption.READ,
                    StandardOpenOption.WRITE);
            wal.recover();
        } catch (IOException e) {
            wal.closeQuietly();
            throw new StoreCorruptedException("cannot open the consensus WAL in " + dir + ": " + e.getMessage(), e);
        } catch (RuntimeException e) {
            wal.closeQuietly();
            throw e;
        }
        return wal;
    }

    /** Durably appends {@code batch} (one output group's records), then drops what a new stable checkpoint makes old. */
    public synchronized void append(List<PersistRecord> batch) {
        if (batch.isEmpty()) {
            return;
        }
        long stable = -1;
        List<byte[]> encoded = new ArrayList<>(batch.size());
        for (PersistRecord record : batch) {
            encoded.add(encode(record));
            if (record instanceof PersistRecord.StableCheckpoint sc) {
                stable = Math.max(stable, sc.sequence());
            }
        }
        try {
            ByteBuffer frame = frame(encoded);
            if (frame.remaining() > frameBytesMax) {
                throw new IllegalStateException("a WAL append of " + frame.remaining() + " bytes > " + frameBytesMax);
            }
            writeFully(channel, frame, end);
            channel.force(false);
            end += frame.capacity();
            live.addAll(encoded);
            if (stable > 0) {
                compact(stable);
            }
        } catch (IOException e) {
            // The core cannot go on without a durable log: its caller stops consensus.
            throw new IllegalStateException("consensus WAL " + file + ": " + e.getMessage(), e);
        }
    }

    /** Drops OWN and PREPARED records at or below {@code stable} and older stable checkpoints, keeping the newest record. */
    private void compact(long stable) throws IOException {
        List<byte[]> kept = new ArrayList<>(live.size());
        for (int i = 0; i < live.size(); i++) {
            byte[] v = live.get(i);
            long sequence = ByteBuffer.wrap(v, 0, 8).getLong();
            byte type = v[8];
            boolean old = type == STABLE ? sequence < stable
                    : (type == OWN || type == PREPARED) && sequence > 0 && sequence <= stable;
            if (!old || i == live.size() - 1) {
                kept.add(v);
            }
        }
        if (kept.size() == live.size()) {
            return;
        }
        channel.close();
        rewrite(kept);
        channel = FileChannel.open(file, StandardOpenOption.READ, StandardOpenOption.WRITE);
        recover();
    }

    /** Replaces the log with one holding {@code records}: a new file, flushed, renamed over the old, directory flushed. */
    private void rewrite(List<byte[]> records) throws IOException {
        Path next = dir.resolve(LOG_FILE + ".new");
        try (FileChannel out = FileChannel.open(next, StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING,
                StandardOpenOption.WRITE)) {
            if (!records.isEmpty()) {
                writeFully(out, frame(records), 0);
            }
            out.force(true);
        }
        Files.move(next, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        forceDirectory(dir);
    }

    /**
     * Reads the frames into {@link #live} and sets the end. A frame that fails its checks (or
     * bytes too few for a header) is the torn end of the log if no valid frame follows it: the
     * file is cut there, so the next append starts clean. If one follows, the log is damaged.
     */
    private void recover() throws IOException {
        live.clear();
        long size = channel.size();
        long at = 0;
        while (at < size) {
            List<byte[]> records = null;
            int length = 0;
            if (at + HEADER_BYTES <= size) {
                ByteBuffer header = readFully(at, HEADER_BYTES);
                int magic = header.getInt();
                length = header.getInt();
                records = validFrame(at, magic, length, header.getInt(), size);
            }
            if (records == null) {
                long later = validFrameAfter(at + ALIGN, size);
                if (later >= 0) {
                    throw new StoreCorruptedException("consensus WAL " + file + ": the frame at byte " + at
                            + " is damaged and a valid one follows at byte " + later);
                }
                channel.truncate(at);
                channel.force(true);
                break;
            }
            live.addAll(records);
            at += padded(HEADER_BYTES + (long) length);
        }
        end = at;
    }

    /** The frame's records when the frame at {@code at} is whole and intact, else null. */
    private List<byte[]> validFrame(long at, int magic, int length, int crc, long size) throws IOException {
        if (magic != MAGIC || length < 4 || length > frameBytesMax || at + HEADER_BYTES + length > size) {
            return null;
        }
        ByteBuffer payload = readFully(at + HEADER_BYTES, length);
        CRC32C check = new CRC32C();
        check.update(payload.duplicate());
        if ((int) check.getValue() != crc) {
            return null;
        }
        int count = payload.getInt();
        List<byte[]> records = new ArrayList<>(Math.min(count, 1024));
        for (int i = 0; i < count; i++) {
            if (payload.remaining() < 4) {
                return null;
            }
            int recordLength = payload.getInt();
            if (recordLength < 9 || recordLength > payload.remaining()) {
                return null;
            }
            byte[] record = new byte[recordLength];
            payload.get(record);
            records.add(record);
        }
        return payload.hasRemaining() ? null : records;
    }

    /** Offset of the first valid frame at or after {@code from} (frames start at multiples of 8), or -1. */
    private long validFrameAfter(long from, long size) throws IOException {
        for (long at = from; at + HEADER_BYTES <= size; at += ALIGN) {
            ByteBuffer header = readFully(at, HEADER_BYTES);
            int magic = header.getInt();
            if (magic != MAGIC) {
                continue;
            }
            if (validFrame(at, magic, header.getInt(), header.getInt(), size) != null) {
                return at;
            }
        }
        return -1;
    }

    private static ByteBuffer frame(List<byte[]> records) {
        int payload = 4;
        for (byte[] r : records) {
            payload += 4 + r.length;
        }
        ByteBuffer frame = ByteBuffer.allocate((int) padded(HEADER_BYTES + (long) payload));
        frame.putInt(MAGIC).putInt(payload).putInt(0).putInt(records.size());
        for (byte[] r : records) {
            frame.putInt(r.length).put(r);
        }
        CRC32C crc = new CRC32C();
        crc.update(frame.array(), HEADER_BYTES, payload);
        frame.putInt(8, (int) crc.getValue());
        frame.position(0).limit(frame.capacity());
        return frame;
    }

    private static long padded(long bytes) {
        return (bytes + ALIGN - 1) / ALIGN * ALIGN;
    }

    private ByteBuffer readFully(long at, int length) throws IOException {
        ByteBuffer buffer = ByteBuffer.allocate(length);
        while (buffer.hasRemaining()) {
            if (channel.read(buffer, at + buffer.position()) < 0) {
                throw new IOException("unexpected end of " + file + " at byte " + (at + buffer.position()));
            }
        }
        return buffer.flip();
    }

    private static void writeFully(FileChannel out, ByteBuffer buffer, long at) throws IOException {
        long position = at;
        while (buffer.hasRemaining()) {
            position += out.write(buffer, position);
        }
    }

    private static void forceDirectory(Path dir) throws IOException {
        // A rename is durable once its directory is flushed; on Linux a directory opens for reading and forces.
        try (FileChannel d = FileChannel.open(dir, StandardOpenOption.READ)) {
            d.force(true);
        }
    }

    /** The records of a WAL written by an earlier version (one LMDB environment), in their append order. */
    private static List<byte[]> readLmdb(Path dir) {
        List<byte[]> records = new ArrayList<>();
        try (Env<byte[]> env = Env.create(ByteArrayProxy.PROXY_BA).setMaxDbs(1).setMaxReaders(4)
                .setMapSize(Math.max(Files.size(dir.resolve("data.mdb")), 1L << 20))
                .open(dir.toFile(), EnvFlags.MDB_NOTLS)) {
            Dbi<byte[]> dbi = env.openDbi("wal");
            try (Txn<byte[]> txn = env.txnRead(); CursorIterable<byte[]> it = dbi.iterate(txn, KeyRange.all())) {
                for (CursorIterable.KeyVal<byte[]> kv : it) {
                    records.add(kv.val().clone());
                }
            }
        } catch (IOException | RuntimeException e) {
            throw new StoreCorruptedException("consensus WAL " + dir + ": the earlier version's log cannot be read ("
                    + e.getMessage() + ")", e);
        }
        return records;
    }

    /** Every record in append order, for {@code Replica.restore}. A record that does not decode is corruption. */
    public synchronized List<PersistRecord> readAll() {
        List<PersistRecord> out = new ArrayList<>(live.size());
        for (int i = 0; i < live.size(); i++) {
            try {
                out.add(decode(live.get(i)));
            } catch (MalformedMessageException | RuntimeException e) {
                throw new StoreCorruptedException("consensus WAL " + file + ": record " + i
                        + " does not decode (" + e.getMessage() + ")", e);
            }
        }
        return out;
    }

    public synchronized long size() {
        return live.size();
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
        return codec.decode(Arrays.copyOfRange(value, 8, value.length));
    }

    private void closeQuietly() {
        try {
            if (channel != null) {
                channel.close();
            }
        } catch (IOException ignored) {
            // Nothing more to release.
        }
    }

    @Override
    public synchronized void close() {
        closeQuietly();
    }
}
