package bftledger.node.replica;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import bftledger.crypto.Digest;
import bftledger.crypto.KeyPair;
import bftledger.crypto.PublicKey;
import bftledger.crypto.Sha256;
import bftledger.ledger.StoreCorruptedException;
import bftledger.pbft.Checkpoint;
import bftledger.pbft.Config;
import bftledger.pbft.MessageFactory;
import bftledger.pbft.PersistCodec;
import bftledger.pbft.PersistRecord;
import bftledger.pbft.Signed;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.lmdbjava.ByteArrayProxy;
import org.lmdbjava.Dbi;
import org.lmdbjava.Env;
import org.lmdbjava.Txn;

class ConsensusWalTest {
    @TempDir
    Path dir;

    private final List<KeyPair> keys = List.of(KeyPair.deterministic("w0"), KeyPair.deterministic("w1"),
            KeyPair.deterministic("w2"), KeyPair.deterministic("w3"));
    private final List<PublicKey> validators = keys.stream().map(KeyPair::publicKey).toList();
    private final Config config = Config.of(validators, 1, keys.get(1));

    private ConsensusWal open() {
        return ConsensusWal.open(dir.resolve("wal"), new PersistCodec(config), 1L << 24);
    }

    private static Digest d(int i) {
        return Sha256.hash(new byte[] {(byte) i});
    }

    @Test
    void recordsSurviveReopenInOrderWithTheirSignedBytes() {
        MessageFactory mine = new MessageFactory(1, keys.get(1));
        Signed<?> prepare = mine.prepare(0, 5, d(5));
        Signed<?> commit = mine.commit(0, 5, d(5));
        try (ConsensusWal wal = open()) {
            wal.append(List.of(new PersistRecord.ViewState(2, true), new PersistRecord.OwnMessage(prepare)));
            wal.append(List.of(new PersistRecord.OwnMessage(commit)));
        }
        try (ConsensusWal wal = open()) {
            List<PersistRecord> back = wal.readAll();
            assertEquals(3, back.size());
            assertEquals(new PersistRecord.ViewState(2, true), back.get(0));
            assertArrayEquals(prepare.wire(), ((PersistRecord.OwnMessage) back.get(1)).message().wire());
            assertArrayEquals(commit.wire(), ((PersistRecord.OwnMessage) back.get(2)).message().wire());
            // Appends continue after the last key rather than overwriting.
            wal.append(List.of(new PersistRecord.ViewState(3, false)));
            assertEquals(new PersistRecord.ViewState(3, false), wal.readAll().get(3));
        }
    }

    @Test
    void aStableCheckpointDropsRecordsAtOrBelowItButKeepsViewsAndNewerVotes() {
        MessageFactory mine = new MessageFactory(1, keys.get(1));
        try (ConsensusWal wal = open()) {
            wal.append(List.of(new PersistRecord.ViewState(0, false)));
            for (long s = 1; s <= 20; s++) {
                wal.append(List.of(new PersistRecord.OwnMessage(mine.prepare(0, s, d((int) s))),
                        new PersistRecord.OwnMessage(mine.commit(0, s, d((int) s)))));
            }
            List<Signed<Checkpoint>> proof = new ArrayList<>();
            for (int r = 0; r < 3; r++) {
                proof.add(new MessageFactory(r, keys.get(r)).checkpoint(16, d(99)));
            }
            wal.append(List.of(new PersistRecord.StableCheckpoint(16, d(99), proof)));
            List<PersistRecord> left = wal.readAll();
            assertTrue(left.get(0) instanceof PersistRecord.ViewState, left.toString());
            long own = left.stream().filter(r -> r instanceof PersistRecord.OwnMessage).count();
            assertEquals(8, own, "prepare and commit for 17..20 remain");
            assertTrue(left.stream().filter(r -> r instanceof PersistRecord.OwnMessage).allMatch(r -> r.sequence() > 16));
            assertTrue(left.get(left.size() - 1) instanceof PersistRecord.StableCheckpoint);
        }
    }

    @Test
    void aDamagedRecordIsRefusedAtOpenNotSkipped() {
        try (ConsensusWal wal = open()) {
            wal.append(List.of(new PersistRecord.ViewState(1, false)));
        }
        try (Env<byte[]> env = Env.create(ByteArrayProxy.PROXY_BA).setMaxDbs(2).setMapSize(1L << 24).open(dir.resolve("wal").toFile())) {
            Dbi<byte[]> dbi = env.openDbi("wal");
            try (Txn<byte[]> txn = env.txnWrite()) {
                dbi.put(txn, ByteBuffer.allocate(8).putLong(1).array(), new byte[] {0, 0, 0, 0, 0, 0, 0, 0, 9, 1, 2, 3, 4, 5});
                txn.commit();
            }
        }
        StoreCorruptedException e = assertThrows(StoreCorruptedException.class, this::open);
        assertTrue(e.getMessage().contains("record 1"), e.getMessage());
    }

