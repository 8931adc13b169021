package bftledger.ledger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.HashMap;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.lmdbjava.ByteArrayProxy;
import org.lmdbjava.CursorIterable;
import org.lmdbjava.Dbi;
import org.lmdbjava.DbiFlags;
import org.lmdbjava.Env;
import org.lmdbjava.KeyRange;
import org.lmdbjava.Txn;

/**
 * The LMDB file check: every entry of a real file is seen (small values, values on overflow pages,
 * trees several levels deep, a free list), a truncated file is refused, and a byte flipped
 * anywhere in a real file is either refused by the check or leaves a file LMDB reads and writes
 * without leaving it (no signal), over seeded positions (-Dbftledger.seed=N replays).
 */
class LmdbFileCheckTest {
    private static final long MAP_BYTES = 64L << 20;

    @TempDir
    Path dir;

    /** Two named databases: many small entries (a deep tree), and a few large values on overflow pages; some deleted. */
    private static Map<String, Map<String, byte[]>> fill(Path envDir, long seed) {
        SplittableRandom random = new SplittableRandom(seed);
        Map<String, Map<String, byte[]>> expected = new HashMap<>();
        try (Env<byte[]> env = Env.create(ByteArrayProxy.PROXY_BA).setMapSize(MAP_BYTES).setMaxDbs(4).open(envDir.toFile())) {
            Dbi<byte[]> small = env.openDbi("small", DbiFlags.MDB_CREATE);
            Dbi<byte[]> large = env.openDbi("large", DbiFlags.MDB_CREATE);
            Map<String, byte[]> smallKept = new TreeMap<>();
            Map<String, byte[]> largeKept = new TreeMap<>();
            for (int round = 0; round < 6; round++) {
                try (Txn<byte[]> txn = env.txnWrite()) {
                    for (int k = 0; k < 400; k++) {
                        byte[] key = ByteBuffer.allocate(8).putLong(random.nextLong()).array();
                        byte[] value = new byte[8 + random.nextInt(120)];
                        random.nextBytes(value);
                        small.put(txn, key, value);
                        smallKept.put(hex(key), value);
                    }
                    byte[] key = ByteBuffer.allocate(4).putInt(round).array();
                    byte[] value = new byte[5_000 + random.nextInt(20_000)];
                    random.nextBytes(value);
                    large.put(txn, key, value);
                    largeKept.put(hex(key), value);
                    txn.commit();
                }
                try (Txn<byte[]> txn = env.txnWrite()) {
                    for (String k : smallKept.keySet().stream().filter(k -> random.nextInt(5) == 0).toList()) {
                        small.delete(txn, java.util.HexFormat.of().parseHex(k));
                        smallKept.remove(k);
                    }
                    if (round % 2 == 1) {
                        byte[] key = ByteBuffer.allocate(4).putInt(round - 1).array();
                        large.delete(txn, key);
                        largeKept.remove(hex(key));
                    }
                    txn.commit();
                }
            }
            expected.put("small", smallKept);
            expected.put("large", largeKept);
        }
        return expected;
    }

    private static String hex(byte[] b) {
        return java.util.HexFormat.of().formatHex(b);
    }

    @Test
    void seesEveryEntryOfAHealthyFile() {
        Map<String, Map<String, byte[]>> expected = fill(dir, 7);
        Map<String, Map<String, byte[]>> seen = new HashMap<>();
        LmdbFileCheck.checkPages(dir.resolve("data.mdb"),
                (db, key, value) -> seen.computeIfAbsent(db, d -> new TreeMap<>()).put(hex(key), value));
        for (String db : expected.keySet()) {
            assertEquals(expected.get(db).keySet(), seen.get(db).keySet(), db);
            for (Map.Entry<String, byte[]> e : expected.get(db).entrySet()) {
                assertTrue(java.util.Arrays.equals(e.getValue(), seen.get(db).get(e.getKey())), db + " " + e.getKey());
            }
        }
        assertTrue(expected.get("large").values().stream().anyMatch(v -> v.length > 4096), "overflow values covered");
    }

    @Test
    void aTruncatedFileIsRefusedFromItsMetaPage() throws Exception {
        fill(dir, 8);
        Path data = dir.resolve("data.mdb");
        try (RandomAccessFile f = new RandomAccessFile(data.toFile(), "rw")) {
            f.setLength(f.length() - 4096);
        }
        StoreCorruptedException e = assertThrows(StoreCorruptedException.class, () -> LmdbFileCheck.check(data));
        assertTrue(e.getMessage().contains("truncated"), e.getMessage());
        assertThrows(StoreCorruptedException.class, () -> LmdbFileCheck.checkPages(data, null));
    }

