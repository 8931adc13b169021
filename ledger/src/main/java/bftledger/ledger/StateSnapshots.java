package bftledger.ledger;

import bftledger.crypto.Digest;
import bftledger.crypto.SparseMerkleTree;
import bftledger.ledger.proto.AccountEntry;
import bftledger.ledger.proto.RecordEntry;
import bftledger.ledger.proto.StateBucket;
import bftledger.ledger.proto.StateEntry;
import bftledger.ledger.proto.StateSnapshotManifest;
import com.google.protobuf.ByteString;
import com.google.protobuf.InvalidProtocolBufferException;
import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.stream.Stream;

/**
 * A node's state snapshots, one directory per height under {@code dir}: the manifest
 * ({@value #MANIFEST_FILE}) and one file per bucket holding its {@link StateEntry}s in tree-key
 * order, each written length-delimited, exactly the bytes a bucket's size_bytes counts.
 *
 * <p>A snapshot is written into a {@value #TMP_PREFIX} directory, synced, and renamed into place,
 * so a snapshot directory is always whole; leftovers of a crash are deleted when this opens.
 * Only the newest {@code keep} snapshots stay. Deleting renames a snapshot away first: a reader
 * that opened a file keeps reading it, a later one finds no snapshot.
 *
 * <p>Threads: {@link #take} runs one at a time (a background thread); {@link #chunk},
 * {@link #manifest} and {@link #heights} run on any threads, concurrently with it.
 *
 * <p>Memory: {@link #take} streams the state into per-bucket files and then holds one bucket at a
 * time (its entries and their tree keys) to sort it; {@link #chunk} holds at most
 * {@link #MAX_CHUNK_BYTES} (or one entry).
 */
public final class StateSnapshots {
    /** Most bytes of entries one {@link #chunk} returns, whatever it is asked for. */
    public static final int MAX_CHUNK_BYTES = 4 * 1024 * 1024;
    /** Bound on one length-delimited entry: a record at its largest (key, value, owner, writer) is under 4.5 KiB. */
    static final int MAX_ENTRY_BYTES = 8 * 1024;
    static final String MANIFEST_FILE = "manifest.pb";
    static final String TMP_PREFIX = "tmp-";
    static final String DELETING_PREFIX = "del-";
    private static final String UNSORTED_PREFIX = "unsorted-";
    private static final int SPILL_BUFFER_BYTES = 16 * 1024;

    private static final org.slf4j.Logger log = org.slf4j.LoggerFactory.getLogger(StateSnapshots.class);

    private final Path dir;
    private final int keep;
    private final Object taking = new Object();

    public record Chunk(List<StateEntry> entries, long nextOffset, boolean last) {}

