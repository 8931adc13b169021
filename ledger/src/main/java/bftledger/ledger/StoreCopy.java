package bftledger.ledger;

import bftledger.crypto.Digest;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.lmdbjava.ByteArrayProxy;
import org.lmdbjava.Dbi;
import org.lmdbjava.Env;
import org.lmdbjava.EnvFlags;
import org.lmdbjava.Txn;

/**
 * A copy of a block store's environment (a backup): made by {@link BlockStore#copyTo} while the
 * store serves, and read here without opening it as a store. Opening a store writes to it (the
 * lock file, the index, the state tree), so a backup that must stay as its checksums say is
 * read through a read-only, lock-free map instead.
 */
public final class StoreCopy {
    /** The data file LMDB writes in an environment directory. */
    public static final String DATA_FILE = "data.mdb";

    private StoreCopy() {}

    /** What a copied store holds at its tip, read from its metadata. */
    public record Head(int formatVersion, String chainId, Digest genesisHash, long height, Digest tipHash, Digest stateRoot) {}

    /**
     * The head of the store copied into {@code dir}, after checking the file's pages
     * ({@link LmdbFileCheck#checkPages}), so a damaged copy is refused rather than mapped.
     *
     * @throws StoreCorruptedException when the file is damaged or is not a block store
     */
    public static Head head(Path dir) {
        Path dataFile = dir.resolve(DATA_FILE);
        if (!Files.isRegularFile(dataFile)) {
            throw new StoreCorruptedException(dir + " holds no " + DATA_FILE);
        }
        LmdbFileCheck.checkPages(dataFile, null);
        long size;
        try {
            size = Files.size(dataFile);
        } catch (IOException e) {
            throw new StoreCorruptedException("cannot read " + dataFile + ": " + e.getMessage(), e);
        }
        // Read-only and without a lock file: nothing in dir is written.
        try (Env<byte[]> env = Env.create(ByteArrayProxy.PROXY_BA).setMapSize(Math.max(size, 1L << 20))
                .setMaxDbs(StoreEnv.MAX_DBS).setMaxReaders(4)
                .open(dir.toFile(), EnvFlags.MDB_RDONLY_ENV, EnvFlags.MDB_NOLOCK, EnvFlags.MDB_NOTLS)) {
            Dbi<byte[]> meta;
            try {
                meta = env.openDbi(StoreEnv.DB_META);
            } catch (RuntimeException e) {
                throw new StoreCorruptedException(dataFile + " is not a block store (no " + StoreEnv.DB_META + " database)", e);
            }
            try (Txn<byte[]> txn = env.txnRead()) {
                byte[] format = meta.get(txn, StoreEnv.META_FORMAT_VERSION);
                byte[] chain = meta.get(txn, StoreEnv.META_CHAIN_ID);
                if (format == null || format.length != 4 || chain == null) {
                    throw new StoreCorruptedException(dataFile + " is not a block store (no format or chain id)");
                }
                return new Head(ByteBuffer.wrap(format).getInt(), new String(chain, StandardCharsets.UTF_8),
                        digest(meta, txn, StoreEnv.META_GENESIS_HASH, dataFile), u64(meta, txn, StoreEnv.META_HEIGHT, dataFile),
                        digest(meta, txn, StoreEnv.META_TIP_HASH, dataFile), digest(meta, txn, StoreEnv.META_STATE_ROOT, dataFile));
            }
        } catch (org.lmdbjava.LmdbException e) {
            throw new StoreCorruptedException(dataFile + " does not open as an LMDB environment: " + e.getMessage(), e);
        }
    }

    private static Digest digest(Dbi<byte[]> meta, Txn<byte[]> txn, byte[] key, Path file) {
        byte[] v = meta.get(txn, key);
        if (v == null || v.length != Digest.LENGTH) {
            throw new StoreCorruptedException(file + ": metadata key " + new String(key, StandardCharsets.US_ASCII) + " is missing");
        }
        return Digest.of(v);
    }

    private static long u64(Dbi<byte[]> meta, Txn<byte[]> txn, byte[] key, Path file) {
        byte[] v = meta.get(txn, key);
        if (v == null || v.length != 8) {
            throw new StoreCorruptedException(file + ": metadata key " + new String(key, StandardCharsets.US_ASCII) + " is missing");
        }
        return ByteBuffer.wrap(v).getLong();
    }
}
