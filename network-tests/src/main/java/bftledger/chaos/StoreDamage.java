package bftledger.chaos;

import bftledger.crypto.Digest;
import bftledger.node.replica.ConsensusWal;
import bftledger.pbft.Config;
import bftledger.pbft.PersistCodec;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Arrays;
import java.util.Comparator;
import java.util.stream.Stream;

/**
 * What a chaos STORAGE fault does to a stopped node's data directory, as an operator or a lying
 * disk would (the node module's StorageFaultsTest does the same to one node and checks each
 * refusal): the WAL deleted, a byte flipped in a WAL record, the WAL put back from an older
 * copy, a byte flipped in the transaction index. Each returns what it did, for the timeline.
 */
final class StoreDamage {
    static final String WAL_EMPTIED = "wal-emptied";
    static final String WAL_FLIPPED_BYTE = "wal-flipped-byte";
    static final String WAL_OLDER_COPY = "wal-older-copy";
    static final String INDEX_FLIPPED_BYTE = "index-flipped-byte";
    /** Bytes of a file searched for what is to be flipped (the index is sparse at the map size). */
    private static final long SEARCHED_BYTES_MAX = 1L << 30;
    private static final int CHUNK_BYTES = 4 << 20;

    private StoreDamage() {}

    static boolean walDamage(String damage) {
        return !damage.equals(INDEX_FLIPPED_BYTE);
    }

    static Path walFile(Path data) {
        return data.resolve("wal").resolve("data.mdb");
    }

    static String emptyWal(Path data) throws IOException {
        Path wal = data.resolve("wal");
        try (Stream<Path> walk = Files.walk(wal)) {
            for (Path p : walk.sorted(Comparator.reverseOrder()).toList()) {
                Files.delete(p);
            }
        }
        return "deleted " + wal;
    }

    /** Flips a byte in every copy of the newest record the WAL holds. */
    static String flipWalRecord(Path data, Config limits) throws IOException {
        Path reading = Files.createTempDirectory(data, "wal-read");
        byte[] record;
        try {
            Files.copy(walFile(data), reading.resolve("data.mdb"));
            try (ConsensusWal wal = ConsensusWal.open(reading, new PersistCodec(limits), 1L << 30)) {
                // The newest record (a truncated WAL may hold no signed message, but never nothing).
                record = PersistCodec.encode(wal.readAll().stream().reduce((a, b) -> b)
                        .orElseThrow(() -> new IOException("the WAL holds no record to damage")));
            }
        } finally {
            try (Stream<Path> walk = Files.walk(reading)) {
                for (Path p : walk.sorted(Comparator.reverseOrder()).toList()) {
                    Files.delete(p);
                }
            }
        }
        return "flipped a byte in " + flipEvery(walFile(data), record) + " copies of a record in " + walFile(data);
    }

    static String restoreWal(Path data, Path copy) throws IOException {
        Files.copy(copy, walFile(data), StandardCopyOption.REPLACE_EXISTING);
        return "put back the copy of " + walFile(data) + " taken before the last run";
    }

    /** Flips a byte in every copy of a transaction's id in the index: the live entry's key among them. */
    static String flipIndexEntry(Path data, Digest txId) throws IOException {
        Path index = data.resolve("ledger").resolve("txindex").resolve("data.mdb");
        return "flipped a byte in " + flipEvery(index, txId.bytes()) + " copies of transaction " + txId.shortHex() + " in " + index;
    }

    /** Flips the middle byte of every occurrence of {@code needle}, read in chunks that overlap by its length. */
    private static int flipEvery(Path file, byte[] needle) throws IOException {
        int flipped = 0;
        try (RandomAccessFile f = new RandomAccessFile(file.toFile(), "rw")) {
            long end = Math.min(f.length(), SEARCHED_BYTES_MAX);
            byte[] chunk = new byte[CHUNK_BYTES + needle.length];
            for (long base = 0; base < end; base += CHUNK_BYTES) {
                int length = (int) Math.min(chunk.length, end - base);
                f.seek(base);
                f.readFully(chunk, 0, length);
                for (int i = 0; i + needle.length <= length && i < CHUNK_BYTES; i++) {
                    if (Arrays.equals(chunk, i, i + needle.length, needle, 0, needle.length)) {
                        long at = base + i + needle.length / 2;
                        f.seek(at);
                        f.write(chunk[i + needle.length / 2] ^ 0x08);
                        flipped++;
                    }
                }
            }
        }
        if (flipped == 0) {
            throw new IOException("nothing to damage: the bytes are not in " + file);
        }
        return flipped;
    }
}
