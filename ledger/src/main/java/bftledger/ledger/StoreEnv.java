package bftledger.ledger;

import bftledger.crypto.Digest;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.lmdbjava.ByteArrayProxy;
import org.lmdbjava.Dbi;
import org.lmdbjava.DbiFlags;
import org.lmdbjava.Env;
import org.lmdbjava.EnvFlags;
import org.lmdbjava.Txn;

/**
 * The block store's LMDB environment: its named databases, metadata keys and the helpers that
 * read them, and the format check at open. Layout (format {@value #FORMAT_VERSION}):
 * <ul>
 *   <li>{@value #DB_BLOCKS}: u64 height -> Block bytes;</li>
 *   <li>{@value #DB_ACCOUNTS}: account key -> u64 balance; {@value #DB_RECORDS}: owner || key ->
 *       writer tx id || value (the state's leaves);</li>
 *   <li>{@value #DB_STATE_NODES}: interior nodes of the state tree as of {@link #META_TREE_HEIGHT}
 *       ({@link StateTreeStore});</li>
 *   <li>{@value #DB_HISTORY}: the blocks tree's nodes, level u8 || index u64 -> hash;
 *       {@value #DB_ANCHORS}: u64 height -> u64 height of the first block certifying it ({@link BlockHistory});</li>
 *   <li>{@value #DB_META}: format, chain id, genesis, height, tip hash, state root, state tree root and height,
 *       and {@link #META_PRUNED_BELOW}.</li>
 * </ul>
 * A pruned store ({@link BlockStore#prune}) keeps, below {@link #META_PRUNED_BELOW}, each block's
 * header, certificate and receipts without its transactions, and is marked format
 * {@value #FORMAT_PRUNED} so that a release that does not know pruning refuses it rather than
 * taking its blocks for damaged ones.
 * Sync flags stay at LMDB's durable defaults: a commit is on disk when it returns (except while
 * {@link StateSyncBuilder} builds a store, which it syncs once when it finishes).
 */
final class StoreEnv implements AutoCloseable {
    /** 3: certified headers (anchors, blocks_root) and the state tree; 1 and 2 are refused. */
    static final int FORMAT_VERSION = 3;
    /** Format 3 with block bodies pruned below {@link #META_PRUNED_BELOW}; written by the first prune. */
    static final int FORMAT_PRUNED = 4;
    static final int MAX_DBS = 8;
    static final int MAX_READERS = 126;

    static final String DB_BLOCKS = "blocks";
    static final String DB_ACCOUNTS = "accounts";
    static final String DB_RECORDS = "records";
    static final String DB_META = "meta";
    static final String DB_STATE_NODES = "state_nodes";
    static final String DB_HISTORY = "history";
    static final String DB_ANCHORS = "anchors";

    static final byte[] META_FORMAT_VERSION = ascii("format_version");
    static final byte[] META_CHAIN_ID = ascii("chain_id");
    static final byte[] META_GENESIS_HASH = ascii("genesis_hash");
    static final byte[] META_GENESIS = ascii("genesis");
    static final byte[] META_HEIGHT = ascii("height");
    static final byte[] META_TIP_HASH = ascii("tip_hash");
    static final byte[] META_STATE_ROOT = ascii("state_root");
    static final byte[] META_TREE_ROOT = ascii("state_tree_root");
    static final byte[] META_TREE_HEIGHT = ascii("state_tree_height");
    static final byte[] META_CERTIFIED_HEIGHT = ascii("certified_height");
    /** u64: the lowest height whose block is stored whole; absent in a store never pruned (read as 1). */
    static final byte[] META_PRUNED_BELOW = ascii("pruned_below");

    final Path dir;
    final Env<byte[]> env;
    final Dbi<byte[]> blocks;
    final Dbi<byte[]> accounts;
    final Dbi<byte[]> records;
    final Dbi<byte[]> meta;
    final Dbi<byte[]> stateNodes;
    final Dbi<byte[]> history;
    final Dbi<byte[]> anchors;

    private StoreEnv(Path dir, Env<byte[]> env) {
        this.dir = dir;
        this.env = env;
        this.blocks = env.openDbi(DB_BLOCKS, DbiFlags.MDB_CREATE);
        this.accounts = env.openDbi(DB_ACCOUNTS, DbiFlags.MDB_CREATE);
        this.records = env.openDbi(DB_RECORDS, DbiFlags.MDB_CREATE);
        this.meta = env.openDbi(DB_META, DbiFlags.MDB_CREATE);
        this.stateNodes = env.openDbi(DB_STATE_NODES, DbiFlags.MDB_CREATE);
        this.history = env.openDbi(DB_HISTORY, DbiFlags.MDB_CREATE);
        this.anchors = env.openDbi(DB_ANCHORS, DbiFlags.MDB_CREATE);
    }

