package bftledger.node.replica;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import bftledger.crypto.Digest;
import bftledger.crypto.KeyPair;
import bftledger.crypto.PublicKey;
import bftledger.crypto.Sha256;
import bftledger.node.config.ConfigException;
import bftledger.pbft.Config;
import bftledger.pbft.MessageFactory;
import bftledger.pbft.PersistCodec;
import bftledger.pbft.PersistRecord;
import bftledger.pbft.SigningFloor;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Start with a WAL and a signing mark: the WAL the mark names, at or past its position, is
 * resumed; a lost, emptied, replaced, older or damaged WAL is refused, or with
 * {@code rejoin.non.voting} set aside under a floor that covers everything signed; a node without
 * a mark adopts its WAL, but refuses when it has blocks and neither WAL records nor a mark.
 */
class SigningRecoveryTest {
    private static final long MARGIN = 32;

    @TempDir
    Path dir;

    private final List<KeyPair> keys = List.of(KeyPair.deterministic("m0"), KeyPair.deterministic("m1"),
            KeyPair.deterministic("m2"), KeyPair.deterministic("m3"));
    private final List<PublicKey> validators = keys.stream().map(KeyPair::publicKey).toList();
    private final Config config = Config.of(validators, 1, keys.get(1));
    private final MessageFactory mine = new MessageFactory(1, keys.get(1));

    private Path walDir() {
        return dir.resolve("data").resolve("wal");
    }

    private Path markFile() {
        return dir.resolve("signing-mark");
    }

    private SigningRecovery.Started start(long storeHeight, boolean rejoin) throws ConfigException {
        return SigningRecovery.start(walDir(), markFile(), new PersistCodec(config), 1L << 24, storeHeight, rejoin, MARGIN);
    }

    private static Digest d(long i) {
        return Sha256.hash(java.nio.ByteBuffer.allocate(8).putLong(i).array());
    }

    /** A run of the node: start, sign PREPAREs and COMMITs for {@code from..to} in {@code view}, stop. */
    private void run(long view, long from, long to) throws ConfigException {
        SigningRecovery.Started s = start(1, false);
        try {
            for (long seq = from; seq <= to; seq++) {
                List<PersistRecord> records = List.of(new PersistRecord.OwnMessage(mine.prepare(view, seq, d(seq))),
                        new PersistRecord.OwnMessage(mine.commit(view, seq, d(seq))));
                s.wal().append(records);
                s.mark().afterAppend(records, s.wal().position(), MARGIN);
            }
        } finally {
            s.wal().close();
            s.mark().close();
        }
    }

    private void close(SigningRecovery.Started s) {
        s.wal().close();
        s.mark().close();
    }

    @Test
    void aNewNodeMakesItsMarkAndResumesItsOwnWal() throws Exception {
        SigningRecovery.Started first = start(0, false);
        assertEquals(SigningFloor.NONE, first.floor());
        assertEquals(SigningCeiling.NONE, first.mark().state().ceiling());
        close(first);
        assertTrue(Files.exists(markFile()));
        run(0, 1, 3);
        SigningRecovery.Started again = start(3, false);
        assertEquals(6, again.records().size());
        assertEquals(SigningFloor.NONE, again.floor());
        assertEquals(new SigningCeiling(0, 1 + MARGIN), again.mark().state().ceiling(), "raised once, at sequence 1, ahead of need");
        assertEquals(6, again.mark().state().walPosition());
        close(again);
    }

    @Test
    void theCeilingIsALease() {
        SigningCeiling c = SigningCeiling.NONE.cover(List.of(new PersistRecord.OwnMessage(mine.prepare(0, 1, d(1)))), MARGIN);
        assertEquals(new SigningCeiling(0, 1 + MARGIN), c);
        assertTrue(c == c.cover(List.of(new PersistRecord.OwnMessage(mine.commit(0, 1 + MARGIN, d(1)))), MARGIN),
                "within the lease: unchanged, no write");
        assertEquals(new SigningCeiling(0, 2 + 2 * MARGIN),
                c.cover(List.of(new PersistRecord.OwnMessage(mine.commit(0, 2 + MARGIN, d(2)))), MARGIN));
        assertEquals(new SigningCeiling(4, 1 + MARGIN), c.cover(List.of(new PersistRecord.OwnMessage(
                mine.viewChange(4, 0, Digest.ZERO, List.of(), List.of()))), MARGIN), "a VIEW-CHANGE raises the view only");
        assertTrue(c == c.cover(List.of(new PersistRecord.OwnMessage(mine.checkpoint(500, d(3))),
                new PersistRecord.ViewState(9, true)), MARGIN), "checkpoints and view records are not votes");
    }

