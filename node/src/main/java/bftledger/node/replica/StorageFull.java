package bftledger.node.replica;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import org.lmdbjava.Env;
import org.lmdbjava.LmdbNativeException;

/**
 * Tells a write refused for lack of room from every other storage failure. Room can come back
 * (space freed on the disk, a larger map after a restart), and LMDB wrote nothing of the refused
 * transaction, so the node waits and tries again; any other failure is a broken disk or a bug.
 */
final class StorageFull {
    static final int EIO = 5;
    static final int ENOSPC = 28;
    static final int EDQUOT = 122;
    /**
     * LMDB reports a short write as EIO ("short write, filesystem full?" in mdb_page_flush): an EIO
     * counts as a full disk when the file system of a store has less than this left, which a
     * short write leaves behind; with more room it is an I/O error, not a state.
     */
    static final long SHORT_WRITE_ROOM_BYTES = 16L << 20;

    private StorageFull() {}

    /**
     * Why {@code failure} (or a cause of it) is a refusal for lack of room, if it is one;
     * {@code stores} are the directories whose file systems an EIO is judged by.
     */
    static Optional<String> reason(Throwable failure, List<Path> stores) {
        for (Throwable t = failure; t != null; t = t.getCause()) {
            if (t instanceof LmdbNativeException e && e.getResultCode() == EIO) {
                Optional<Long> room = leastRoom(stores);
                if (room.isPresent() && room.get() < SHORT_WRITE_ROOM_BYTES) {
                    return Optional.of("a short write, reported by LMDB as EIO, with " + room.get() + " bytes left on the device");
                }
            }
            if (t instanceof Env.MapFullException) {
                return Optional.of("the LMDB map is full (MDB_MAP_FULL): raise tuning.lmdb.map.size.bytes and restart");
            }
            if (t instanceof LmdbNativeException e && (e.getResultCode() == ENOSPC || e.getResultCode() == EDQUOT)) {
                return Optional.of(e.getResultCode() == ENOSPC ? "no space left on the device (ENOSPC)"
                        : "the disk quota is exhausted (EDQUOT)");
            }
            if (t instanceof IOException && t.getMessage() != null
                    && (t.getMessage().contains("No space left on device") || t.getMessage().contains("Disk quota exceeded"))) {
                return Optional.of(t.getMessage());
            }
        }
        return Optional.empty();
    }

    private static Optional<Long> leastRoom(List<Path> stores) {
        long least = Long.MAX_VALUE;
        for (Path dir : stores) {
            try {
                least = Math.min(least, Files.getFileStore(dir).getUsableSpace());
            } catch (IOException e) {
                return Optional.empty();
            }
        }
        return least == Long.MAX_VALUE ? Optional.empty() : Optional.of(least);
    }
}