    /**
     * Maps the environment in {@code dir} after checking its data file, refusing a store of another
     * format. Every page the file's trees reach is read and bounds-checked first: LMDB trusts its
     * page pointers blindly, so a damaged branch page would otherwise end the process with a
     * signal on the read that follows it (LmdbFileCheckTest). That costs a read of the whole
     * store at open, a few seconds per GB.
     */
    static StoreEnv open(Path dir, long mapSizeBytes) {
        return open(dir, mapSizeBytes, false);
    }

    /**
     * As {@link #open(Path, long)}; {@code unsynced}: commits are not synced (MDB_NOSYNC), for a
     * store being built that is thrown away unless it finishes, and then synced by its builder.
     */
    static StoreEnv open(Path dir, long mapSizeBytes, boolean unsynced) {
        Path dataFile = dir.resolve("data.mdb");
        if (Files.exists(dataFile)) {
            LmdbFileCheck.checkPages(dataFile, null);
        }
        // MDB_NOTLS: read transactions are not tied to a thread, so snapshots can move between
        // threads of a pool.
        Env<byte[]> env = Env.create(ByteArrayProxy.PROXY_BA)
                .setMapSize(mapSizeBytes)
                .setMaxDbs(MAX_DBS)
                .setMaxReaders(MAX_READERS)
                .open(dir.toFile(), unsynced ? new EnvFlags[] {EnvFlags.MDB_NOTLS, EnvFlags.MDB_NOSYNC}
                        : new EnvFlags[] {EnvFlags.MDB_NOTLS});
        try {
            refuseOtherFormats(dir, env);
            return new StoreEnv(dir, env);
        } catch (RuntimeException e) {
            env.close();
            throw e;
        }
    }

    /**
     * Stores of formats 1 and 2 hold blocks whose certificates cover only their batches, and a
     * state root of another rule: nothing in them can be verified under the current rules, so
     * they are refused with what to do rather than converted.
     */
    private static void refuseOtherFormats(Path dir, Env<byte[]> env) {
        boolean hasMeta = env.getDbiNames().stream().anyMatch(n -> new String(n, StandardCharsets.UTF_8).equals(DB_META));
        if (!hasMeta) {
            return;
        }
        Dbi<byte[]> meta = env.openDbi(DB_META);
        try (Txn<byte[]> txn = env.txnRead()) {
            byte[] v = meta.get(txn, META_FORMAT_VERSION);
            if (v == null) {
                return;
            }
            int version = v.length == 4 ? ByteBuffer.wrap(v).getInt() : -1;
            if (version != FORMAT_VERSION && version != FORMAT_PRUNED) {
                throw new StoreCorruptedException(dir + " holds a ledger in store format " + version + ", written by an"
                        + " earlier bftledger whose commit certificates do not cover block headers; it cannot be"
                        + " verified or served under format " + FORMAT_VERSION + ". Keep that network on its earlier"
                        + " release, or start a new network (bftledger init) and move this node's data directory aside");
            }
        }
    }

    long height(Txn<byte[]> txn) {
        return u64(txn, META_HEIGHT, "height");
    }

    /** The lowest height whose block is stored whole: 1 unless the store was pruned. */
    long prunedBelow(Txn<byte[]> txn) {
        return meta.get(txn, META_PRUNED_BELOW) == null ? 1 : u64(txn, META_PRUNED_BELOW, "pruned_below");
    }

    long u64(Txn<byte[]> txn, byte[] key, String name) {
        byte[] v = meta.get(txn, key);
        if (v == null || v.length != 8) {
            throw new StoreCorruptedException(dir + ": metadata key " + name + " is missing or not 8 bytes");
        }
        return ByteBuffer.wrap(v).getLong();
    }

    Digest digest(Txn<byte[]> txn, byte[] key) {
        byte[] v = meta.get(txn, key);
        if (v == null || v.length != Digest.LENGTH) {
            throw new StoreCorruptedException(dir + ": metadata key " + new String(key, StandardCharsets.US_ASCII)
                    + " is missing or not 32 bytes");
        }
        return Digest.of(v);
    }

    /** Highest height with a stored block (0 when none). */
    long lastBlockHeight(Txn<byte[]> txn) {
        try (var cursor = blocks.openCursor(txn)) {
            if (!cursor.last()) {
                return 0;
            }
            return ByteBuffer.wrap(cursor.key()).getLong();
        }
    }

    @Override
    public void close() {
        env.close();
    }

    static byte[] u64(long v) {
        return ByteBuffer.allocate(8).putLong(v).array();
    }

    static long u64(byte[] v) {
        return ByteBuffer.wrap(v).getLong();
    }

    static byte[] u32(int v) {
        return ByteBuffer.allocate(4).putInt(v).array();
    }

    private static byte[] ascii(String s) {
        return s.getBytes(StandardCharsets.US_ASCII);
    }
}
