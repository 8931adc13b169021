package bftledger.ledger;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * One owner for a store directory: at most once per process (LMDB forbids opening one environment
 * twice in a process, its locks being per process) and once across processes (a lock file, so an
 * audit cannot open a store under a running node). Released by {@link #close()}.
 */
final class StoreLock implements AutoCloseable {
    /** Locked while the store is open. */
    static final String LOCK_FILE = "LOCK";
    private static final Set<Path> OPEN = ConcurrentHashMap.newKeySet();

    final Path dir;
    private final FileChannel channel;

    private StoreLock(Path dir, FileChannel channel) {
        this.dir = dir;
        this.channel = channel;
    }

    /** Creates {@code dir} if needed and takes it; refused when this or another process holds it. */
    static StoreLock take(Path dir) {
        try {
            Files.createDirectories(dir);
        } catch (IOException e) {
            throw new IllegalStateException("cannot create store directory " + dir, e);
        }
        Path key;
        try {
            key = dir.toRealPath();
        } catch (IOException e) {
            throw new IllegalStateException("cannot resolve store directory " + dir, e);
        }
        if (!OPEN.add(key)) {
            throw new IllegalStateException("store " + key + " is already open in this process");
        }
        FileChannel ch = null;
        try {
            ch = FileChannel.open(key.resolve(LOCK_FILE), StandardOpenOption.CREATE, StandardOpenOption.WRITE);
            if (ch.tryLock() == null) {
                throw new StoreInUseException("store " + key + " is open in another process (its " + LOCK_FILE
                        + " file is locked); stop that process first, or audit a copy of a stopped node's store");
            }
            return new StoreLock(key, ch);
        } catch (IOException e) {
            closeQuietly(ch);
            OPEN.remove(key);
            throw new IllegalStateException("cannot lock store " + key + ": " + e.getMessage(), e);
        } catch (RuntimeException e) {
            closeQuietly(ch);
            OPEN.remove(key);
            throw e;
        }
    }

    @Override
    public void close() {
        closeQuietly(channel);
        OPEN.remove(dir);
    }

    private static void closeQuietly(FileChannel ch) {
        if (ch != null) {
            try {
                ch.close();
            } catch (IOException ignored) {
                // releasing the lock was all that was left to do
            }
        }
    }
}
