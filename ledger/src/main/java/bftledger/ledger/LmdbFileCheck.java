package bftledger.ledger;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayDeque;
import java.util.BitSet;

/**
 * Checks an existing LMDB data file before LMDB maps it. LMDB keeps no checksums and reads pages
 * through a memory map, so touching a page past the end of a truncated file kills the process
 * (SIGBUS) instead of raising an error, and a file cut below its two meta pages would be silently
 * re-initialized as an empty database. A file that holds every page up to its meta page's last
 * one is whole; but a page allocated and freed within one transaction at the end of the file is
 * counted in the meta page and never written, so a healthy file can end a few pages short of it.
 * {@link #checkPages} reads every page the current meta page reaches, each of which must lie in
 * the file, with the bounds LMDB trusts without checking (node offsets, key and data sizes, child
 * and overflow page numbers, free-list page numbers), so that a cut or a flipped byte anywhere in
 * the tree is refused here rather than followed by LMDB outside the file or the map.
 * {@link #check} reads only the meta pages when the file holds every page they count, and the
 * reachable pages as {@link #checkPages} does when it falls short (LmdbFileCheckTest). What
 * neither can see is a flipped byte inside a key or value: callers that need that keep a checksum
 * in the value (the consensus WAL, the transaction index).
 *
 * <p>Layout (LMDB 0.9, 64-bit, little-endian). Meta pages 0 and 1: a 16-byte page header, then
 * MDB_meta: magic u32 at 16, version u32 at 20, the free DB's MDB_db at 40 (md_pad = page size),
 * the main DB's MDB_db at 88, mm_last_pg u64 at 136, mm_txnid u64 at 144; the meta with the larger
 * txnid is current and the file must hold pages 0..mm_last_pg. MDB_db (48 bytes): pad u32, flags
 * u16, depth u16, branch/leaf/overflow page counts u64, entries u64, root u64 at 40. Page header:
 * pgno u64, pad u16, flags u16, then lower u16 and upper u16 (or an overflow page's count u32);
 * node offsets u16 from 16 to lower. Node: lo u16, hi u16, flags u16, key size u16, key, data;
 * data size lo | hi << 16, child page lo | hi << 16 | flags << 32.
 */
public final class LmdbFileCheck {
    static final int MAGIC = 0xBEEFC0DE;
    private static final int META_HEADER_BYTES = 152;
    private static final int PAGE_HEADER_BYTES = 16;
    private static final int NODE_HEADER_BYTES = 8;
    private static final int DB_RECORD_BYTES = 48;
    private static final int FREE_DB_OFFSET = 40;
    private static final int MAIN_DB_OFFSET = 88;
    private static final long NO_ROOT = -1L;
    /** LMDB's cursor stack: no tree it writes is deeper. */
    private static final int DEPTH_MAX = 32;
    private static final int P_BRANCH = 0x01;
    private static final int P_LEAF = 0x02;
    private static final int P_OVERFLOW = 0x04;
    private static final int P_KINDS = 0x01 | 0x02 | 0x04 | 0x08 | 0x20 | 0x40;
    private static final int F_BIGDATA = 0x01;
    private static final int F_SUBDATA = 0x02;
    private static final int F_DUPDATA = 0x04;
    /** MDB_DUPSORT | MDB_DUPFIXED: sub-databases inside values, which no store of ours uses. */
    private static final int DB_DUP_FLAGS = 0x04 | 0x10;

    private LmdbFileCheck() {}

    /** Receives every key and value of every database as {@link #checkPages} reads them; the unnamed database is "". */
    @FunctionalInterface
    public interface EntryVisitor {
        void entry(String database, byte[] key, byte[] value);
    }

    /** The file holds every page the current meta page reaches: from the meta pages alone when it holds all they count. */
    public static void check(Path dataFile) {
        try (FileChannel ch = FileChannel.open(dataFile, StandardOpenOption.READ)) {
            long size = size(dataFile);
            Meta meta = current(ch, dataFile, size);
            if (size < (meta.lastPage + 1) * meta.pageSize) {
                new Walk(ch, dataFile, meta, null).run();
            }
        } catch (IOException e) {
            throw new StoreCorruptedException("cannot read " + dataFile + ": " + e.getMessage(), e);
        }
    }

