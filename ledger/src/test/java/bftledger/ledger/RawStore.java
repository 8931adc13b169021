package bftledger.ledger;

import bftledger.ledger.proto.Block;
import bftledger.ledger.proto.BlockHeader;
import java.nio.file.Path;
import java.util.function.UnaryOperator;
import org.lmdbjava.ByteArrayProxy;
import org.lmdbjava.Dbi;
import org.lmdbjava.Env;
import org.lmdbjava.Txn;

/**
 * TEST ONLY: writes a closed store's LMDB databases directly, bypassing every BlockStore check,
 * to simulate disk damage and tampering. Production code has no raw write path.
 */
final class RawStore {
    private RawStore() {}

    static byte[] get(Path dir, String dbName, byte[] key) {
        try (Env<byte[]> env = env(dir)) {
            Dbi<byte[]> db = env.openDbi(dbName);
            try (Txn<byte[]> txn = env.txnRead()) {
                return db.get(txn, key);
            }
        }
    }

    static void put(Path dir, String dbName, byte[] key, byte[] value) {
        try (Env<byte[]> env = env(dir)) {
            Dbi<byte[]> db = env.openDbi(dbName);
            try (Txn<byte[]> txn = env.txnWrite()) {
                db.put(txn, key, value);
                txn.commit();
            }
        }
    }

    static void delete(Path dir, String dbName, byte[] key) {
        try (Env<byte[]> env = env(dir)) {
            Dbi<byte[]> db = env.openDbi(dbName);
            try (Txn<byte[]> txn = env.txnWrite()) {
                db.delete(txn, key);
                txn.commit();
            }
        }
    }

    /** Block {@code height}'s bytes as stored, without their checksum. */
    static byte[] block(Path dir, long height) {
        byte[] stored = get(dir, StoreEnv.DB_BLOCKS, BlockStore.u64(height));
        return java.util.Arrays.copyOf(stored, stored.length - bftledger.crypto.Digest.LENGTH);
    }

    /** Stores {@code bytes} as block {@code height} with a checksum that matches them: a consistent forgery, not disk damage. */
    static void putBlock(Path dir, long height, byte[] bytes) {
        put(dir, StoreEnv.DB_BLOCKS, BlockStore.u64(height), StoredBlock.encode(bytes));
    }

    /** Flips one bit of block {@code height}'s stored bytes at {@code offset}, as a disk would. */
    static void flipBit(Path dir, long height, int offset) {
        byte[] stored = get(dir, StoreEnv.DB_BLOCKS, BlockStore.u64(height));
        stored[offset] ^= 1;
        put(dir, StoreEnv.DB_BLOCKS, BlockStore.u64(height), stored);
    }

    /** Rewrites block {@code height} through {@code edit}. */
    static void editBlock(Path dir, long height, UnaryOperator<Block> edit) throws Exception {
        Block block = Block.parseFrom(block(dir, height));
        putBlock(dir, height, edit.apply(block).toByteArray());
    }

    /** Rewrites the header of block {@code height} (which changes the block's hash). */
    static void editHeader(Path dir, long height, UnaryOperator<BlockHeader.Builder> edit) throws Exception {
        editBlock(dir, height, b -> {
            try {
                BlockHeader h = BlockHeader.parseFrom(b.getHeader());
                return b.toBuilder().setHeader(edit.apply(h.toBuilder()).build().toByteString()).build();
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        });
    }

    private static Env<byte[]> env(Path dir) {
        return Env.create(ByteArrayProxy.PROXY_BA).setMapSize(BlockStore.DEFAULT_MAP_SIZE).setMaxDbs(StoreEnv.MAX_DBS)
                .open(dir.toFile());
    }
}
