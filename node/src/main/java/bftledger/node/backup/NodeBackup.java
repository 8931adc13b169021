package bftledger.node.backup;

import bftledger.crypto.PublicKey;
import bftledger.ledger.BlockStore;
import bftledger.ledger.ChainGenesis;
import bftledger.ledger.StoreCopy;
import bftledger.node.config.ConfigException;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Stream;

/**
 * Writes a backup of a node's stores into a new directory: the block store (LMDB's compacting
 * copy, consistent as of one commit) and the evidence store, then the manifest. Nothing else:
 * the transaction index is derived from the blocks and rebuilt when the restored store first
 * opens, and the consensus WAL is never backed up, because a replica restarted from an older
 * record of what it signed could sign a second, conflicting vote (docs/operations.md,
 * BackupRestoreTest). The two stores need not agree with each other: evidence is proof about
 * peers, valid at any height.
 *
 * <p>The backup is written into a sibling {@code <target>.partial-<millis>} and renamed into place
 * once complete and synced, so a directory named as the target is always a whole backup.
 */
public final class NodeBackup {
    private NodeBackup() {}

    /** Copies an evidence store's environment into an empty directory; false when there is none to copy. */
    @FunctionalInterface
    public interface EvidenceCopy {
        boolean copyTo(Path target);
    }

    /** Who is backed up: recorded in the manifest. */
    public record Source(ChainGenesis genesis, int replica, PublicKey nodeKey, String mode) {}

    /**
     * Copies {@code store} and {@code evidence} (null: none) into {@code target}, which must not
     * exist or be an empty directory, while the node may keep appending.
     *
     * @throws ConfigException when the target is unusable; nothing is left behind
     */
    public static BackupManifest write(BlockStore store, EvidenceCopy evidence, Source source, Path target)
            throws ConfigException, IOException {
        checkTarget(target);
        Path staging = target.resolveSibling(target.getFileName() + ".partial-" + System.currentTimeMillis());
        try {
            long start = System.nanoTime();
            Instant created = Instant.now();
            Files.createDirectories(staging.resolve(BackupCheck.LEDGER));
            StoreCopy.Head head = store.copyTo(staging.resolve(BackupCheck.LEDGER));
            List<String> files = new ArrayList<>(List.of(BackupCheck.LEDGER + "/" + StoreCopy.DATA_FILE));
            if (evidence != null) {
                Files.createDirectories(staging.resolve(BackupCheck.EVIDENCE));
                if (evidence.copyTo(staging.resolve(BackupCheck.EVIDENCE))) {
                    files.add(BackupCheck.EVIDENCE + "/" + StoreCopy.DATA_FILE);
                }
            }
            long copyMillis = (System.nanoTime() - start) / 1_000_000;
            List<BackupManifest.FileEntry> entries = new ArrayList<>();
            for (String f : files) {
                entries.add(BackupManifest.entryOf(staging.resolve(f), f));
                fsync(staging.resolve(f), false);
            }
            BackupManifest manifest = new BackupManifest(BackupManifest.FORMAT, BackupManifest.FORMAT_VERSION,
                    head.formatVersion(), head.chainId(), head.genesisHash().hex(), source.replica(), source.nodeKey().hex(),
                    head.height(), head.tipHash().hex(), head.stateRoot().hex(), created.toString(), created.toEpochMilli(),
                    source.mode(), copyMillis, entries);
            Files.writeString(staging.resolve(BackupManifest.FILE), manifest.toJson());
            fsync(staging.resolve(BackupManifest.FILE), false);
            for (String d : List.of(BackupCheck.LEDGER, BackupCheck.EVIDENCE)) {
                if (Files.isDirectory(staging.resolve(d))) {
                    fsync(staging.resolve(d), true);
                }
            }
            fsync(staging, true);
            if (Files.isDirectory(target)) {
                Files.delete(target);
            }
            Files.move(staging, target, StandardCopyOption.ATOMIC_MOVE);
            fsync(target.toAbsolutePath().getParent(), true);
            return manifest;
        } catch (IOException | RuntimeException e) {
            deleteTree(staging);
            throw e;
        }
    }

    /**
     * The evidence copy of a stopped node: its environment mapped read-only and without a lock
     * file (the caller holds the data directory's lock), after the page check every store gets.
     */
    public static EvidenceCopy offlineEvidence(Path evidenceDir) {
        return target -> {
            Path file = evidenceDir.resolve(StoreCopy.DATA_FILE);
            if (!Files.isRegularFile(file)) {
                return false;
            }
            bftledger.ledger.LmdbFileCheck.checkPages(file, null);
            long size;
            try {
                size = Files.size(file);
            } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
            try (org.lmdbjava.Env<byte[]> env = org.lmdbjava.Env.create(org.lmdbjava.ByteArrayProxy.PROXY_BA)
                    .setMapSize(Math.max(size, 1L << 20)).setMaxDbs(1)
                    .open(evidenceDir.toFile(), org.lmdbjava.EnvFlags.MDB_RDONLY_ENV, org.lmdbjava.EnvFlags.MDB_NOLOCK)) {
                env.copy(target.toFile(), org.lmdbjava.CopyFlags.MDB_CP_COMPACT);
            }
            return true;
        };
    }

    /** The target must be new or an empty directory, with a parent that exists. */
    static void checkTarget(Path target) throws ConfigException {
        Path parent = target.toAbsolutePath().getParent();
        if (parent == null || !Files.isDirectory(parent)) {
            throw new ConfigException("cannot write a backup to " + target + ": its parent directory does not exist");
        }
        if (Files.exists(target)) {
            if (!Files.isDirectory(target)) {
                throw new ConfigException("cannot write a backup to " + target + ": it is a file");
            }
            try (Stream<Path> in = Files.list(target)) {
                if (in.findAny().isPresent()) {
                    throw new ConfigException("cannot write a backup to " + target + ": the directory is not empty"
                            + " (a backup never overwrites anything; name a new directory)");
                }
            } catch (IOException e) {
                throw new ConfigException("cannot read " + target + ": " + e.getMessage(), e);
            }
        }
    }

    static void fsync(Path path, boolean directory) throws IOException {
        try (FileChannel ch = FileChannel.open(path, directory ? StandardOpenOption.READ : StandardOpenOption.WRITE)) {
            ch.force(true);
        }
    }

    static void deleteTree(Path dir) {
        if (!Files.exists(dir)) {
            return;
        }
        try (Stream<Path> walk = Files.walk(dir)) {
            for (Path p : walk.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        } catch (IOException e) {
            // Best effort on a failure path; the name says it is partial.
        }
    }
}