    /**
     * {@link #check}, then every page the current meta page reaches (both trees of the meta page
     * and every named database's tree), each read once; {@code visitor} (may be null) sees every
     * entry.
     *
     * @throws StoreCorruptedException naming the file, the page and what is wrong with it
     */
    public static void checkPages(Path dataFile, EntryVisitor visitor) {
        try (FileChannel ch = FileChannel.open(dataFile, StandardOpenOption.READ)) {
            Meta meta = current(ch, dataFile, size(dataFile));
            new Walk(ch, dataFile, meta, visitor).run();
        } catch (IOException e) {
            throw new StoreCorruptedException("cannot read " + dataFile + ": " + e.getMessage(), e);
        }
    }

    private static long size(Path dataFile) {
        try {
            return Files.size(dataFile);
        } catch (IOException e) {
            throw new StoreCorruptedException("cannot read the size of " + dataFile + ": " + e.getMessage(), e);
        }
    }

    private record Db(int flags, int depth, long root) {}

    private record Meta(long pageSize, long lastPage, long txnId, Db free, Db main) {}

    private static Meta current(FileChannel ch, Path dataFile, long size) throws IOException {
        if (size < META_HEADER_BYTES) {
            throw new StoreCorruptedException(dataFile + " is truncated: " + size + " bytes, smaller than an LMDB meta page");
        }
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
        if (current.lastPage < 1 || current.lastPage > Long.MAX_VALUE / pageSize - 1) {
            throw new StoreCorruptedException(dataFile + ": the LMDB meta page (txn " + current.txnId + ") gives "
                    + current.lastPage + " as its last page");
        }
        return new Meta(pageSize, current.lastPage, current.txnId, current.free, current.main);
    }

    private static Meta readMeta(FileChannel ch, long offset, Path file) throws IOException {
        ByteBuffer buf = ByteBuffer.allocate(META_HEADER_BYTES).order(ByteOrder.LITTLE_ENDIAN);
        readFully(ch, buf, offset, file);
        int magic = buf.getInt(16);
        if (magic != MAGIC) {
            throw new StoreCorruptedException(file + ": no LMDB meta page at offset " + offset + " (magic "
                    + Integer.toHexString(magic) + ")");
        }
        return new Meta(Integer.toUnsignedLong(buf.getInt(FREE_DB_OFFSET)), buf.getLong(136), buf.getLong(144),
                db(buf, FREE_DB_OFFSET), db(buf, MAIN_DB_OFFSET));
    }

    private static Db db(ByteBuffer buf, int at) {
        return new Db(Short.toUnsignedInt(buf.getShort(at + 4)), Short.toUnsignedInt(buf.getShort(at + 6)), buf.getLong(at + 40));
    }

    private static void readFully(FileChannel ch, ByteBuffer buf, long offset, Path file) throws IOException {
        while (buf.hasRemaining()) {
            if (ch.read(buf, offset + buf.position()) < 0) {
                throw new StoreCorruptedException(file + " is truncated: it ends at " + (offset + buf.position())
                        + " bytes, inside a page its LMDB meta page reaches");
            }
        }
    }

    /** One pass over every reachable page; each page is visited at most once (a second visit is damage). */
    private static final class Walk {
        private final FileChannel ch;
        private final Path file;
        private final Meta meta;
        private final EntryVisitor visitor;
        private final int pageSize;
        private final BitSet seen = new BitSet();

        Walk(FileChannel ch, Path file, Meta meta, EntryVisitor visitor) {
            this.ch = ch;
            this.file = file;
            this.meta = meta;
            this.visitor = visitor;
            this.pageSize = (int) meta.pageSize;
        }

        void run() throws IOException {
            tree("the free list", meta.free, null);
            tree("the main database", meta.main, "");
        }

