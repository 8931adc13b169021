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
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
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
    void compactionSurvivesReopen() {
        MessageFactory mine = new MessageFactory(1, keys.get(1));
        List<PersistRecord> before;
        try (ConsensusWal wal = open()) {
            for (long s = 1; s <= 6; s++) {
                wal.append(List.of(new PersistRecord.OwnMessage(mine.prepare(0, s, d((int) s)))));
            }
            wal.append(List.of(new PersistRecord.StableCheckpoint(4, d(99), checkpointProof(4))));
            before = wal.readAll();
            assertEquals(3, before.size(), "prepares 5 and 6, then the checkpoint");
        }
        try (ConsensusWal wal = open()) {
            assertEquals(before, wal.readAll());
            wal.append(List.of(new PersistRecord.ViewState(1, false)));
        }
        try (ConsensusWal wal = open()) {
            assertEquals(4, wal.readAll().size());
        }
    }

    @Test
    void aTornLastFrameIsCutOffAndAppendsGoOn() throws IOException {
        MessageFactory mine = new MessageFactory(1, keys.get(1));
        long whole;
        try (ConsensusWal wal = open()) {
            wal.append(List.of(new PersistRecord.ViewState(0, false)));
            wal.append(List.of(new PersistRecord.OwnMessage(mine.prepare(0, 1, d(1)))));
            whole = Files.size(logFile());
            wal.append(List.of(new PersistRecord.OwnMessage(mine.commit(0, 1, d(1))),
                    new PersistRecord.OwnMessage(mine.prepare(0, 2, d(2)))));
        }
        long full = Files.size(logFile());
        for (long cut : new long[] {whole + 5, whole + 20, full - 9}) { // full - 9: inside the payload, past any padding
            Path copy = dir.resolve("torn-" + cut);
            Files.createDirectories(copy);
            byte[] bytes = Files.readAllBytes(logFile());
            Files.write(copy.resolve(ConsensusWal.LOG_FILE), java.util.Arrays.copyOf(bytes, (int) cut));
            try (ConsensusWal wal = ConsensusWal.open(copy, new PersistCodec(config), 1L << 24)) {
                assertEquals(2, wal.readAll().size(), "cut at " + cut + ": the torn append is gone, the others stay");
                assertEquals(whole, Files.size(copy.resolve(ConsensusWal.LOG_FILE)), "cut back to the last whole frame");
                wal.append(List.of(new PersistRecord.ViewState(1, true)));
            }
            try (ConsensusWal wal = ConsensusWal.open(copy, new PersistCodec(config), 1L << 24)) {
                assertEquals(new PersistRecord.ViewState(1, true), wal.readAll().get(2), "cut at " + cut);
            }
        }
        // Garbage (not zeros) where the last frame was: still the torn end.
        byte[] bytes = Files.readAllBytes(logFile());
        for (int i = (int) whole + 12; i < bytes.length; i++) {
            bytes[i] = (byte) (i * 31);
        }
        Files.write(logFile(), bytes);
        try (ConsensusWal wal = open()) {
            assertEquals(2, wal.readAll().size());
        }
    }

    @Test
    void aDamagedFrameWithAValidOneAfterItIsRefused() throws IOException {
        MessageFactory mine = new MessageFactory(1, keys.get(1));
        try (ConsensusWal wal = open()) {
            wal.append(List.of(new PersistRecord.ViewState(0, false)));
            wal.append(List.of(new PersistRecord.OwnMessage(mine.prepare(0, 1, d(1)))));
        }
        byte[] bytes = Files.readAllBytes(logFile());
        bytes[20] ^= 0x40; // inside the first frame's payload
        Files.write(logFile(), bytes);
        StoreCorruptedException e = assertThrows(StoreCorruptedException.class, this::open);
        assertTrue(e.getMessage().contains("damaged"), e.getMessage());
        assertArrayEquals(bytes, Files.readAllBytes(logFile()), "nothing was cut or changed");
    }

    @Test
    void anEarlierVersionsLmdbLogIsCarriedOverAndARecordThatDoesNotDecodeIsReported() {
        MessageFactory mine = new MessageFactory(1, keys.get(1));
        List<PersistRecord> records = List.of(new PersistRecord.ViewState(3, false),
                new PersistRecord.OwnMessage(mine.prepare(3, 7, d(7))));
        Path wal = dir.resolve("wal");
        writeLmdbLog(wal, records.stream().map(ConsensusWal::encode).toList());
        try (ConsensusWal opened = open()) {
            assertEquals(records.get(0), opened.readAll().get(0));
            assertArrayEquals(((PersistRecord.OwnMessage) records.get(1)).message().wire(),
                    ((PersistRecord.OwnMessage) opened.readAll().get(1)).message().wire());
        }
        assertTrue(Files.exists(wal.resolve(ConsensusWal.LOG_FILE)));
        assertTrue(!Files.exists(wal.resolve("data.mdb")), "the LMDB files are removed once carried over");

        Path other = dir.resolve("other");
        writeLmdbLog(other, List.of(ConsensusWal.encode(records.get(0)), new byte[] {0, 0, 0, 0, 0, 0, 0, 0, 9, 1, 2}));
        try (ConsensusWal opened = ConsensusWal.open(other, new PersistCodec(config), 1L << 24)) {
            StoreCorruptedException e = assertThrows(StoreCorruptedException.class, opened::readAll);
            assertTrue(e.getMessage().contains("record 1"), e.getMessage());
        }
    }

    private Path logFile() {
        return dir.resolve("wal").resolve(ConsensusWal.LOG_FILE);
    }

    private List<Signed<Checkpoint>> checkpointProof(long sequence) {
        List<Signed<Checkpoint>> proof = new ArrayList<>();
        for (int r = 0; r < 3; r++) {
            proof.add(new MessageFactory(r, keys.get(r)).checkpoint(sequence, d(99)));
        }
        return proof;
    }

    /** The layout the WAL had before it was a file: one LMDB environment, key = u64 BE append counter. */
    private static void writeLmdbLog(Path at, List<byte[]> values) {
        try {
            Files.createDirectories(at);
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
        try (Env<byte[]> env = Env.create(ByteArrayProxy.PROXY_BA).setMaxDbs(1).setMapSize(1L << 24).open(at.toFile())) {
            Dbi<byte[]> dbi = env.openDbi("wal", org.lmdbjava.DbiFlags.MDB_CREATE);
            try (Txn<byte[]> txn = env.txnWrite()) {
                for (int i = 0; i < values.size(); i++) {
                    dbi.put(txn, ByteBuffer.allocate(8).putLong(i).array(), values.get(i));
                }
                txn.commit();
            }
        }
    }
}