    @Test
    void anEmptiedWalIsRefusedAndRejoinsNonVotingWhenAsked() throws Exception {
        close(start(0, false));
        run(0, 1, 5);
        run(2, 6, 8);
        SigningCeiling ceiling = SigningMark.open(markFile()).map(m -> {
            SigningCeiling c = m.state().ceiling();
            m.close();
            return c;
        }).orElseThrow();
        ConsensusWalTest.deleteTree(walDir());

        ConfigException refused = assertThrows(ConfigException.class, () -> start(8, false));
        assertTrue(refused.getMessage().contains("is not the one this replica wrote"), refused.getMessage());
        assertTrue(refused.getMessage().contains("rejoin.non.voting=true"), refused.getMessage());
        assertTrue(refused.getMessage().contains("holds no WAL"), refused.getMessage());
        assertFalse(Files.exists(walDir()), "nothing made on a refusal");

        SigningRecovery.Started rejoined = start(8, true);
        assertEquals(ceiling.asFloor(), rejoined.floor());
        assertEquals(new SigningFloor(2, 1 + MARGIN), rejoined.floor(), "sequences 1..8 under the lease taken at 1");
        assertEquals(List.of(), rejoined.records());
        assertArrayEquals(rejoined.wal().identity(), rejoined.mark().state().walIdentity(), "the mark follows the new WAL");
        close(rejoined);
        SigningRecovery.Started next = start(8, false);
        assertEquals(ceiling.asFloor(), next.floor(), "the floor stays across restarts");
        close(next);
    }

    @Test
    void aWalRestoredFromAnOlderCopyIsRefused() throws Exception {
        close(start(0, false));
        run(0, 1, 4);
        Path copy = dir.resolve("wal-copy");
        Files.createDirectories(copy);
        Files.copy(walDir().resolve("data.mdb"), copy.resolve("data.mdb"));
        run(0, 5, 6);
        Files.copy(copy.resolve("data.mdb"), walDir().resolve("data.mdb"), StandardCopyOption.REPLACE_EXISTING);
        ConfigException refused = assertThrows(ConfigException.class, () -> start(6, false));
        assertTrue(refused.getMessage().contains("older than this replica's last run"), refused.getMessage());
        SigningRecovery.Started rejoined = start(6, true);
        assertEquals(new SigningFloor(0, 1 + MARGIN), rejoined.floor());
        assertEquals(1, Files.list(walDir().getParent()).filter(p -> p.getFileName().toString().startsWith("wal.set-aside-"))
                .count(), "the old WAL kept aside");
        close(rejoined);
    }

    @Test
    void aDamagedWalIsRefusedWithWhatToDo() throws Exception {
        close(start(0, false));
        run(0, 1, 40);
        try (RandomAccessFile f = new RandomAccessFile(walDir().resolve("data.mdb").toFile(), "rw")) {
            f.setLength(f.length() / 2);
        }
        ConfigException refused = assertThrows(ConfigException.class, () -> start(40, false));
        assertTrue(refused.getMessage().contains("damaged") && refused.getMessage().contains("truncated"),
                refused.getMessage());
        // Leases taken at sequence 1 (to 1 + MARGIN) and at 2 + MARGIN (to 2 + 2 * MARGIN).
        assertTrue(refused.getMessage().contains("view 0 and sequence " + (2 + 2 * MARGIN)), refused.getMessage());
        SigningRecovery.Started rejoined = start(40, true);
        assertEquals(new SigningFloor(0, 2 + 2 * MARGIN), rejoined.floor());
        close(rejoined);
    }

    @Test
    void withoutAMarkAWalIsAdoptedButBlocksWithoutRecordsAreRefused() throws Exception {
        close(start(0, false));
        run(1, 1, 3);
        Files.delete(markFile());
        SigningRecovery.Started adopted = start(3, false);
        assertEquals(SigningFloor.NONE, adopted.floor());
        assertEquals(new SigningCeiling(1, 3 + MARGIN), adopted.mark().state().ceiling(), "from the WAL's records");
        close(adopted);

        Files.delete(markFile());
        ConsensusWalTest.deleteTree(walDir());
        ConfigException refused = assertThrows(ConfigException.class, () -> start(3, true));
        assertTrue(refused.getMessage().contains("no signing mark"), refused.getMessage());
        assertFalse(Files.exists(markFile()), "nothing made up");
    }