        /** A tree (root, depth) whose leaves belong to database {@code name} (null: the free list). */
        private void tree(String what, Db db, String name) throws IOException {
            if ((db.flags & DB_DUP_FLAGS) != 0) {
                throw damaged(-1, what + " has flags " + Integer.toHexString(db.flags) + ", a layout no store here writes");
            }
            if (db.root == NO_ROOT) {
                return;
            }
            if (db.depth < 1 || db.depth > DEPTH_MAX) {
                throw damaged(db.root, what + " has depth " + db.depth);
            }
            pageNumber(-1, db.root, "the root of " + what);
            ArrayDeque<long[]> pending = new ArrayDeque<>();
            pending.push(new long[] {db.root, 1});
            while (!pending.isEmpty()) {
                long[] next = pending.pop();
                long pgno = next[0];
                int level = (int) next[1];
                boolean leaf = level == db.depth;
                ByteBuffer page = readPage(pgno, leaf ? P_LEAF : P_BRANCH, what);
                int count = (Short.toUnsignedInt(page.getShort(12)) - PAGE_HEADER_BYTES) / 2;
                for (int i = 0; i < count; i++) {
                    int node = nodeOffset(page, pgno, i);
                    int lo = Short.toUnsignedInt(page.getShort(node));
                    int hi = Short.toUnsignedInt(page.getShort(node + 2));
                    int flags = Short.toUnsignedInt(page.getShort(node + 4));
                    int keySize = Short.toUnsignedInt(page.getShort(node + 6));
                    int keyAt = node + NODE_HEADER_BYTES;
                    within(pgno, keyAt + (long) keySize, "key of node " + i);
                    if (leaf) {
                        leafNode(page, pgno, i, name, keyAt, keySize, lo | ((long) hi << 16), flags);
                    } else {
                        long child = lo | ((long) hi << 16) | ((long) flags << 32);
                        pageNumber(pgno, child, "child of node " + i);
                        pending.push(new long[] {child, level + 1});
                    }
                }
            }
        }

        private void leafNode(ByteBuffer page, long pgno, int i, String name, int keyAt, int keySize, long dataSize,
                              int flags) throws IOException {
            if ((flags & F_DUPDATA) != 0) {
                throw damaged(pgno, "node " + i + " has sub-page flags " + Integer.toHexString(flags));
            }
            byte[] key = new byte[keySize];
            page.get(keyAt, key);
            int dataAt = keyAt + keySize;
            byte[] value;
            if ((flags & F_BIGDATA) != 0) {
                within(pgno, dataAt + 8L, "overflow page number of node " + i);
                value = overflowValue(pgno, page.getLong(dataAt), dataSize);
            } else {
                within(pgno, dataAt + dataSize, "data of node " + i + " (" + dataSize + " bytes)");
                value = new byte[(int) dataSize];
                page.get(dataAt, value);
            }
            if ((flags & F_SUBDATA) != 0) {
                if (!"".equals(name) || value.length != DB_RECORD_BYTES) {
                    throw damaged(pgno, "node " + i + " names a database where none can be");
                }
                String database = new String(key, StandardCharsets.UTF_8);
                tree("database '" + database + "'", db(ByteBuffer.wrap(value).order(ByteOrder.LITTLE_ENDIAN), 0), database);
            } else if (name == null) {
                freeListEntry(value);
            } else if (visitor != null) {
                visitor.entry(name, key, value);
            }
        }

        /** A free-list value: a count, then that many page numbers, which LMDB reuses without checking them. */
        private void freeListEntry(byte[] value) {
            if (value.length < 8) {
                throw damaged(-1, "a free-list entry of " + value.length + " bytes");
            }
            ByteBuffer ids = ByteBuffer.wrap(value).order(ByteOrder.LITTLE_ENDIAN);
            long count = ids.getLong(0);
            if (count < 0 || count > (value.length - 8) / 8) {
                throw damaged(-1, "a free-list entry claims " + count + " pages in " + value.length + " bytes");
            }
            for (int k = 1; k <= count; k++) {
                long free = ids.getLong(8 * k);
                if (free < 2 || free > meta.lastPage) {
                    throw damaged(-1, "the free list names page " + free + ", outside 2.." + meta.lastPage);
                }
            }
        }