    /**
     * A page LMDB counted in the meta page but never wrote (allocated and freed within one
     * transaction, at the end of the file) leaves a healthy file shorter than the meta page says:
     * both checks accept it (the short one by reading what the meta page reaches) and LMDB reads
     * and writes it.
     */
    @Test
    void aCountedButUnwrittenTailIsAccepted() throws Exception {
        Map<String, Map<String, byte[]>> expected = fill(dir, 9);
        Path data = dir.resolve("data.mdb");
        try (RandomAccessFile f = new RandomAccessFile(data.toFile(), "rw")) {
            long pageSize = 4096;
            byte[] metas = new byte[(int) (2 * pageSize)];
            f.readFully(metas);
            java.nio.ByteBuffer m = java.nio.ByteBuffer.wrap(metas).order(java.nio.ByteOrder.LITTLE_ENDIAN);
            long current = Long.compareUnsigned(m.getLong((int) pageSize + 144), m.getLong(144)) > 0 ? pageSize : 0;
            long lastPage = m.getLong((int) current + 136);
            assertEquals((lastPage + 1) * pageSize, f.length(), "the file as LMDB left it");
            f.seek(current + 136);
            f.write(java.nio.ByteBuffer.allocate(8).order(java.nio.ByteOrder.LITTLE_ENDIAN).putLong(lastPage + 2).array());
        }
        Map<String, Map<String, byte[]>> seen = new HashMap<>();
        LmdbFileCheck.checkPages(data, (db, key, value) -> seen.computeIfAbsent(db, d -> new TreeMap<>()).put(hex(key), value));
        assertEquals(expected.get("small").keySet(), seen.get("small").keySet());
        LmdbFileCheck.check(data);
        assertTrue(exercise(dir, "an unwritten tail"), "LMDB reads and writes it without an error");
        LmdbFileCheck.checkPages(data, null);
    }

    /**
     * A flipped byte is refused by the check, or LMDB reads every entry and writes again without
     * a signal (a flip in a key or value, or in an unused page, is for the caller's checksums).
     */
    @Test
    void aFlippedByteAnywhereIsRefusedOrHarmlessToLmdb() throws Exception {
        long seed = Long.getLong("bftledger.seed", new SplittableRandom().nextLong());
        String why = "seed " + seed + " (replay with -Dbftledger.seed=" + seed + ")";
        Path healthy = dir.resolve("healthy");
        Files.createDirectories(healthy);
        fill(healthy, seed);
        byte[] original = Files.readAllBytes(healthy.resolve("data.mdb"));
        SplittableRandom random = new SplittableRandom(seed);
        int refused = 0;
        int positions = 300;
        Path copy = dir.resolve("copy");
        Files.createDirectories(copy);
        for (int k = 0; k < positions; k++) {
            // Half in the first pages (meta, roots, branches), half anywhere.
            int at = k % 2 == 0 ? random.nextInt(Math.min(original.length, 8 * 4096)) : random.nextInt(original.length);
            byte[] damaged = original.clone();
            damaged[at] ^= (byte) (1 << random.nextInt(8));
            Files.write(copy.resolve("data.mdb"), damaged);
            Files.deleteIfExists(copy.resolve("lock.mdb"));
            try {
                LmdbFileCheck.checkPages(copy.resolve("data.mdb"), null);
            } catch (StoreCorruptedException e) {
                refused++;
                continue;
            }
            exercise(copy, why + ", byte " + at);
        }
        assertTrue(refused > 0, why + ": no flip refused in " + positions);
        Files.copy(healthy.resolve("data.mdb"), copy.resolve("data.mdb"), StandardCopyOption.REPLACE_EXISTING);
        LmdbFileCheck.checkPages(copy.resolve("data.mdb"), null);
    }

    /** Reads every entry of both databases and commits a write that reuses free pages; false when LMDB reported an error. */
    private static boolean exercise(Path envDir, String what) {
        try (Env<byte[]> env = Env.create(ByteArrayProxy.PROXY_BA).setMapSize(MAP_BYTES).setMaxDbs(4).open(envDir.toFile())) {
            for (String name : new String[] {"small", "large"}) {
                Dbi<byte[]> db;
                try {
                    db = env.openDbi(name);
                } catch (RuntimeException e) {
                    return false; // the database's name was flipped: LMDB reports it, no signal
                }
                try (Txn<byte[]> txn = env.txnRead(); CursorIterable<byte[]> it = db.iterate(txn, KeyRange.all())) {
                    for (CursorIterable.KeyVal<byte[]> kv : it) {
                        kv.val();
                    }
                }
                try (Txn<byte[]> txn = env.txnWrite()) {
                    for (int k = 0; k < 50; k++) {
                        db.put(txn, ByteBuffer.allocate(8).putLong(-1 - k).array(), new byte[100]);
                    }
                    txn.commit();
                }
            }
        } catch (RuntimeException e) {
            // An LMDB error code (MDB_CORRUPTED, MDB_PAGE_NOTFOUND, ...) is a refusal, not a signal.
            assertTrue(e.getClass().getName().startsWith("org.lmdbjava"), what + ": " + e);
            return false;
        }
        return true;
    }
}
