package bftledger.node.backup;

import bftledger.node.config.ConfigException;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.OverlappingFileLockException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * Whether a node runs on a data directory: the node holds an exclusive lock on {@code data/LOCK}
 * for its whole life (ReplicaNode), and an open store holds {@code data/ledger/LOCK}. Backup and
 * restore take the first for as long as they work on a stopped node's directory, so a node
 * started meanwhile refuses rather than opening stores half copied.
 */
public final class DataDirLock implements AutoCloseable {
    private final FileChannel channel;

    private DataDirLock(FileChannel channel) {
        this.channel = channel;
    }

    /** Whether a running process holds {@code dataDir}; false when the directory does not exist. */
    public static boolean inUse(Path dataDir) throws ConfigException {
        if (!Files.isDirectory(dataDir)) {
            return false;
        }
        DataDirLock lock = tryTake(dataDir);
        if (lock == null) {
            return true;
        }
        lock.close();
        return false;
    }

    /** Takes the data directory's lock; refused when a node (or a tool with its store open) holds it. */
    public static DataDirLock take(Path dataDir) throws ConfigException {
        DataDirLock lock = tryTake(dataDir);
        if (lock == null) {
            throw new ConfigException(dataDir + " is in use by a running node (or a tool that has its store open):"
                    + " its LOCK file is locked. Stop the node first. Nothing was changed.");
        }
        return lock;
    }

    /** The lock, or null when another holder has the directory or its store. */
    private static DataDirLock tryTake(Path dataDir) throws ConfigException {
        Path storeLock = dataDir.resolve(BackupCheck.LEDGER).resolve("LOCK");
        if (Files.exists(storeLock)) {
            FileChannel ch = open(storeLock);
            if (ch == null) {
                return null;
            }
            close(ch);
        }
        FileChannel ch = open(dataDir.resolve("LOCK"));
        return ch == null ? null : new DataDirLock(ch);
    }

    /** The file, open and locked, or null when another holder has it locked. */
    private static FileChannel open(Path lockFile) throws ConfigException {
        FileChannel ch = null;
        try {
            ch = FileChannel.open(lockFile, StandardOpenOption.CREATE, StandardOpenOption.WRITE);
            if (ch.tryLock() == null) {
                ch.close();
                return null;
            }
            return ch;
        } catch (OverlappingFileLockException e) {
            close(ch);
            return null;
        } catch (IOException e) {
            close(ch);
            throw new ConfigException("cannot lock " + lockFile + ": " + e.getMessage(), e);
        }
    }

    private static void close(FileChannel ch) {
        try {
            if (ch != null) {
                ch.close();
            }
        } catch (IOException ignored) {
            // nothing held
        }
    }

    @Override
    public void close() {
        close(channel);
    }
}
