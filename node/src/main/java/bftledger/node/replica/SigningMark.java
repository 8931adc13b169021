package bftledger.node.replica;

import bftledger.ledger.StoreCorruptedException;
import bftledger.pbft.PersistRecord;
import bftledger.pbft.SigningFloor;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Optional;
import java.util.zip.CRC32C;

/**
 * The replica's signing high-water mark, in a file of its own outside the data directory (beside
 * the node's key by default), as CometBFT keeps priv_validator_state apart: restoring the data
 * directory from an old backup does not restore an old mark with it. It holds
 * <ul>
 *   <li>the {@link SigningCeiling}: a bound on every view and sequence this replica signed a
 *       PRE-PREPARE, PREPARE, COMMIT, VIEW-CHANGE or NEW-VIEW for, made durable before any message
 *       it covers is sent, and raised ahead of need (so it costs an fsync once per watermark
 *       window and per view, not per step);</li>
 *   <li>the identity of the consensus WAL this replica writes and the WAL's position (append
 *       counter) as last seen after an append, written at every append without fsync: it
 *       survives a crash of the process and a clean stop; a machine crash may lose the latest
 *       positions, which only makes the mark older than the (synced) WAL, never newer;</li>
 *   <li>the {@link SigningFloor} the replica runs under after it lost its WAL.</li>
 * </ul>
 * At start (see {@link SigningRecovery}) a WAL that is not the one the mark names, or is behind
 * the position it records, was lost, emptied, replaced or restored from an older copy: the node
 * no longer knows everything it signed and must not vote as if it did.
 *
 * <p>Written through {@link RandomAccessFile}, not an NIO channel: an interrupt of the writing
 * thread (the core loop is interrupted when the node stops) closes a channel mid-write, and the
 * last position would be lost (ChaosStorageFaultTest). File: two 512-byte slots, written alternately, each magic "BFTLMARK" | version u32 | counter
 * u64 | WAL identity [16] | WAL position u64 | ceiling view i64 | ceiling sequence u64 | floor
 * view i64 | floor sequence u64 | CRC32C of the preceding bytes u32, big-endian. The valid slot
 * with the higher counter is current, so a torn write leaves the previous state.
 */
public final class SigningMark implements AutoCloseable {
    /** The file's name when it sits beside the key (the default). */
    public static final String FILE_NAME = "signing-mark";
    private static final byte[] MAGIC = "BFTLMARK".getBytes(StandardCharsets.US_ASCII);
    private static final int VERSION = 1;
    private static final int SLOT_BYTES = 512;
    private static final int RECORD_BYTES = 8 + 4 + 8 + ConsensusWal.IDENTITY_BYTES + 8 * 5;

    /** What the mark says. */
    public record State(byte[] walIdentity, long walPosition, SigningCeiling ceiling, SigningFloor floor) {
        public State {
            if (walIdentity.length != ConsensusWal.IDENTITY_BYTES || walPosition < 0) {
                throw new IllegalArgumentException("bad signing mark state");
            }
            walIdentity = walIdentity.clone();
        }

        @Override
        public byte[] walIdentity() {
            return walIdentity.clone();
        }

        public String walIdentityHex() {
            return HexFormat.of().formatHex(walIdentity);
        }

        boolean sameWal(byte[] identity) {
            return Arrays.equals(walIdentity, identity);
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof State s && Arrays.equals(walIdentity, s.walIdentity) && walPosition == s.walPosition
                    && ceiling.equals(s.ceiling) && floor.equals(s.floor);
        }

        @Override
        public int hashCode() {
            return Arrays.hashCode(walIdentity) * 31 + Long.hashCode(walPosition);
        }

        @Override
        public String toString() {
            return "wal " + walIdentityHex() + " at " + walPosition + ", ceiling (view " + ceiling.view() + ", sequence "
                    + ceiling.sequence() + "), floor (view " + floor.view() + ", sequence " + floor.sequence() + ")";
        }
    }

    private final Path path;
    private final RandomAccessFile file;
    private State state;
    private long counter;

    private SigningMark(Path path, RandomAccessFile file, State state, long counter) {
        this.path = path;
        this.file = file;
        this.state = state;
        this.counter = counter;
    }

    /**
     * The mark at {@code file}, or empty when there is none.
     *
     * @throws StoreCorruptedException when the file exists but holds no valid slot
     */
    public static Optional<SigningMark> open(Path file) {
        if (!Files.exists(file)) {
            return Optional.empty();
        }
        RandomAccessFile raf;
        try {
            raf = new RandomAccessFile(file.toFile(), "rw");
        } catch (IOException e) {
            throw new StoreCorruptedException("cannot open the signing mark " + file + ": " + e.getMessage(), e);
        }
        try {
            byte[] all = new byte[2 * SLOT_BYTES];
            int length = (int) Math.min(all.length, raf.length());
            raf.readFully(all, 0, length);
            Slot best = null;
            for (int s = 0; s < 2; s++) {
                Slot slot = parse(all, length, s * SLOT_BYTES);
                if (slot != null && (best == null || slot.counter > best.counter)) {
                    best = slot;
                }
            }
            if (best == null) {
                throw new StoreCorruptedException("the signing mark " + file + " is damaged: neither of its two slots is"
                        + " valid (" + length + " bytes)");
            }
            return Optional.of(new SigningMark(file, raf, best.state, best.counter));
        } catch (IOException | RuntimeException e) {
            closeQuietly(raf);
            if (e instanceof StoreCorruptedException sce) {
                throw sce;
            }
            throw new StoreCorruptedException("cannot read the signing mark " + file + ": " + e.getMessage(), e);
        }
    }

