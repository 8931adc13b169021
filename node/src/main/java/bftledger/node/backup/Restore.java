package bftledger.node.backup;

import bftledger.ledger.BlockStore;
import bftledger.ledger.ChainGenesis;
import bftledger.ledger.LmdbFileCheck;
import bftledger.ledger.StoreCorruptedException;
import bftledger.node.config.ConfigException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Optional;
import java.util.Set;
import java.util.stream.Stream;

/**
 * Installs a verified backup as a node's data directory. The stores are copied into a sibling
 * staging directory, checked again there (checksums of the copies, then the block store opened
 * as the node opens it: tip block, certificate, state tree against the tip's state root, the
 * transaction index rebuilt from the blocks), and only then renamed into place. A directory that
 * holds anything is replaced only when asked, and then moved aside, never deleted. Any refusal
 * leaves the data directory as it was.
 *
 * <p>No consensus WAL is ever installed: the restored node finds none, its signing mark (outside
 * the data directory) names the WAL it last wrote, so it starts only with
 * {@code --rejoin-non-voting} and then signs nothing up to the mark's ceiling (BackupRestoreTest).
 */
public final class Restore {
    /** Entries of a data directory that do not make it "in use": the lock file and the admin token. */
    private static final Set<String> IGNORED = Set.of("LOCK", AdminToken.FILE);

    private Restore() {}

    /** What was done: the data directory now holding the backup, and where its former contents went. */
    public record Installed(Path dataDir, Optional<Path> setAside, long height) {}

    public static Installed install(BackupCheck.Verified backup, ChainGenesis genesis, Path dataDir, boolean replace,
            long mapSizeBytes) throws ConfigException, IOException {
        Path data = dataDir.toAbsolutePath().normalize();
        if (data.getParent() == null || !Files.isDirectory(data.getParent())) {
            throw new ConfigException("cannot restore into " + data + ": its parent directory does not exist");
        }
        long stamp = System.currentTimeMillis();
        Path staging = data.resolveSibling(data.getFileName() + ".restoring-" + stamp);
        try (DataDirLock lock = Files.isDirectory(data) ? DataDirLock.take(data) : null) {
            boolean holdsSomething = holdsSomething(data);
            if (holdsSomething && !replace) {
                throw new ConfigException(data + " is not empty (it holds a node's stores). Nothing was changed. To put"
                        + " the backup in its place, stop the node and run restore again with --replace: the directory is"
                        + " then moved aside to " + data.getFileName() + ".replaced-<time>, not deleted.");
            }
            try {
                stage(backup, genesis, staging, mapSizeBytes);
                Optional<Path> aside = Optional.empty();
                if (holdsSomething) {
                    aside = Optional.of(data.resolveSibling(data.getFileName() + ".replaced-" + stamp));
                    Files.move(data, aside.get(), StandardCopyOption.ATOMIC_MOVE);
                } else if (Files.isDirectory(data)) {
                    NodeBackup.deleteTree(data);
                }
                Files.move(staging, data, StandardCopyOption.ATOMIC_MOVE);
                NodeBackup.fsync(data.getParent(), true);
                return new Installed(data, aside, backup.manifest().height());
            } finally {
                NodeBackup.deleteTree(staging);
            }
        }
    }

    private static boolean holdsSomething(Path data) throws IOException {
        if (!Files.isDirectory(data)) {
            return Files.exists(data);
        }
        try (Stream<Path> in = Files.list(data)) {
            return in.anyMatch(p -> !IGNORED.contains(p.getFileName().toString()));
        }
    }

    /** Copies the backup's stores into {@code staging} and checks them as a node would open them. */
    private static void stage(BackupCheck.Verified backup, ChainGenesis genesis, Path staging, long mapSizeBytes)
            throws ConfigException, IOException {
        for (BackupManifest.FileEntry f : backup.manifest().files()) {
            Path to = staging.resolve(f.path());
            Files.createDirectories(to.getParent());
            Files.copy(backup.dir().resolve(f.path()), to);
            if (!BackupManifest.entryOf(to, f.path()).equals(f)) {
                throw new ConfigException("the copy of " + f.path() + " in " + staging + " does not match the manifest"
                        + " (a failing disk?). Nothing was changed.");
            }
            NodeBackup.fsync(to, false);
        }
        Path evidence = staging.resolve(BackupCheck.EVIDENCE).resolve("data.mdb");
        long size = Files.size(staging.resolve(BackupCheck.LEDGER).resolve("data.mdb"));
        try {
            if (Files.exists(evidence)) {
                LmdbFileCheck.checkPages(evidence, null);
            }
            // Opening builds the transaction index and checks the tip as the node will; closing syncs it.
            try (BlockStore store = BlockStore.open(staging.resolve(BackupCheck.LEDGER), genesis,
                    Math.max(mapSizeBytes, 2 * size))) {
                if (store.height() != backup.manifest().height()) {
                    throw new ConfigException("the restored store opens at height " + store.height() + ", the manifest"
                            + " says " + backup.manifest().height() + ". Nothing was changed.");
                }
            }
        } catch (StoreCorruptedException e) {
            throw new ConfigException("the backup's stores do not open: " + e.getMessage() + ". Nothing was changed.", e);
        }
        for (String d : new String[] {BackupCheck.LEDGER, BackupCheck.EVIDENCE, ""}) {
            if (Files.isDirectory(staging.resolve(d))) {
                NodeBackup.fsync(staging.resolve(d), true);
            }
        }
    }
}
