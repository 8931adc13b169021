package bftledger.ledger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import bftledger.ledger.proto.StateBucket;
import bftledger.ledger.proto.StateEntry;
import bftledger.ledger.proto.StateSnapshotManifest;
import com.google.protobuf.ByteString;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.TreeMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class StateSnapshotsTest {
    private final TestLedger net = TestLedger.standard();

    /** Appends blocks of a transfer and a record put each, up to {@code height}. */
    private void fillTo(BlockStore store, long height) {
        for (long h = store.height() + 1; h <= height; h++) {
            int from = (int) (h % 8);
            net.append(store, 1000L * h, List.of(net.transfer(from, (from + 3) % 8, h, h), net.put(from, "key" + h, "value " + h, h)));
        }
    }

    @Test
    void aSnapshotHoldsTheStateAtItsHeightAndItsChunksReassembleTheBuckets(@TempDir Path storeDir, @TempDir Path snapDir)
            throws Exception {
        try (BlockStore store = BlockStore.open(storeDir, net.genesis)) {
            fillTo(store, 40);
            StateSnapshots snapshots = new StateSnapshots(snapDir, 3);
            StateSnapshotManifest manifest;
            try (StoreSnapshot view = store.snapshot()) {
                manifest = snapshots.take(view);
                assertEquals(manifest, snapshots.take(view), "a height already taken is returned as it is");
            }
            BlockStore.Tip tip = store.tip();
            assertEquals(40, manifest.getHeight());
            assertEquals(ByteString.copyFrom(tip.hash().bytes()), manifest.getBlockHash());
            assertEquals(ByteString.copyFrom(tip.stateRoot().bytes()), manifest.getStateRoot());
            assertEquals(StateBuckets.BUCKETS, manifest.getBucketsCount());
            assertEquals(tip.stateRoot(), StateBuckets.root(manifest.getBucketsList()));
            assertEquals(List.of(40L), snapshots.heights());
            assertEquals(Optional.of(manifest), snapshots.manifest(40));

            TreeMap<ByteString, Long> accounts = new TreeMap<>(ByteString.unsignedLexicographicalComparator());
            TreeMap<RecordKey, RecordValue> records = new TreeMap<>();
            for (int b = 0; b < StateBuckets.BUCKETS; b++) {
                // Small chunks: most hold one or two entries, so offsets are crossed often.
                List<StateEntry> entries = readBucket(snapshots, 40, b, 120);
                assertEquals(manifest.getBuckets(b), StateBuckets.summarize(entries), "bucket " + b);
                assertEquals(entries, snapshots.chunk(40, b, 0, StateSnapshots.MAX_CHUNK_BYTES).orElseThrow().entries(),
                        "one large chunk holds the whole bucket " + b);
                for (StateEntry e : entries) {
                    if (e.hasAccount()) {
                        accounts.put(e.getAccount().getPublicKey(), e.getAccount().getBalance());
                    } else {
                        records.put(new RecordKey(e.getRecord().getOwner(), e.getRecord().getKey()),
                                new RecordValue(bftledger.crypto.Digest.of(e.getRecord().getWriterTxId().toByteArray()),
                                        e.getRecord().getValue()));
                    }
                }
            }
            try (StoreSnapshot view = store.snapshot()) {
                TreeMap<ByteString, Long> storedAccounts = new TreeMap<>(ByteString.unsignedLexicographicalComparator());
                view.forEachAccount(storedAccounts::put);
                TreeMap<RecordKey, RecordValue> storedRecords = new TreeMap<>();
                view.forEachRecord(storedRecords::put);
                assertEquals(storedAccounts, accounts);
                assertEquals(storedRecords, records);
                assertEquals(40, records.size());
            }
        }
    }

    @Test
    void chunkRequestsOutsideASnapshotAreRefusedOrEmpty(@TempDir Path storeDir, @TempDir Path snapDir) throws Exception {
        try (BlockStore store = BlockStore.open(storeDir, net.genesis)) {
            fillTo(store, 30);
            StateSnapshots snapshots = new StateSnapshots(snapDir, 1);
            StateSnapshotManifest manifest;
            try (StoreSnapshot view = store.snapshot()) {
                manifest = snapshots.take(view);
            }
            int full = fullestBucket(manifest);
            long size = manifest.getBuckets(full).getSizeBytes();
            assertTrue(manifest.getBuckets(full).getEntries() >= 2);
            assertTrue(snapshots.chunk(29, full, 0, 100).isEmpty(), "no snapshot at that height");
            assertThrows(IllegalArgumentException.class, () -> snapshots.chunk(30, 256, 0, 100));
            assertThrows(IllegalArgumentException.class, () -> snapshots.chunk(30, -1, 0, 100));
            assertThrows(IllegalArgumentException.class, () -> snapshots.chunk(30, full, size + 1, 100));
            assertThrows(IllegalArgumentException.class, () -> snapshots.chunk(30, full, 0, 0));
            assertThrows(IllegalArgumentException.class, () -> snapshots.chunk(30, full, 1, 100), "inside an entry");
            StateSnapshots.Chunk end = snapshots.chunk(30, full, size, 100).orElseThrow();
            assertEquals(new StateSnapshots.Chunk(List.of(), size, true), end);
            StateSnapshots.Chunk one = snapshots.chunk(30, full, 0, 1).orElseThrow();
            assertEquals(1, one.entries().size(), "at least one entry, whatever the budget");
            assertFalse(one.last());
        }
    }

    @Test
    void onlyTheNewestSnapshotsAreKeptAndLeftoversOfACrashAreDeleted(@TempDir Path storeDir, @TempDir Path snapDir)
            throws Exception {
        Files.createDirectories(snapDir.resolve("tmp-5-123"));
        Files.write(snapDir.resolve("tmp-5-123").resolve("unsorted-3"), new byte[] {1, 2, 3});
        Files.createDirectories(snapDir.resolve("del-2-9"));
        try (BlockStore store = BlockStore.open(storeDir, net.genesis)) {
            StateSnapshots snapshots = new StateSnapshots(snapDir, 2);
            assertFalse(Files.exists(snapDir.resolve("tmp-5-123")), "a half-written snapshot is deleted at open");
            assertFalse(Files.exists(snapDir.resolve("del-2-9")), "a half-deleted snapshot too");
            for (long h : new long[] {4, 8, 12}) {
                fillTo(store, h);
                try (StoreSnapshot view = store.snapshot()) {
                    snapshots.take(view);
                }
            }
            assertEquals(List.of(12L, 8L), snapshots.heights());
            assertTrue(snapshots.manifest(4).isEmpty());
            assertTrue(snapshots.chunk(4, 0, 0, 100).isEmpty());
            try (var left = Files.list(snapDir)) {
                assertEquals(2, left.count(), "nothing but the kept snapshots");
            }
            assertTrue(new StateSnapshots(snapDir, 2).manifest(12).isPresent(), "kept across a reopen");
        }
    }

    @Test
    void snapshotHeightsHandOverViewsAtThoseHeights(@TempDir Path storeDir, @TempDir Path snapDir) throws Exception {
        StateSnapshots snapshots = new StateSnapshots(snapDir, 5);
        ExecutorService background = Executors.newSingleThreadExecutor();
        List<Future<StateSnapshotManifest>> taken = new ArrayList<>();
        try (BlockStore store = BlockStore.open(storeDir, net.genesis)) {
            store.onSnapshotHeight(5, view -> taken.add(background.submit(() -> {
                try (view) {
                    return snapshots.take(view);
                }
            })));
            fillTo(store, 12);
            List<BlockStore.Tip> tips = new ArrayList<>();
            assertEquals(2, taken.size());
            for (Future<StateSnapshotManifest> f : taken) {
                StateSnapshotManifest m = f.get(60, TimeUnit.SECONDS);
                BlockStore.Tip at = new BlockStore.Tip(m.getHeight(),
                        bftledger.crypto.Digest.of(m.getBlockHash().toByteArray()), StateBuckets.root(m.getBucketsList()));
                tips.add(at);
                assertEquals(store.blockHash(m.getHeight()).orElseThrow(), at.hash());
                assertEquals(ByteString.copyFrom(at.stateRoot().bytes()), store.header(m.getHeight()).orElseThrow().getStateRoot(),
                        "the view was exactly at the height the hook fired for");
            }
            assertEquals(List.of(5L, 10L), tips.stream().map(BlockStore.Tip::height).toList());

            store.onSnapshotHeight(2, view -> {
                throw new IllegalStateException("taker fails");
            });
            fillTo(store, 16);
            assertEquals(16, store.height(), "a failing taker does not fail the append");
        } finally {
            background.shutdownNow();
        }
    }

    @Test
    void aSnapshotDeletedWhileServedEndsInEmptyOrAnIOExceptionNotACrash(@TempDir Path storeDir, @TempDir Path snapDir)
            throws Exception {
        ExecutorService readers = Executors.newFixedThreadPool(2);
        try (BlockStore store = BlockStore.open(storeDir, net.genesis)) {
            fillTo(store, 20);
            StateSnapshots snapshots = new StateSnapshots(snapDir, 1);
            StateSnapshotManifest first;
            try (StoreSnapshot view = store.snapshot()) {
                first = snapshots.take(view);
            }
            int full = fullestBucket(first);
            List<Future<Integer>> reads = new ArrayList<>();
            for (int r = 0; r < 2; r++) {
                reads.add(readers.submit(() -> {
                    int served = 0;
                    for (int i = 0; i < 2_000; i++) {
                        try {
                            Optional<StateSnapshots.Chunk> c = snapshots.chunk(20, full, 0, 1 << 20);
                            if (c.isEmpty()) {
                                return served;
                            }
                            assertEquals(first.getBuckets(full), StateBuckets.summarize(c.get().entries()));
                            served++;
                        } catch (IOException e) {
                            return served;
                        }
                    }
                    return served;
                }));
            }
            fillTo(store, 21);
            try (StoreSnapshot view = store.snapshot()) {
                snapshots.take(view);
            }
            for (Future<Integer> f : reads) {
                f.get(60, TimeUnit.SECONDS);
            }
            assertEquals(List.of(21L), snapshots.heights());
            assertTrue(snapshots.chunk(20, full, 0, 100).isEmpty());
        } finally {
            readers.shutdownNow();
        }
    }

    // ------------------------------------------------------------------------------ helpers

    /** Every entry of a bucket, fetched chunk by chunk as a joining replica does. */
    static List<StateEntry> readBucket(StateSnapshots snapshots, long height, int bucket, int maxBytes) throws IOException {
        List<StateEntry> out = new ArrayList<>();
        long offset = 0;
        while (true) {
            StateSnapshots.Chunk c = snapshots.chunk(height, bucket, offset, maxBytes).orElseThrow();
            int bytes = c.entries().stream().mapToInt(StateBuckets::delimitedSize).sum();
            assertEquals(c.nextOffset() - offset, bytes, "nextOffset follows the entries served");
            assertTrue(bytes <= maxBytes || c.entries().size() == 1, "within the budget unless one entry is larger");
            out.addAll(c.entries());
            offset = c.nextOffset();
            if (c.last()) {
                return out;
            }
            assertFalse(c.entries().isEmpty());
        }
    }

    static int fullestBucket(StateSnapshotManifest m) {
        int best = 0;
        for (int b = 1; b < StateBuckets.BUCKETS; b++) {
            StateBucket bucket = m.getBuckets(b);
            if (bucket.getEntries() > m.getBuckets(best).getEntries()) {
                best = b;
            }
        }
        return best;
    }
}
