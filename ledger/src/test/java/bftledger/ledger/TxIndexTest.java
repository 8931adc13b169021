package bftledger.ledger;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import bftledger.crypto.Digest;
import bftledger.ledger.proto.Receipt;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.lmdbjava.ByteArrayProxy;
import org.lmdbjava.DbiFlags;
import org.lmdbjava.Env;
import org.lmdbjava.Txn;

/**
 * The transaction index kept beside the block store: trusted only when it can be, rebuilt from
 * the blocks otherwise, and level with the blocks before anything executes.
 */
class TxIndexTest {
    private final TestLedger net = TestLedger.standard();
    private static final Digest PLANTED = Digest.of(new byte[32]);

    /** Blocks 1..count, one transfer each; returns the transactions in height order. */
    private List<VerifiedTransaction> fill(BlockStore store, int from, int count) {
        List<VerifiedTransaction> txs = new ArrayList<>();
        for (int h = from; h < from + count; h++) {
            VerifiedTransaction tx = net.transfer(h % 8, (h + 1) % 8, h, 100 + h);
            txs.add(tx);
            net.append(store, 1000L * h, List.of(tx));
        }
        return txs;
    }

    /** A closed store in {@code dir} with blocks 1..count; their transactions. */
    private List<VerifiedTransaction> closedStore(Path dir, int count) {
        try (BlockStore store = BlockStore.open(dir, net.genesis)) {
            return fill(store, 1, count);
        }
    }

    private static Path indexDir(Path dir) {
        return dir.resolve(TxIndex.DIR);
    }

    private static String state(Path dir) throws IOException {
        return Files.readString(indexDir(dir).resolve(TxIndex.STATE_FILE), StandardCharsets.US_ASCII).trim();
    }

    private static void setState(Path dir, String state) throws IOException {
        Files.writeString(indexDir(dir).resolve(TxIndex.STATE_FILE), state + "\n", StandardCharsets.US_ASCII);
    }

    /** An entry no block justifies (with a valid checksum), written straight into the closed index. */
    private static void plant(Path dir) {
        RawStore.put(indexDir(dir), TxIndex.DB_ENTRIES, PLANTED.bytes(),
                TxIndex.storedValue(PLANTED, bftledger.ledger.proto.TxIndexEntry.newBuilder().setHeight(1).build()));
    }

    private static boolean planted(Path dir) {
        return RawStore.get(indexDir(dir), TxIndex.DB_ENTRIES, PLANTED.bytes()) != null;
    }

    private void assertIndexed(BlockStore store, List<VerifiedTransaction> txs, int firstHeight) {
        assertIndexed(store, txs, firstHeight, txs.size());
    }

    private void assertIndexed(BlockStore store, List<VerifiedTransaction> txs, int firstHeight, long entries) {
        for (int i = 0; i < txs.size(); i++) {
            BlockStore.TxRecord found = store.transaction(txs.get(i).id()).orElseThrow(() -> new AssertionError("not indexed"));
            assertEquals(firstHeight + i, found.height());
            assertEquals(Receipt.Status.SUCCESS, found.receipt().getStatus());
        }
        try (StoreSnapshot s = store.snapshot()) {
            assertEquals(entries, s.indexedTransactions());
        }
    }

    /** A transaction already executed comes back DUPLICATE: the replay check sees the whole index. */
    private void assertReplayRefused(BlockStore store, VerifiedTransaction old, int executedAt) {
        ExecutedBlock again = net.append(store, 99_000, List.of(old));
        Receipt receipt = again.block().getReceipts(0);
        assertEquals(Receipt.Status.DUPLICATE, receipt.getStatus());
        assertTrue(receipt.getReason().contains("height " + executedAt), receipt.getReason());
    }

