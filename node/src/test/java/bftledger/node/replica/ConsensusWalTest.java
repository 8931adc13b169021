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
    void aDamagedRecordIsReportedNotSkipped() {
        try (ConsensusWal wal = open()) {
            wal.append(List.of(new PersistRecord.ViewState(1, false)));
        }
        try (Env<byte[]> env = Env.create(ByteArrayProxy.PROXY_BA).setMaxDbs(1).setMapSize(1L << 24).open(dir.resolve("wal").toFile())) {
            Dbi<byte[]> dbi = env.openDbi("wal");
            try (Txn<byte[]> txn = env.txnWrite()) {
                dbi.put(txn, ByteBuffer.allocate(8).putLong(1).array(), new byte[] {0, 0, 0, 0, 0, 0, 0, 0, 9, 1, 2});
                txn.commit();
            }
        }
        try (ConsensusWal wal = open()) {
            StoreCorruptedException e = assertThrows(StoreCorruptedException.class, wal::readAll);
            assertTrue(e.getMessage().contains("record 1"), e.getMessage());
        }
    }
}
