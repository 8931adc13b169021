package bftledger.ledger;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Comparator;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** Directory housekeeping for what is built beside a store and renamed into place: snapshots, state sync. */
public final class DurableFiles {
    private static final Logger log = LoggerFactory.getLogger(DurableFiles.class);

    private DurableFiles() {}

    /**
     * Makes the entries of {@code dir} (a file created or renamed in it) durable. Some file
     * systems refuse to sync a directory; the entry is then as durable as they make it.
     */
    public static void syncDirectory(Path dir) {
        try (FileChannel ch = FileChannel.open(dir, StandardOpenOption.READ)) {
            ch.force(true);
        } catch (IOException e) {
            log.debug("event=dir-sync-unsupported path={} error=\"{}\"", dir, e.toString());
        }
    }

    /** Deletes {@code root} and everything under it; nothing when it does not exist. */
    public static void deleteTree(Path root) throws IOException {
        if (!Files.exists(root)) {
            return;
        }
        try (Stream<Path> walk = Files.walk(root)) {
            for (Path p : walk.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        }
    }
}