    /** Opens (creating) the snapshot directory and deletes what a crash left half written or half deleted. */
    public StateSnapshots(Path dir, int keep) {
        if (keep < 1) {
            throw new IllegalArgumentException("keep must be at least 1, got " + keep);
        }
        this.dir = dir;
        this.keep = keep;
        try {
            Files.createDirectories(dir);
            try (Stream<Path> entries = Files.list(dir)) {
                for (Path p : entries.toList()) {
                    String name = p.getFileName().toString();
                    if (name.startsWith(TMP_PREFIX) || name.startsWith(DELETING_PREFIX)) {
                        log.info("event=snapshot-leftover-deleted path={}", p);
                        DurableFiles.deleteTree(p);
                    }
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot open the snapshot directory " + dir, e);
        }
    }

    /**
     * Writes the snapshot of {@code view}'s state at its height (or returns the manifest already
     * there), then deletes all but the newest {@code keep}. Does not close {@code view}; it holds
     * the view's read transaction for the whole pass over the state.
     *
     * @throws StoreCorruptedException when the view's accounts and records do not make its state root
     */
    public StateSnapshotManifest take(StoreSnapshot view) throws IOException {
        synchronized (taking) {
            long height = view.height();
            Optional<StateSnapshotManifest> existing = manifest(height);
            if (existing.isPresent()) {
                return existing.get();
            }
            Path tmp = dir.resolve(TMP_PREFIX + height + "-" + System.nanoTime());
            Files.createDirectory(tmp);
            StateSnapshotManifest manifest;
            try {
                spill(view, tmp);
                List<StateBucket> buckets = new ArrayList<>(StateBuckets.BUCKETS);
                for (int b = 0; b < StateBuckets.BUCKETS; b++) {
                    buckets.add(sortBucket(tmp, b));
                }
                Digest root = StateBuckets.root(buckets);
                if (!root.equals(view.stateRoot())) {
                    throw new StoreCorruptedException("the stored accounts and records at height " + height
                            + " hash to state root " + root.hex() + ", the tip's is " + view.stateRoot().hex());
                }
                manifest = StateSnapshotManifest.newBuilder().setHeight(height)
                        .setBlockHash(ByteString.copyFrom(view.tipHash().bytes()))
                        .setStateRoot(ByteString.copyFrom(root.bytes())).addAllBuckets(buckets).build();
                writeSynced(tmp.resolve(MANIFEST_FILE), manifest.toByteArray());
                DurableFiles.syncDirectory(tmp);
                Files.move(tmp, dir.resolve(name(height)), StandardCopyOption.ATOMIC_MOVE);
                DurableFiles.syncDirectory(dir);
            } catch (IOException | RuntimeException e) {
                try {
                    DurableFiles.deleteTree(tmp);
                } catch (IOException suppressed) {
                    e.addSuppressed(suppressed);
                }
                throw e;
            }
            log.info("event=snapshot-taken height={} entries={} bytes={}", height,
                    manifest.getBucketsList().stream().mapToLong(StateBucket::getEntries).sum(),
                    manifest.getBucketsList().stream().mapToLong(StateBucket::getSizeBytes).sum());
            deleteBeyondKeep();
            return manifest;
        }
    }

    /** Heights of the snapshots held, newest first. */
    public List<Long> heights() {
        List<Long> out = new ArrayList<>();
        try (Stream<Path> entries = Files.list(dir)) {
            entries.forEach(p -> parseName(p.getFileName().toString()).ifPresent(out::add));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot list the snapshot directory " + dir, e);
        }
        out.sort(Comparator.reverseOrder());
        return out;
    }

    /** The manifest of the snapshot at {@code height}, if it is held. */
    public Optional<StateSnapshotManifest> manifest(long height) {
        try {
            return Optional.of(StateSnapshotManifest.parseFrom(Files.readAllBytes(dir.resolve(name(height)).resolve(MANIFEST_FILE))));
        } catch (NoSuchFileException e) {
            return Optional.empty();
        } catch (IOException e) {
            // Whole when renamed into place: anything else is a damaged disk, and no snapshot to serve.
            log.warn("event=snapshot-manifest-unreadable height={} error=\"{}\"", height, e.toString());
            return Optional.empty();
        }
    }

    /**
     * The entries of bucket {@code bucket} of the snapshot at {@code height} from byte
     * {@code byteOffset} of its file: as many whole entries as fit in {@code maxBytes} (capped at
     * {@link #MAX_CHUNK_BYTES}), at least one if any remain. Empty when no such snapshot is held.
     *
     * @throws IllegalArgumentException for a bucket out of range, a non-positive {@code maxBytes},
     *                                  or an offset past the bucket's end or not at an entry's start
     */
    public Optional<Chunk> chunk(long height, int bucket, long byteOffset, int maxBytes) throws IOException {
        if (bucket < 0 || bucket >= StateBuckets.BUCKETS) {
            throw new IllegalArgumentException("bucket " + bucket + " outside 0.." + (StateBuckets.BUCKETS - 1));
        }
        if (maxBytes <= 0) {
            throw new IllegalArgumentException("maxBytes must be positive, got " + maxBytes);
        }
        FileChannel channel;
        try {
            channel = FileChannel.open(dir.resolve(name(height)).resolve(bucketFile(bucket)), StandardOpenOption.READ);
        } catch (NoSuchFileException e) {
            return Optional.empty();
        }
        try (channel) {
            long size = channel.size();
            if (byteOffset < 0 || byteOffset > size) {
                throw new IllegalArgumentException("offset " + byteOffset + " is outside bucket " + bucket + " of "
                        + size + " bytes");
            }
            int budget = Math.min(maxBytes, MAX_CHUNK_BYTES);
            byte[] bytes = new byte[(int) Math.min(size - byteOffset, Math.max(budget, MAX_ENTRY_BYTES))];
            readFully(channel, byteOffset, bytes);
            List<StateEntry> entries = new ArrayList<>();
            int used = 0;
            while (used < bytes.length) {
                int[] lengthBytes = new int[1];
                long length = varint(bytes, used, lengthBytes);
                long entryEnd = used + lengthBytes[0] + length;
                if (length < 0 || length > MAX_ENTRY_BYTES || entryEnd > bytes.length) {
                    if (entries.isEmpty()) {
                        throw notAnEntry(bucket, byteOffset + used);
                    }
                    break;
                }
                if (entryEnd > budget && !entries.isEmpty()) {
                    break;
                }
                StateEntry entry;
                try {
                    entry = StateEntry.parseFrom(ByteBuffer.wrap(bytes, used + lengthBytes[0], (int) length));
                } catch (InvalidProtocolBufferException e) {
                    throw notAnEntry(bucket, byteOffset + used);
                }
                // Bytes from inside an entry may still parse: only what this class writes is an entry.
                if (entry.getEntryCase() == StateEntry.EntryCase.ENTRY_NOT_SET || Blocks.hasUnknownFields(entry)
                        || entry.getSerializedSize() != length) {
                    throw notAnEntry(bucket, byteOffset + used);
                }
                entries.add(entry);
                used = (int) entryEnd;
            }
            long next = byteOffset + used;
            return Optional.of(new Chunk(List.copyOf(entries), next, next == size));
        }
    }

    private static IllegalArgumentException notAnEntry(int bucket, long offset) {
        return new IllegalArgumentException("offset " + offset + " of bucket " + bucket + " is not at an entry's start");
    }

    /** The base-128 varint at {@code at} (its byte count into {@code length[0]}), or -1 when it does not end within 5 bytes. */
    private static long varint(byte[] bytes, int at, int[] length) {
        long value = 0;
        for (int i = 0; i < 5 && at + i < bytes.length; i++) {
            int b = bytes[at + i] & 0xff;
            value |= (long) (b & 0x7f) << (7 * i);
            if ((b & 0x80) == 0) {
                length[0] = i + 1;
                return value;
            }
        }
        length[0] = 0;
        return -1;
    }

    // ------------------------------------------------------------------------------ writing

    /** One pass over the state: each entry, after its tree key and value hash, appended to its bucket's unsorted file. */
    private static void spill(StoreSnapshot view, Path tmp) throws IOException {
        OutputStream[] out = new OutputStream[StateBuckets.BUCKETS];
        try {
            for (int b = 0; b < out.length; b++) {
                out[b] = new BufferedOutputStream(Files.newOutputStream(tmp.resolve(UNSORTED_PREFIX + b)), SPILL_BUFFER_BYTES);
            }
            view.forEachAccount((account, balance) -> {
                if (balance < 0) {
                    throw new StoreCorruptedException("account " + ChainGenesis.hex(account) + " has a balance that is not 8 bytes");
                }
                spillEntry(out, StateEntry.newBuilder()
                        .setAccount(AccountEntry.newBuilder().setPublicKey(account).setBalance(balance)).build());
            });
            view.forEachRecord((key, value) -> spillEntry(out, StateEntry.newBuilder().setRecord(RecordEntry.newBuilder()
                    .setOwner(key.owner()).setKey(key.key()).setWriterTxId(ByteString.copyFrom(value.writer().bytes()))
                    .setValue(value.value())).build()));
        } catch (UncheckedIOException e) {
            throw e.getCause();
        } finally {
            for (OutputStream o : out) {
                if (o != null) {
                    o.close();
                }
            }
        }
    }

    private static void spillEntry(OutputStream[] out, StateEntry entry) {
        SparseMerkleTree.Change leaf;
        try {
            leaf = StateBuckets.leafOf(entry);
        } catch (IllegalArgumentException e) {
            throw new StoreCorruptedException("a stored state entry is not one the state can hold: " + e.getMessage(), e);
        }
        try {
            OutputStream o = out[StateBuckets.bucketOf(leaf.key())];
            o.write(leaf.key().bytes());
            o.write(leaf.valueHash().bytes());
            entry.writeDelimitedTo(o);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** An entry of an unsorted bucket file: its leaf and where its length-delimited bytes are. */
    private record Spilled(SparseMerkleTree.Change leaf, int offset, int length) {}

    /** Sorts bucket {@code b}'s unsorted file (held in memory, one bucket) into its bucket file; returns its summary. */
    private static StateBucket sortBucket(Path tmp, int b) throws IOException {
        Path unsorted = tmp.resolve(UNSORTED_PREFIX + b);
        byte[] bytes = Files.readAllBytes(unsorted);
        List<Spilled> spilled = new ArrayList<>();
        int at = 0;
        while (at < bytes.length) {
            Digest key = Digest.of(Arrays.copyOfRange(bytes, at, at + Digest.LENGTH));
            Digest value = Digest.of(Arrays.copyOfRange(bytes, at + Digest.LENGTH, at + 2 * Digest.LENGTH));
            at += 2 * Digest.LENGTH;
            int[] lengthBytes = new int[1];
            long length = varint(bytes, at, lengthBytes);
            int delimited = lengthBytes[0] + (int) length;
            spilled.add(new Spilled(new SparseMerkleTree.Change(key, value), at, delimited));
            at += delimited;
        }
        spilled.sort(Comparator.comparing(s -> s.leaf().key()));
        List<SparseMerkleTree.Change> leaves = new ArrayList<>(spilled.size());
        long size = 0;
        Path sorted = tmp.resolve(bucketFile(b));
        try (FileChannel ch = FileChannel.open(sorted, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
                OutputStream o = new BufferedOutputStream(java.nio.channels.Channels.newOutputStream(ch), SPILL_BUFFER_BYTES)) {
            for (Spilled s : spilled) {
                o.write(bytes, s.offset(), s.length());
                leaves.add(s.leaf());
                size += s.length();
            }
            o.flush();
            ch.force(true);
        }
        Files.delete(unsorted);
        return StateBuckets.summary(leaves.size(), StateBuckets.subtree(leaves), size);
    }

    private static void writeSynced(Path file, byte[] bytes) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
            ByteBuffer buf = ByteBuffer.wrap(bytes);
            while (buf.hasRemaining()) {
                ch.write(buf);
            }
            ch.force(true);
        }
    }

    private static void readFully(FileChannel ch, long position, byte[] into) throws IOException {
        ByteBuffer buf = ByteBuffer.wrap(into);
        while (buf.hasRemaining()) {
            int n = ch.read(buf, position + buf.position());
            if (n < 0) {
                throw new IOException("bucket file ended early");
            }
        }
    }

    // ------------------------------------------------------------------------------ deleting

    private void deleteBeyondKeep() {
        List<Long> held = heights();
        for (Long h : held.subList(Math.min(keep, held.size()), held.size())) {
            Path gone = dir.resolve(DELETING_PREFIX + h + "-" + System.nanoTime());
            try {
                Files.move(dir.resolve(name(h)), gone, StandardCopyOption.ATOMIC_MOVE);
                DurableFiles.deleteTree(gone);
                log.info("event=snapshot-deleted height={}", h);
            } catch (IOException e) {
                log.warn("event=snapshot-delete-failed height={} error=\"{}\"", h, e.toString());
            }
        }
    }

    // ------------------------------------------------------------------------------ names

    private static final int NAME_DIGITS = 20;

    /** Zero-padded so that names sort as heights do. */
    static String name(long height) {
        return String.format("%0" + NAME_DIGITS + "d", height);
    }

    private static Optional<Long> parseName(String name) {
        if (name.length() != NAME_DIGITS || !name.chars().allMatch(c -> c >= '0' && c <= '9')) {
            return Optional.empty();
        }
        try {
            return Optional.of(Long.parseLong(name));
        } catch (NumberFormatException e) {
            return Optional.empty();
        }
    }

    static String bucketFile(int bucket) {
        return String.format("bucket-%03d", bucket);
    }
}