    /** Creates the mark at {@code file} (which must not exist) holding {@code initial}, durably. */
    public static SigningMark create(Path file, State initial) {
        Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
        try {
            if (Files.exists(file)) {
                throw new FileAlreadyExistsException(file.toString());
            }
            // Counter c lives in slot c % 2; both slots start with the initial state.
            ByteBuffer both = ByteBuffer.allocate(2 * SLOT_BYTES).put(encode(initial, 0)).put(encode(initial, 1));
            try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                    StandardOpenOption.TRUNCATE_EXISTING)) {
                both.flip();
                while (both.hasRemaining()) {
                    ch.write(both);
                }
                ch.force(true);
            }
            Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE);
            syncDirectory(file.toAbsolutePath().getParent());
            return new SigningMark(file, new RandomAccessFile(file.toFile(), "rw"), initial, 1);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create the signing mark " + file + ": " + e.getMessage(), e);
        }
    }

    public Path file() {
        return path;
    }

    public synchronized State state() {
        return state;
    }

    /**
     * After a WAL append of {@code records}, before any message of theirs is sent: the ceiling
     * raised (durably) when they signed beyond it, and the WAL position recorded.
     *
     * @param sequenceMargin how far ahead of the highest signed sequence a raised ceiling goes
     * @throws UncheckedIOException when the mark could not be written; nothing may be sent then
     */
    public synchronized void afterAppend(List<PersistRecord> records, long walPosition, long sequenceMargin) {
        SigningCeiling ceiling = state.ceiling().cover(records, sequenceMargin);
        boolean raised = !ceiling.equals(state.ceiling());
        if (!raised && walPosition == state.walPosition()) {
            return;
        }
        write(new State(state.walIdentity(), walPosition, ceiling, state.floor()), raised);
    }

    /** Replaces the state; {@code durable}: synced to disk before this returns. */
    public synchronized void write(State next, boolean durable) {
        long nextCounter = counter + 1;
        try {
            file.seek((nextCounter % 2) * SLOT_BYTES);
            file.write(encode(next, nextCounter));
            if (durable) {
                file.getFD().sync();
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write the signing mark " + path + ": " + e.getMessage(), e);
        }
        counter = nextCounter;
        state = next;
    }

    /** Syncs the latest state and closes the file. */
    @Override
    public synchronized void close() {
        try {
            file.getFD().sync();
        } catch (IOException e) {
            // The last positions may be lost: the mark is then older than the WAL, which start accepts.
        } finally {
            closeQuietly(file);
        }
    }

    private record Slot(State state, long counter) {}

    private static Slot parse(byte[] bytes, int length, int at) {
        if (length < at + RECORD_BYTES + 4) {
            return null;
        }
        ByteBuffer b = ByteBuffer.wrap(bytes, at, RECORD_BYTES + 4);
        byte[] magic = new byte[MAGIC.length];
        b.get(magic);
        CRC32C crc = new CRC32C();
        crc.update(bytes, at, RECORD_BYTES);
        if (!Arrays.equals(magic, MAGIC) || b.getInt() != VERSION
                || ByteBuffer.wrap(bytes, at + RECORD_BYTES, 4).getInt() != (int) crc.getValue()) {
            return null;
        }
        long counter = b.getLong();
        byte[] identity = new byte[ConsensusWal.IDENTITY_BYTES];
        b.get(identity);
        try {
            return new Slot(new State(identity, b.getLong(), new SigningCeiling(b.getLong(), b.getLong()),
                    new SigningFloor(b.getLong(), b.getLong())), counter);
        } catch (IllegalArgumentException e) {
            return null;
        }
    }

    private static byte[] encode(State s, long counter) {
        ByteBuffer b = ByteBuffer.allocate(SLOT_BYTES);
        b.put(MAGIC).putInt(VERSION).putLong(counter).put(s.walIdentity()).putLong(s.walPosition())
                .putLong(s.ceiling().view()).putLong(s.ceiling().sequence()).putLong(s.floor().view())
                .putLong(s.floor().sequence());
        CRC32C crc = new CRC32C();
        crc.update(b.array(), 0, RECORD_BYTES);
        b.putInt((int) crc.getValue());
        return b.array();
    }

    private static void syncDirectory(Path dir) throws IOException {
        try (FileChannel d = FileChannel.open(dir, StandardOpenOption.READ)) {
            d.force(true);
        }
    }

    private static void closeQuietly(java.io.Closeable c) {
        try {
            c.close();
        } catch (IOException ignored) {
            // nothing left to release
        }
    }
}