    @Test
    void cleanCloseIsTrustedAndAnUncleanOneFromAnotherBootIsRebuilt(@TempDir Path dir) throws Exception {
        List<VerifiedTransaction> txs;
        try (BlockStore store = BlockStore.open(dir, net.genesis)) {
            txs = fill(store, 1, 4);
            assertEquals("open " + bootId(), state(dir), "marked open, with this boot's id, while writable");
        }
        assertEquals("clean", state(dir));

        // Trusted as it is: what was planted while closed is still there after a clean close.
        plant(dir);
        try (BlockStore store = BlockStore.open(dir, net.genesis)) {
            assertIndexed(store, txs, 1, txs.size() + 1);
            assertTrue(store.containsTransaction(PLANTED));
        }

        // A writer was open when the machine went down (another boot's id): nothing in it is trusted.
        setState(dir, "open 00000000-not-this-boot");
        try (BlockStore store = BlockStore.open(dir, net.genesis)) {
            assertFalse(store.containsTransaction(PLANTED));
            assertIndexed(store, txs, 1);
            assertReplayRefused(store, txs.get(2), 3);
        }
        assertFalse(planted(dir), "rebuilt from the blocks");
    }

    @Test
    void aProcessCrashOnThisBootKeepsTheIndexAndAnUnreadableStateRebuildsIt(@TempDir Path dir) throws Exception {
        try (BlockStore store = BlockStore.open(dir, net.genesis)) {
            fill(store, 1, 2);
        }
        plant(dir);
        setState(dir, "open " + bootId());
        try (BlockStore ignored = BlockStore.open(dir, net.genesis)) {
            // only the process died: the page cache held every commit
        }
        assertTrue(planted(dir));

        setState(dir, "gibberish");
        try (BlockStore ignored = BlockStore.open(dir, net.genesis)) {
            // a state file that says neither is no reason to trust
        }
        assertFalse(planted(dir));
    }

    @Test
    void aMissingIndexIsRebuiltAndReplaysAreStillRefused(@TempDir Path dir) throws Exception {
        List<VerifiedTransaction> txs = closedStore(dir, 5);
        deleteTree(indexDir(dir));
        try (BlockStore store = BlockStore.open(dir, net.genesis)) {
            assertIndexed(store, txs, 1);
            assertReplayRefused(store, txs.get(0), 1);
        }
    }

    @Test
    void anIndexBehindTheBlocksIsBroughtLevelBeforeAnythingExecutes(@TempDir Path dir) throws Exception {
        List<VerifiedTransaction> txs = closedStore(dir, 6);
        // As if the process died after blocks 4..6 were committed but before they were indexed.
        for (VerifiedTransaction tx : txs.subList(3, 6)) {
            RawStore.delete(indexDir(dir), TxIndex.DB_ENTRIES, tx.id().bytes());
        }
        RawStore.put(indexDir(dir), TxIndex.DB_META, TxIndex.META_HEIGHT, BlockStore.u64(3));
        try (BlockStore store = BlockStore.open(dir, net.genesis)) {
            assertIndexed(store, txs, 1);
            assertReplayRefused(store, txs.get(5), 6);
        }
        assertEquals(7, indexHeight(dir));
    }

    @Test
    void anIndexAheadOfTheBlocksIsRebuilt(@TempDir Path dir) throws Exception {
        List<VerifiedTransaction> txs = closedStore(dir, 3);
        plant(dir);
        RawStore.put(indexDir(dir), TxIndex.DB_META, TxIndex.META_HEIGHT, BlockStore.u64(9));
        try (BlockStore store = BlockStore.open(dir, net.genesis)) {
            assertIndexed(store, txs, 1);
        }
        assertFalse(planted(dir));
        assertEquals(3, indexHeight(dir));
    }

    @Test
    void aSnapshotDoesNotSeeEntriesOfBlocksAfterIt(@TempDir Path dir) {
        try (BlockStore store = BlockStore.open(dir, net.genesis)) {
            fill(store, 1, 2);
            VerifiedTransaction later = net.transfer(1, 2, 5, 555);
            try (StoreSnapshot before = store.snapshot()) {
                net.append(store, 3000, List.of(later));
                assertTrue(before.executed(later.id()).isEmpty());
                assertTrue(before.transaction(later.id()).isEmpty());
            }
            assertEquals(3, store.transaction(later.id()).orElseThrow().height());
        }
    }

