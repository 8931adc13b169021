package bftledger.node.backup;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import bftledger.crypto.KeyPair;
import bftledger.crypto.PublicKey;
import bftledger.ledger.BlockStore;
import bftledger.ledger.ChainGenesis;
import bftledger.ledger.Transactions;
import bftledger.ledger.VerifiedTransaction;
import bftledger.node.config.ConfigException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeMap;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A backup is used only as its manifest describes it: a byte changed in any file, a file missing,
 * a manifest that names another head or another network, or a manifest that is not one, is
 * refused with the reason, and a refused restore leaves the data directory as it was. A restore
 * refuses a directory in use or holding stores unless told to move it aside.
 */
class BackupManifestTest {
    private static final String CHAIN = "bftledger-backup-test";
    private static final int BLOCKS = 12;

    @TempDir
    Path tmp;

    private final List<KeyPair> validators = new ArrayList<>();
    private KeyPair alice;
    private KeyPair bob;
    private ChainGenesis genesis;
    private Path backup;

    @BeforeEach
    void backUpAStore() throws Exception {
        for (int i = 0; i < 4; i++) {
            validators.add(KeyPair.deterministic("backup-validator-" + i));
        }
        alice = KeyPair.deterministic("backup-alice");
        bob = KeyPair.deterministic("backup-bob");
        genesis = genesis(CHAIN);
        try (BlockStore store = BlockStore.open(tmp.resolve("node").resolve("ledger"), genesis)) {
            for (int b = 1; b <= BLOCKS; b++) {
                append(store, List.of(Transactions.signVerified(
                        Transactions.transfer(CHAIN, alice.publicKey(), b, bob.publicKey(), 5), alice)));
            }
            backup = tmp.resolve("backup");
            BackupManifest m = NodeBackup.write(store, NodeBackup.offlineEvidence(tmp.resolve("node").resolve("evidence")),
                    new NodeBackup.Source(genesis, 2, validators.get(2).publicKey(), "offline"), backup);
            assertEquals(BLOCKS, m.height());
            assertEquals(store.tip().hash().hex(), m.lastBlockHash());
            assertEquals(store.tip().stateRoot().hex(), m.stateRoot());
        }
    }

    @Test
    void anIntactBackupVerifiesAndRestoresToItsHead() throws Exception {
        BackupCheck.Verified v = BackupCheck.verify(backup, genesis);
        assertEquals(BLOCKS, v.head().height());
        Path data = tmp.resolve("restored");
        Restore.Installed installed = Restore.install(v, genesis, data, false, 64L << 20);
        assertEquals(BLOCKS, installed.height());
        assertFalse(Files.exists(data.resolve("wal")), "a restore never installs a consensus WAL");
        try (BlockStore store = BlockStore.open(data.resolve("ledger"), genesis)) {
            assertEquals(v.manifest().lastBlockHash(), store.tip().hash().hex());
            assertEquals(5L * BLOCKS, store.balance(bob.publicKey()), "the restored state is the backed-up one");
        }
    }

    @Test
    void oneFlippedByteInTheBlockStoreIsRefusedWithItsReason() throws Exception {
        Path file = backup.resolve("ledger").resolve("data.mdb");
        try (RandomAccessFile f = new RandomAccessFile(file.toFile(), "rw")) {
            long at = f.length() / 2;
            f.seek(at);
            int b = f.read();
            f.seek(at);
            f.write(b ^ 0x01);
        }
        ConfigException e = assertThrows(ConfigException.class, () -> BackupCheck.verify(backup, genesis));
        assertTrue(e.getMessage().contains("SHA-256") && e.getMessage().contains("ledger/data.mdb"), e.getMessage());
        assertRestoreRefusedAndNothingChanged("SHA-256");
    }

    @Test
    void aTruncatedFileIsRefused() throws Exception {
        Path file = backup.resolve("ledger").resolve("data.mdb");
        try (RandomAccessFile f = new RandomAccessFile(file.toFile(), "rw")) {
            f.setLength(f.length() - 4096);
        }
        ConfigException e = assertThrows(ConfigException.class, () -> BackupCheck.verify(backup, genesis));
        assertTrue(e.getMessage().contains("bytes, the manifest says"), e.getMessage());
    }

    @Test
    void aMissingFileIsRefused() throws Exception {
        Files.delete(backup.resolve("ledger").resolve("data.mdb"));
        ConfigException e = assertThrows(ConfigException.class, () -> BackupCheck.verify(backup, genesis));
        assertTrue(e.getMessage().contains("is missing ledger/data.mdb"), e.getMessage());
        assertRestoreRefusedAndNothingChanged("missing");
    }

    @Test
    void aManifestNamingAnotherHeadIsRefused() throws Exception {
        Path manifest = backup.resolve(BackupManifest.FILE);
        Files.writeString(manifest, Files.readString(manifest).replace("\"height\" : " + BLOCKS, "\"height\" : " + (BLOCKS + 1)));
        ConfigException e = assertThrows(ConfigException.class, () -> BackupCheck.verify(backup, genesis));
        assertTrue(e.getMessage().contains("the manifest does not describe these files"), e.getMessage());
    }

