package bftledger.node.backup;

import bftledger.ledger.ChainGenesis;
import bftledger.ledger.StoreCopy;
import bftledger.ledger.StoreCorruptedException;
import bftledger.node.config.ConfigException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Checks a backup before anything uses it: its manifest, every file's size and SHA-256, that the
 * backup is of this network, and that the block store it holds states the head the manifest
 * names. Reads only; a refusal says which file and what is wrong (BackupManifestTest).
 */
public final class BackupCheck {
    /** The block store's directory inside a backup (and inside a data directory). */
    public static final String LEDGER = "ledger";
    /** The evidence store's directory inside a backup (and inside a data directory). */
    public static final String EVIDENCE = "evidence";

    private BackupCheck() {}

    /** A backup that passed: its manifest and the head its block store states. */
    public record Verified(Path dir, BackupManifest manifest, StoreCopy.Head head) {}

    /**
     * @param genesis the network the backup must belong to; null to take the manifest's word
     * @throws ConfigException naming the first problem found
     */
    public static Verified verify(Path backupDir, ChainGenesis genesis) throws ConfigException {
        if (!Files.isDirectory(backupDir)) {
            throw new ConfigException(backupDir + " is not a directory");
        }
        BackupManifest m = BackupManifest.read(backupDir);
        if (genesis != null && (!genesis.chainId().equals(m.chainId()) || !genesis.hash().hex().equals(m.genesisHash()))) {
            throw new ConfigException("the backup in " + backupDir + " is of network " + m.chainId() + " (genesis "
                    + m.genesisHash() + "), not of " + genesis.chainId() + " (genesis " + genesis.hash().hex() + ")");
        }
        String ledgerFile = LEDGER + "/" + StoreCopy.DATA_FILE;
        if (m.files().stream().noneMatch(f -> f.path().equals(ledgerFile))) {
            throw new ConfigException(backupDir.resolve(BackupManifest.FILE) + " lists no " + ledgerFile);
        }
        for (BackupManifest.FileEntry f : m.files()) {
            checkFile(backupDir, f);
        }
        StoreCopy.Head head;
        try {
            head = StoreCopy.head(backupDir.resolve(LEDGER));
        } catch (StoreCorruptedException e) {
            throw new ConfigException("the block store in the backup " + backupDir + " does not read: " + e.getMessage(), e);
        }
        if (head.height() != m.height() || !head.tipHash().hex().equals(m.lastBlockHash())
                || !head.stateRoot().hex().equals(m.stateRoot()) || head.formatVersion() != m.storeFormatVersion()
                || !head.chainId().equals(m.chainId()) || !head.genesisHash().hex().equals(m.genesisHash())) {
            throw new ConfigException("the block store in the backup " + backupDir + " is at height " + head.height()
                    + " with tip " + head.tipHash().hex() + ", its manifest says height " + m.height() + " with tip "
                    + m.lastBlockHash() + ": the manifest does not describe these files");
        }
        return new Verified(backupDir, m, head);
    }

    private static void checkFile(Path backupDir, BackupManifest.FileEntry f) throws ConfigException {
        Path file = backupDir.resolve(f.path());
        if (!Files.isRegularFile(file)) {
            throw new ConfigException("the backup " + backupDir + " is missing " + f.path() + ", which its manifest lists");
        }
        BackupManifest.FileEntry actual;
        try {
            actual = BackupManifest.entryOf(file, f.path());
        } catch (IOException e) {
            throw new ConfigException("cannot read " + file + ": " + e.getMessage(), e);
        }
        if (actual.bytes() != f.bytes()) {
            throw new ConfigException(file + " is " + actual.bytes() + " bytes, the manifest says " + f.bytes()
                    + " (truncated or changed after the backup)");
        }
        if (!actual.sha256().equals(f.sha256())) {
            throw new ConfigException(file + " has SHA-256 " + actual.sha256() + ", the manifest says " + f.sha256()
                    + " (damaged or changed after the backup)");
        }
    }
}