    @Test
    void anIndexThatDoesNotOpenOrNamesAnotherBlockIsRebuilt(@TempDir Path dir) throws Exception {
        List<VerifiedTransaction> txs = closedStore(dir, 3);
        // Another chain's index (or a copy taken mid-write): the block it records at its height is not ours.
        plant(dir);
        RawStore.put(indexDir(dir), TxIndex.DB_META, TxIndex.META_TIP_HASH, new byte[32]);
        try (BlockStore store = BlockStore.open(dir, net.genesis)) {
            assertFalse(store.containsTransaction(PLANTED));
            assertIndexed(store, txs, 1);
        }
        // A damaged file, although marked clean: derived data does not stop the store from opening.
        assertEquals("clean", state(dir));
        try (var f = new java.io.RandomAccessFile(indexDir(dir).resolve("data.mdb").toFile(), "rw")) {
            f.setLength(100);
        }
        try (BlockStore store = BlockStore.open(dir, net.genesis)) {
            assertIndexed(store, txs, 1);
            assertReplayRefused(store, txs.get(1), 2);
        }
    }

    /**
     * A byte flipped in a closed index, in an entry's value or in its key (the transaction id):
     * the index is rebuilt at open, so the entry is served right and the replay still refused.
     * Flipped under a running store, the entry is refused when read, never served.
     */
    @Test
    void aFlippedByteInTheIndexIsRebuiltNotServed(@TempDir Path dir) throws Exception {
        List<VerifiedTransaction> txs = closedStore(dir, 6);
        Path file = indexDir(dir).resolve("data.mdb");
        VerifiedTransaction victim = txs.get(2);
        byte[] value = RawStore.get(indexDir(dir), TxIndex.DB_ENTRIES, victim.id().bytes());
        flip(file, liveOffset(dir, value, 1, victim.id()));
        try (BlockStore store = BlockStore.open(dir, net.genesis)) {
            assertIndexed(store, txs, 1);
            assertReplayRefused(store, victim, 3);
        }
        flip(file, liveOffset(dir, victim.id().bytes(), 5, victim.id()));
        try (BlockStore store = BlockStore.open(dir, net.genesis)) {
            assertIndexed(store, txs, 1);
            assertReplayRefused(store, victim, 3);
        }

        byte[] stored = RawStore.get(indexDir(dir), TxIndex.DB_ENTRIES, victim.id().bytes());
        long live = liveOffset(dir, stored, 1, victim.id());
        try (BlockStore store = BlockStore.open(dir, net.genesis)) {
            // Through the file while LMDB has it mapped: the map shows the flip at once.
            flip(file, live);
            StoreCorruptedException e = org.junit.jupiter.api.Assertions.assertThrows(StoreCorruptedException.class,
                    () -> store.transaction(victim.id()));
            assertTrue(e.getMessage().contains("checksum"), e.getMessage());
            org.junit.jupiter.api.Assertions.assertThrows(StoreCorruptedException.class,
                    () -> store.containsTransaction(victim.id()));
        }
    }

    /** An index of the format before checksums is rebuilt, not trusted. */
    @Test
    void anIndexWithoutChecksumsIsRebuilt(@TempDir Path dir) throws Exception {
        List<VerifiedTransaction> txs = closedStore(dir, 3);
        RawStore.delete(indexDir(dir), TxIndex.DB_META, TxIndex.META_FORMAT);
        plant(dir);
        try (BlockStore store = BlockStore.open(dir, net.genesis)) {
            assertFalse(store.containsTransaction(PLANTED));
            assertIndexed(store, txs, 1);
        }
        assertArrayEquals(ByteBuffer.allocate(4).putInt(TxIndex.FORMAT_VERSION).array(),
                RawStore.get(indexDir(dir), TxIndex.DB_META, TxIndex.META_FORMAT));
    }

    /** The used part of the index file (it is sparse at the map size). */
    private static byte[] head(Path file) throws IOException {
        try (var in = Files.newInputStream(file)) {
            return in.readNBytes(4 << 20);
        }
    }

