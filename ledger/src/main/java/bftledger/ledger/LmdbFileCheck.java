package bftledger.ledger;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * Checks an existing LMDB data file before LMDB maps it. LMDB keeps no checksums and reads pages
 * through a memory map, so touching a page past the end of a truncated file kills the process
 * (SIGBUS) instead of raising an error, and a file cut below its two meta pages would be silently
 * re-initialized as an empty database. Both are refused here from the meta pages alone.
 *
 * <p>Layout (LMDB 0.9, 64-bit): meta pages 0 and 1 each start with a 16-byte page header, then
 * MDB_meta: magic u32 at 16, version u32 at 20, the free DB's md_pad (= page size) u32 at 40,
 * mm_last_pg u64 at 136, mm_txnid u64 at 144; little-endian. The meta with the larger txnid is
 * current; the file must hold pages 0..mm_last_pg.
 */
final class LmdbFileCheck {
    static final int MAGIC = 0xBEEFC0DE;
    private static final int META_HEADER_BYTES = 152;

    private LmdbFileCheck() {}

    static void check(Path dataFile) {
        long size;
        try {
            size = Files.size(dataFile);
        } catch (IOException e) {
            throw new StoreCorruptedException("cannot read the size of " + dataFile + ": " + e.getMessage(), e);
        }
        if (size < META_HEADER_BYTES) {
            throw new StoreCorruptedException(dataFile + " is truncated: " + size + " bytes, smaller than an LMDB meta page");
        }
        try (FileChannel ch = FileChannel.open(dataFile, StandardOpenOption.READ)) {
            Meta first = readMeta(ch, 0, dataFile);
            long pageSize = first.pageSize;
            if (pageSize < 512 || pageSize > 65536 || Long.bitCount(pageSize) != 1) {
                throw new StoreCorruptedException(dataFile + ": meta page 0 gives page size " + pageSize);
            }
            if (size < 2 * pageSize) {
                throw new StoreCorruptedException(dataFile + " is truncated: " + size + " bytes, less than the two meta pages of "
                        + pageSize + " bytes");
            }
            Meta second = readMeta(ch, pageSize, dataFile);
            Meta current = Long.compareUnsigned(second.txnId, first.txnId) > 0 ? second : first;
            long needed = (current.lastPage + 1) * pageSize;
            if (current.lastPage < 1 || size < needed) {
                throw new StoreCorruptedException(dataFile + " is truncated: " + size + " bytes, but the LMDB meta page (txn "
                        + current.txnId + ") uses pages up to " + current.lastPage + ", which needs " + needed + " bytes");
            }
        } catch (IOException e) {
            throw new StoreCorruptedException("cannot read " + dataFile + ": " + e.getMessage(), e);
        }
    }

    private record Meta(long pageSize, long lastPage, long txnId) {}

    private static Meta readMeta(FileChannel ch, long offset, Path file) throws IOException {
        ByteBuffer buf = ByteBuffer.allocate(META_HEADER_BYTES).order(ByteOrder.LITTLE_ENDIAN);
        while (buf.hasRemaining()) {
            if (ch.read(buf, offset + buf.position()) < 0) {
                throw new StoreCorruptedException(file + " is truncated inside the meta page at offset " + offset);
            }
        }
        int magic = buf.getInt(16);
        if (magic != MAGIC) {
            throw new StoreCorruptedException(file + ": no LMDB meta page at offset " + offset + " (magic "
                    + Integer.toHexString(magic) + ")");
        }
        return new Meta(Integer.toUnsignedLong(buf.getInt(40)), buf.getLong(136), buf.getLong(144));
    }
}