    @Test
    void aTornMarkKeepsThePreviousStateAndABrokenOneIsRefused() throws Exception {
        close(start(0, false));
        run(0, 1, 2);
        SigningMark.State before;
        try (SigningMark m = SigningMark.open(markFile()).orElseThrow()) {
            before = m.state();
            m.write(new SigningMark.State(before.walIdentity(), before.walPosition() + 1, before.ceiling(), before.floor()),
                    true);
        }
        // Tear the slot just written: the other one, the previous state, is current.
        long current;
        try (RandomAccessFile f = new RandomAccessFile(markFile().toFile(), "rw")) {
            byte[] all = new byte[1024];
            f.readFully(all);
            current = java.util.Arrays.equals(all, 0, 8, "BFTLMARK".getBytes(), 0, 8)
                    && java.nio.ByteBuffer.wrap(all, 12, 8).getLong() > java.nio.ByteBuffer.wrap(all, 512 + 12, 8).getLong()
                    ? 0 : 512;
            f.seek(current + 40);
            f.write(0x5a);
        }
        try (SigningMark m = SigningMark.open(markFile()).orElseThrow()) {
            assertEquals(before, m.state());
        }
        Files.write(markFile(), new byte[1024]);
        ConfigException refused = assertThrows(ConfigException.class, () -> start(2, false));
        assertTrue(refused.getMessage().contains("signing mark") && refused.getMessage().contains("damaged"),
                refused.getMessage());
    }

    @Test
    void theDecisionTable() {
        byte[] id = new byte[ConsensusWal.IDENTITY_BYTES];
        byte[] other = new byte[ConsensusWal.IDENTITY_BYTES];
        other[0] = 1;
        SigningMark.State mark = new SigningMark.State(id, 10, new SigningCeiling(3, 50), SigningFloor.NONE);
        Path w = Path.of("wal");
        Path m = Path.of("mark");
        assertEquals(new SigningRecovery.Decision.Resume(SigningFloor.NONE), SigningRecovery.decide(Optional.of(mark),
                new SigningRecovery.WalFound(id, 10, null), 5, false, w, m));
        assertEquals(new SigningRecovery.Decision.Resume(SigningFloor.NONE), SigningRecovery.decide(Optional.of(mark),
                new SigningRecovery.WalFound(id, 12, null), 5, false, w, m), "the mark may lag a machine crash");
        assertInstanceOf(SigningRecovery.Decision.Refuse.class, SigningRecovery.decide(Optional.of(mark),
                new SigningRecovery.WalFound(id, 9, null), 5, false, w, m));
        assertInstanceOf(SigningRecovery.Decision.Refuse.class, SigningRecovery.decide(Optional.of(mark),
                new SigningRecovery.WalFound(other, 90, null), 5, false, w, m));
        assertEquals(new SigningFloor(3, 50), ((SigningRecovery.Decision.RejoinNonVoting) SigningRecovery.decide(
                Optional.of(mark), SigningRecovery.WalFound.damaged("x"), 5, true, w, m)).floor());
        SigningMark.State floored = new SigningMark.State(id, 10, new SigningCeiling(3, 50), new SigningFloor(7, 20));
        assertEquals(new SigningFloor(7, 50), ((SigningRecovery.Decision.RejoinNonVoting) SigningRecovery.decide(
                Optional.of(floored), new SigningRecovery.WalFound(other, 0, null), 5, true, w, m)).floor());
        assertEquals(new SigningRecovery.Decision.Create(false), SigningRecovery.decide(Optional.empty(),
                new SigningRecovery.WalFound(id, 0, null), 0, false, w, m));
        assertEquals(new SigningRecovery.Decision.Create(true), SigningRecovery.decide(Optional.empty(),
                new SigningRecovery.WalFound(id, 4, null), 9, false, w, m));
        assertInstanceOf(SigningRecovery.Decision.Refuse.class, SigningRecovery.decide(Optional.empty(),
                new SigningRecovery.WalFound(id, 0, null), 9, true, w, m));
        assertInstanceOf(SigningRecovery.Decision.Refuse.class, SigningRecovery.decide(Optional.empty(),
                SigningRecovery.WalFound.damaged("x"), 0, true, w, m));
    }
}