    /**
     * The offset of byte {@code delta} of the copy of {@code bytes} that LMDB reads as the entry
     * of {@code id} in a closed index (older copies of a page linger in free pages): each
     * occurrence is flipped until the entry reads differently, then flipped back.
     */
    private static long liveOffset(Path dir, byte[] bytes, int delta, Digest id) throws IOException {
        Path file = indexDir(dir).resolve("data.mdb");
        byte[] before = RawStore.get(indexDir(dir), TxIndex.DB_ENTRIES, id.bytes());
        byte[] haystack = head(file);
        outer:
        for (int i = 0; i + bytes.length <= haystack.length; i++) {
            for (int j = 0; j < bytes.length; j++) {
                if (haystack[i + j] != bytes[j]) {
                    continue outer;
                }
            }
            flip(file, i + delta);
            boolean live = !java.util.Arrays.equals(before, RawStore.get(indexDir(dir), TxIndex.DB_ENTRIES, id.bytes()));
            flip(file, i + delta);
            if (live) {
                return i + delta;
            }
        }
        throw new AssertionError("the entry's bytes were not found where LMDB reads them");
    }

    private static void flip(Path file, long offset) throws IOException {
        try (var f = new java.io.RandomAccessFile(file.toFile(), "rw")) {
            f.seek(offset);
            int b = f.read();
            f.seek(offset);
            f.write(b ^ 0x10);
        }
    }

    private static String bootId() throws IOException {
        return Files.readString(Path.of("/proc/sys/kernel/random/boot_id"), StandardCharsets.US_ASCII).trim();
    }

    private static long indexHeight(Path dir) {
        byte[] v = RawStore.get(indexDir(dir), TxIndex.DB_META, TxIndex.META_HEIGHT);
        assertTrue(v != null && v.length == 8);
        return ByteBuffer.wrap(v).getLong();
    }

    private static void deleteTree(Path dir) throws IOException {
        if (!Files.exists(dir)) {
            return;
        }
        try (Stream<Path> walk = Files.walk(dir)) {
            for (Path p : walk.sorted(Comparator.reverseOrder()).toList()) {
                Files.delete(p);
            }
        }
    }

    /**
     * The index's filter answers "not indexed" without LMDB only for ids it never stored: every
     * stored id is still found, in the same process and after a reopen (the filter built again
     * from the stored ids), and an id never stored is not.
     */
    @Test
    void theIdFilterNeverHidesAStoredId(@TempDir Path dir) {
        java.util.Random r = new java.util.Random(5);
        List<Digest> stored = new ArrayList<>();
        try (TxIndex index = TxIndex.open(dir, 64L << 20, false)) {
            for (int h = 1; h <= 40; h++) {
                List<TxIndex.Entry> entries = new ArrayList<>();
                for (int i = 0; i < 50; i++) {
                    Digest id = randomDigest(r);
                    stored.add(id);
                    entries.add(new TxIndex.Entry(id, i, bftledger.ledger.proto.Receipt.newBuilder()
                            .setTxId(com.google.protobuf.ByteString.copyFrom(id.bytes())).setHeight(h).setIndex(i).build()));
                }
                index.add(h, randomDigest(r), entries);
            }
            assertAllFound(index, stored);
        }
        try (TxIndex index = TxIndex.open(dir, 64L << 20, false)) {
            assertAllFound(index, stored);
            int maybe = 0;
            for (int i = 0; i < 2_000; i++) {
                Digest other = randomDigest(r);
                maybe += index.mightContain(other) ? 1 : 0;
                assertFalse(index.contains(other), "a false positive of the filter is settled by LMDB");
                try (org.lmdbjava.Txn<byte[]> txn = index.read()) {
                    assertTrue(index.get(txn, other).isEmpty());
                }
            }
            assertTrue(maybe < 100, "false positives at about the filter's 1%, got " + maybe + " of 2000");
        }
    }

    private static void assertAllFound(TxIndex index, List<Digest> ids) {
        try (org.lmdbjava.Txn<byte[]> txn = index.read()) {
            for (Digest id : ids) {
                assertTrue(index.mightContain(id), "the filter holds every stored id");
                assertTrue(index.get(txn, id).isPresent());
                assertTrue(index.contains(id));
            }
        }
    }

    private static Digest randomDigest(java.util.Random r) {
        byte[] b = new byte[32];
        r.nextBytes(b);
        return Digest.of(b);
    }
}