        private byte[] overflowValue(long from, long overflow, long dataSize) throws IOException {
            pageNumber(from, overflow, "overflow page");
            markSeen(overflow);
            ByteBuffer header = ByteBuffer.allocate(PAGE_HEADER_BYTES).order(ByteOrder.LITTLE_ENDIAN);
            readFully(ch, header, overflow * pageSize, file);
            int flags = Short.toUnsignedInt(header.getShort(10));
            long pages = Integer.toUnsignedLong(header.getInt(12));
            if (header.getLong(0) != overflow || (flags & P_KINDS) != P_OVERFLOW || pages < 1
                    || pages > meta.lastPage || overflow + pages - 1 > meta.lastPage
                    || dataSize > pages * pageSize - PAGE_HEADER_BYTES || dataSize > Integer.MAX_VALUE - 64) {
                throw damaged(overflow, "not an overflow page of " + dataSize + " bytes (number " + header.getLong(0)
                        + ", flags " + Integer.toHexString(flags) + ", " + pages + " pages)");
            }
            for (long p = overflow + 1; p < overflow + pages; p++) {
                markSeen(p);
            }
            ByteBuffer value = ByteBuffer.allocate((int) dataSize);
            readFully(ch, value, overflow * pageSize + PAGE_HEADER_BYTES, file);
            return value.array();
        }

        private ByteBuffer readPage(long pgno, int kind, String what) throws IOException {
            markSeen(pgno);
            ByteBuffer page = ByteBuffer.allocate(pageSize).order(ByteOrder.LITTLE_ENDIAN);
            readFully(ch, page, pgno * pageSize, file);
            int flags = Short.toUnsignedInt(page.getShort(10));
            if (page.getLong(0) != pgno) {
                throw damaged(pgno, "the page says it is page " + page.getLong(0));
            }
            if ((flags & P_KINDS) != kind) {
                throw damaged(pgno, "flags " + Integer.toHexString(flags) + " in " + what + ", expected a "
                        + (kind == P_LEAF ? "leaf" : "branch") + " page at this depth");
            }
            int lower = Short.toUnsignedInt(page.getShort(12));
            int upper = Short.toUnsignedInt(page.getShort(14));
            if (lower < PAGE_HEADER_BYTES || (lower & 1) != 0 || lower > upper || upper > pageSize
                    || (kind == P_BRANCH && lower == PAGE_HEADER_BYTES)) {
                throw damaged(pgno, "free space bounds lower " + lower + ", upper " + upper);
            }
            return page;
        }

        private int nodeOffset(ByteBuffer page, long pgno, int i) {
            int at = Short.toUnsignedInt(page.getShort(PAGE_HEADER_BYTES + 2 * i));
            int upper = Short.toUnsignedInt(page.getShort(14));
            if (at < upper || at + NODE_HEADER_BYTES > pageSize) {
                throw damaged(pgno, "node " + i + " at offset " + at + ", outside " + upper + ".." + pageSize);
            }
            return at;
        }

        private void within(long pgno, long end, String what) {
            if (end > pageSize) {
                throw damaged(pgno, what + " ends at " + end + ", past the page's " + pageSize + " bytes");
            }
        }

        private void pageNumber(long from, long pgno, String what) {
            if (pgno < 2 || pgno > meta.lastPage) {
                throw damaged(from, what + " is page " + pgno + ", outside 2.." + meta.lastPage);
            }
        }

        private void markSeen(long pgno) {
            if (pgno > Integer.MAX_VALUE - 1) {
                throw damaged(pgno, "page number beyond what this check can follow");
            }
            if (seen.get((int) pgno)) {
                throw damaged(pgno, "reached twice (a cycle or a shared page)");
            }
            seen.set((int) pgno);
        }

        private StoreCorruptedException damaged(long pgno, String what) {
            return new StoreCorruptedException(file + " is damaged" + (pgno >= 0 ? " at page " + pgno + " (offset "
                    + pgno * pageSize + ")" : "") + ": " + what + " (LMDB meta txn " + meta.txnId + ")");
        }
    }
}