    @Test
    void aManifestThatIsNotOneOrIsMissingIsRefused() throws Exception {
        Path manifest = backup.resolve(BackupManifest.FILE);
        Files.writeString(manifest, "{\"format\": \"bftledger-backup\", \"files\": ");
        ConfigException e = assertThrows(ConfigException.class, () -> BackupCheck.verify(backup, genesis));
        assertTrue(e.getMessage().contains("is not a backup manifest"), e.getMessage());
        Files.delete(manifest);
        e = assertThrows(ConfigException.class, () -> BackupCheck.verify(backup, genesis));
        assertTrue(e.getMessage().contains("has no manifest.json"), e.getMessage());
    }

    @Test
    void aManifestNamingAFileOutsideTheBackupIsRefused() throws Exception {
        Path manifest = backup.resolve(BackupManifest.FILE);
        Files.writeString(manifest, Files.readString(manifest).replace("\"evidence/data.mdb\"", "\"../escape\"")
                .replace("\"ledger/data.mdb\"", "\"../escape\""));
        ConfigException e = assertThrows(ConfigException.class, () -> BackupCheck.verify(backup, genesis));
        assertTrue(e.getMessage().contains("outside the backup"), e.getMessage());
    }

    @Test
    void aBackupOfAnotherNetworkIsRefused() {
        ConfigException e = assertThrows(ConfigException.class, () -> BackupCheck.verify(backup, genesis("another-chain")));
        assertTrue(e.getMessage().contains("is of network " + CHAIN), e.getMessage());
    }

    @Test
    void restoreRefusesADirectoryHoldingStoresUnlessToldAndThenMovesItAside() throws Exception {
        Path data = Files.createDirectories(tmp.resolve("occupied"));
        Files.createDirectories(data.resolve("wal"));
        Files.writeString(data.resolve("wal").resolve("data.mdb"), "the node's own WAL");
        BackupCheck.Verified v = BackupCheck.verify(backup, genesis);
        ConfigException e = assertThrows(ConfigException.class, () -> Restore.install(v, genesis, data, false, 64L << 20));
        assertTrue(e.getMessage().contains("--replace"), e.getMessage());
        assertEquals("the node's own WAL", Files.readString(data.resolve("wal").resolve("data.mdb")));
        Restore.Installed installed = Restore.install(v, genesis, data, true, 64L << 20);
        assertTrue(installed.setAside().isPresent());
        assertEquals("the node's own WAL", Files.readString(installed.setAside().get().resolve("wal").resolve("data.mdb")));
        assertFalse(Files.exists(data.resolve("wal")), "the replaced directory's WAL is not carried over");
    }

    @Test
    void restoreRefusesADirectoryInUse() throws Exception {
        Path data = Files.createDirectories(tmp.resolve("running"));
        try (DataDirLock held = DataDirLock.take(data)) {
            BackupCheck.Verified v = BackupCheck.verify(backup, genesis);
            ConfigException e = assertThrows(ConfigException.class, () -> Restore.install(v, genesis, data, true, 64L << 20));
            assertTrue(e.getMessage().contains("in use by a running node"), e.getMessage());
        }
        try (var in = Files.list(data)) {
            assertEquals(List.of("LOCK"), in.map(p -> p.getFileName().toString()).toList());
        }
    }

    @Test
    void aBackupNeverWritesIntoADirectoryThatHoldsSomething() throws Exception {
        Path target = Files.createDirectories(tmp.resolve("full"));
        Files.writeString(target.resolve("keep"), "x");
        try (BlockStore store = BlockStore.open(tmp.resolve("node").resolve("ledger"), genesis)) {
            ConfigException e = assertThrows(ConfigException.class, () -> NodeBackup.write(store, t -> false,
                    new NodeBackup.Source(genesis, 2, validators.get(2).publicKey(), "offline"), target));
            assertTrue(e.getMessage().contains("not empty"), e.getMessage());
        }
        assertEquals("x", Files.readString(target.resolve("keep")));
    }

    private void assertRestoreRefusedAndNothingChanged(String reason) throws Exception {
        Path data = Files.createDirectories(tmp.resolve("untouched"));
        Files.writeString(data.resolve("marker"), "before");
        ConfigException e = assertThrows(ConfigException.class, () -> Restore.install(BackupCheck.verify(backup, genesis),
                genesis, data, true, 64L << 20));
        assertTrue(e.getMessage().contains(reason), e.getMessage());
        assertEquals("before", Files.readString(data.resolve("marker")));
        try (var siblings = Files.list(tmp)) {
            assertTrue(siblings.noneMatch(p -> p.getFileName().toString().contains(".replaced-")
                    || p.getFileName().toString().contains(".restoring-")), "nothing moved or staged");
        }
    }

    private ChainGenesis genesis(String chain) {
        List<bftledger.ledger.proto.Validator> vs = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            vs.add(ChainGenesis.validator(validators.get(i).publicKey(), "node" + i + ":7000", "node" + i));
        }
        TreeMap<PublicKey, Long> balances = new TreeMap<>();
        balances.put(alice.publicKey(), 1_000L);
        return ChainGenesis.build(chain, vs, balances, 1_700_000_000_000L);
    }

    /** The next block, anchoring the one before as a primary does, certified by validators 0..2. */
    private void append(BlockStore store, List<VerifiedTransaction> txs) {
        bftledger.node.TestBlocks.append(store, genesis, validators, txs);
    }
}