    /** A byte flipped inside a record (every copy of it in the file, stale pages included) is refused at open. */
    @Test
    void aFlippedByteInARecordIsRefusedAtOpen() throws Exception {
        MessageFactory mine = new MessageFactory(1, keys.get(1));
        Signed<?> prepare = mine.prepare(3, 7, d(7));
        try (ConsensusWal wal = open()) {
            wal.append(List.of(new PersistRecord.ViewState(3, false)));
            wal.append(List.of(new PersistRecord.OwnMessage(prepare)));
            wal.append(List.of(new PersistRecord.OwnMessage(mine.commit(3, 7, d(7)))));
        }
        Path file = dir.resolve("wal").resolve("data.mdb");
        byte[] bytes = java.nio.file.Files.readAllBytes(file);
        byte[] needle = prepare.wire();
        int flipped = 0;
        for (int i = 0; i + needle.length <= bytes.length; i++) {
            if (java.util.Arrays.equals(bytes, i, i + needle.length, needle, 0, needle.length)) {
                bytes[i + needle.length / 2] ^= 0x01;
                flipped++;
            }
        }
        assertTrue(flipped > 0);
        java.nio.file.Files.write(file, bytes);
        StoreCorruptedException e = assertThrows(StoreCorruptedException.class, this::open);
        assertTrue(e.getMessage().contains("checksum"), e.getMessage());
    }

    @Test
    void aTruncatedWalIsRefusedBeforeLmdbMapsIt() throws Exception {
        try (ConsensusWal wal = open()) {
            MessageFactory mine = new MessageFactory(1, keys.get(1));
            for (long s = 1; s <= 40; s++) {
                wal.append(List.of(new PersistRecord.OwnMessage(mine.prepare(0, s, d((int) s)))));
            }
        }
        Path file = dir.resolve("wal").resolve("data.mdb");
        try (var f = new java.io.RandomAccessFile(file.toFile(), "rw")) {
            f.setLength(f.length() / 2);
        }
        StoreCorruptedException e = assertThrows(StoreCorruptedException.class, this::open);
        assertTrue(e.getMessage().contains("truncated"), e.getMessage());
        try (var f = new java.io.RandomAccessFile(file.toFile(), "rw")) {
            f.setLength(0);
        }
        assertThrows(StoreCorruptedException.class, this::open, "never silently made new");
    }

    @Test
    void theIdentityStaysAndThePositionNeverGoesBack() {
        byte[] identity;
        MessageFactory mine = new MessageFactory(1, keys.get(1));
        try (ConsensusWal wal = open()) {
            identity = wal.identity();
            assertEquals(0, wal.position());
            for (long s = 1; s <= 20; s++) {
                wal.append(List.of(new PersistRecord.OwnMessage(mine.prepare(0, s, d((int) s)))));
            }
            List<Signed<Checkpoint>> proof = new ArrayList<>();
            for (int r = 0; r < 3; r++) {
                proof.add(new MessageFactory(r, keys.get(r)).checkpoint(20, d(99)));
            }
            wal.append(List.of(new PersistRecord.StableCheckpoint(20, d(99), proof)));
            assertEquals(21, wal.position());
            assertTrue(wal.size() < 21, "truncated below the stable checkpoint");
        }
        try (ConsensusWal wal = open()) {
            assertArrayEquals(identity, wal.identity());
            assertEquals(21, wal.position(), "deletions do not lower the position");
        }
        deleteTree(dir.resolve("wal"));
        try (ConsensusWal wal = open()) {
            assertTrue(!java.util.Arrays.equals(identity, wal.identity()), "a WAL made again has another identity");
            assertEquals(0, wal.position());
        }
    }

    /** A WAL written before records carried checksums is read and rewritten with them. */
    @Test
    void aWalWithoutChecksumsGetsThemAndAnIdentity() {
        MessageFactory mine = new MessageFactory(1, keys.get(1));
        Signed<?> prepare = mine.prepare(0, 5, d(5));
        try (Env<byte[]> env = Env.create(ByteArrayProxy.PROXY_BA).setMaxDbs(1).setMapSize(1L << 24)
                .open(ensure(dir.resolve("wal")).toFile())) {
            Dbi<byte[]> dbi = env.openDbi("wal", org.lmdbjava.DbiFlags.MDB_CREATE);
            try (Txn<byte[]> txn = env.txnWrite()) {
                dbi.put(txn, ByteBuffer.allocate(8).putLong(0).array(), ConsensusWal.encode(new PersistRecord.ViewState(2, false)));
                dbi.put(txn, ByteBuffer.allocate(8).putLong(1).array(), ConsensusWal.encode(new PersistRecord.OwnMessage(prepare)));
                txn.commit();
            }
        }
        try (ConsensusWal wal = open()) {
            List<PersistRecord> back = wal.readAll();
            assertEquals(new PersistRecord.ViewState(2, false), back.get(0));
            assertArrayEquals(prepare.wire(), ((PersistRecord.OwnMessage) back.get(1)).message().wire());
            assertEquals(2, wal.position());
            assertEquals(ConsensusWal.IDENTITY_BYTES, wal.identity().length);
        }
        try (ConsensusWal wal = open()) {
            assertEquals(2, wal.readAll().size(), "and reads back with them");
        }
    }

    private static Path ensure(Path p) {
        try {
            return java.nio.file.Files.createDirectories(p);
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    static void deleteTree(Path dir) {
        if (!java.nio.file.Files.exists(dir)) {
            return;
        }
        try (var walk = java.nio.file.Files.walk(dir)) {
            for (Path p : walk.sorted(java.util.Comparator.reverseOrder()).toList()) {
                java.nio.file.Files.delete(p);
            }
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }
}
