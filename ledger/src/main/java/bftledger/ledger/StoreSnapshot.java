package bftledger.ledger;

import bftledger.crypto.Digest;
import bftledger.ledger.proto.Block;
import bftledger.ledger.proto.BlockHeader;
import bftledger.ledger.proto.TxIndexEntry;
import com.google.protobuf.ByteString;
import com.google.protobuf.InvalidProtocolBufferException;
import java.nio.ByteBuffer;
import java.util.Optional;
import java.util.function.BiConsumer;
import org.lmdbjava.CursorIterable;
import org.lmdbjava.KeyRange;
import org.lmdbjava.Txn;

/**
 * A consistent read-only view of a block store inside one LMDB read transaction (and one of its
 * transaction index). Values are copied out of LMDB, so they outlive it. Close it promptly: it
 * pins LMDB pages.
 */
public final class StoreSnapshot implements AutoCloseable {
    private final BlockStore owner;
    private final StoreEnv store;
    final Txn<byte[]> txn;
    /** A read transaction of the index, this snapshot's own; null only while the store opens. */
    private final Txn<byte[]> indexTxn;
    private final boolean ownsTxn;
    private long height = -1;
    private long prunedBelow = -1;

    StoreSnapshot(BlockStore owner, StoreEnv store, Txn<byte[]> txn, Txn<byte[]> indexTxn, boolean ownsTxn) {
        this.owner = owner;
        this.store = store;
        this.txn = txn;
        this.indexTxn = indexTxn;
        this.ownsTxn = ownsTxn;
    }

    public long height() {
        if (height < 0 || !ownsTxn) {
            height = store.height(txn);
        }
        return height;
    }

    /**
     * The lowest height whose block is stored whole (1 unless the store was pruned): below it
     * only headers, certificates and receipts are kept ({@link BlockStore#prune}).
     */
    public long prunedBelow() {
        if (prunedBelow < 0 || !ownsTxn) {
            prunedBelow = store.prunedBelow(txn);
        }
        return prunedBelow;
    }

    public Digest tipHash() {
        return store.digest(txn, StoreEnv.META_TIP_HASH);
    }

    /** The state root after {@link #height()}, as the tip header states it. */
    public Digest stateRoot() {
        return store.digest(txn, StoreEnv.META_STATE_ROOT);
    }

    /** The highest height a stored block certifies (its header is proven from genesis), 0 when none. */
    public long certifiedHeight() {
        return owner.history().certifiedHeight(txn);
    }

    public long balance(ByteString account) {
        byte[] v = store.accounts.get(txn, account.toByteArray());
        if (v == null) {
            return 0;
        }
        if (v.length != 8) {
            throw new StoreCorruptedException(store.dir + ": account " + ChainGenesis.hex(account) + " balance is " + v.length + " bytes");
        }
        return ByteBuffer.wrap(v).getLong();
    }

    /** The account's balance when the state holds the account (every account ever credited), else empty. */
    public Optional<Long> storedBalance(ByteString account) {
        byte[] v = store.accounts.get(txn, account.toByteArray());
        return v == null ? Optional.empty() : Optional.of(balance(account));
    }

    public Optional<RecordValue> record(RecordKey key) {
        byte[] v = store.records.get(txn, key.storeKey());
        return v == null ? Optional.empty() : Optional.of(RecordValue.decode(v, store.dir));
    }

    Optional<TxIndexEntry> indexEntry(Digest txId) {
        // An entry above this snapshot's height belongs to a block committed after it opened.
        long at = height();
        return owner.index().get(indexTxn, txId).filter(e -> e.getHeight() <= at);
    }

    public Optional<LedgerState.TxLocation> executed(Digest txId) {
        return indexEntry(txId).map(e -> new LedgerState.TxLocation(e.getHeight(), e.getIndex()));
    }

    public Optional<BlockStore.TxRecord> transaction(Digest id) {
        Optional<TxIndexEntry> entry = indexEntry(id);
        if (entry.isEmpty()) {
            return Optional.empty();
        }
        long at = entry.get().getHeight();
        int index = entry.get().getIndex();
        Block block = parseBlock(at);
        if (at < prunedBelow()) {
            return Optional.of(new BlockStore.TxRecord(at, index, entry.get().getReceipt(), null, block));
        }
        if (index >= block.getTransactionsCount()) {
            throw new StoreCorruptedException(store.dir + ": index points " + id.hex() + " at " + at + "/" + index
                    + ", past the block's end");
        }
        return Optional.of(new BlockStore.TxRecord(at, index, entry.get().getReceipt(), block.getTransactions(index), block));
    }

    /** A block's stored bytes without their checksum, and whether they matched it (for the audit, which reports rather than refuses). */
    public record StoredBytes(byte[] block, boolean intact) {}

    public Optional<StoredBytes> storedBytes(long height) {
        byte[] stored = store.blocks.get(txn, BlockStore.u64(height));
        if (stored == null) {
            return Optional.empty();
        }
        byte[] block = StoredBlock.decode(stored);
        return Optional.of(block != null ? new StoredBytes(block, true)
                : new StoredBytes(java.util.Arrays.copyOf(stored, Math.max(0, stored.length - bftledger.crypto.Digest.LENGTH)), false));
    }

    /**
     * The bytes of the block stored at {@code height}, if any.
     *
     * @throws DamagedBlockException when the stored value does not match its checksum
     */
    public Optional<byte[]> rawBlock(long height) {
        byte[] stored = store.blocks.get(txn, BlockStore.u64(height));
        if (stored == null) {
            return Optional.empty();
        }
        byte[] block = StoredBlock.decode(stored);
        if (block == null) {
            throw owner.damaged(height, "its bytes do not match their checksum");
        }
        return Optional.of(block);
    }

    /** The whole block at {@code height}; empty when none is stored or its body was pruned (see {@link #prunedBelow()}). */
    public Optional<Block> block(long height) {
        return height < prunedBelow() ? Optional.empty() : stored(height);
    }

    /** The block as stored: whole, or without its transactions below {@link #prunedBelow()}. */
    public Optional<Block> stored(long height) {
        return rawBlock(height).isEmpty() ? Optional.empty() : Optional.of(parseBlock(height));
    }

    /** The header at {@code height}, pruned or not. */
    public Optional<BlockHeader> header(long height) {
        return stored(height).map(b -> {
            try {
                return Blocks.header(b);
            } catch (InvalidProtocolBufferException e) {
                throw new StoreCorruptedException(store.dir + ": block header at height " + height + " does not parse", e);
            }
        });
    }

    Block parseBlock(long height) {
        if (!ownsTxn || height < prunedBelow()) {
            // A pruned block is small to parse, and the cache may still hold it whole from before the prune.
            // Inside a write transaction: what it reads may still be rolled back, so it is
            // neither served from nor added to the cache of committed blocks.
            return parseStoredBlock(height);
        }
        return owner.parsedBlock(height, () -> parseStoredBlock(height));
    }

    /** The block stored at {@code height}, after {@link BlockIntegrity}'s check; a damaged one is reported and not returned. */
    Block parseStoredBlock(long height) {
        return parseStoredBlock(height, true);
    }

    /** As {@link #parseStoredBlock(long)}; unchecked only where the block's content is not used (indexing). */
    Block parseStoredBlock(long height, boolean checked) {
        byte[] raw = checked ? rawBlock(height).orElseThrow(() -> noBlock(height))
                : storedBytes(height).map(StoredBytes::block).orElseThrow(() -> noBlock(height));
        Block block;
        try {
            block = Blocks.parse(raw);
        } catch (InvalidProtocolBufferException e) {
            throw owner.damaged(height, "it does not decode: " + e.getMessage());
        }
        if (checked) {
            Optional<String> problem = BlockIntegrity.problem(block, height, owner.history().reader(txn).get(0, height),
                    height < prunedBelow());
            if (problem.isPresent()) {
                throw owner.damaged(height, problem.get());
            }
        }
        return block;
    }

    private StoreCorruptedException noBlock(long height) {
        return new StoreCorruptedException(store.dir + ": no block at height " + height);
    }

    /** Highest height with a stored block (0 when none). */
    public long lastBlockHeight() {
        return store.lastBlockHeight(txn);
    }

    /** Every stored account balance, in ascending account order; -1 for a value that is not 8 bytes. */
    public void forEachAccount(BiConsumer<ByteString, Long> action) {
        try (CursorIterable<byte[]> it = store.accounts.iterate(txn, KeyRange.all())) {
            for (CursorIterable.KeyVal<byte[]> kv : it) {
                byte[] v = kv.val();
                action.accept(ByteString.copyFrom(kv.key()), v.length == 8 ? ByteBuffer.wrap(v).getLong() : -1L);
            }
        }
    }

    /** Every stored record, in ascending (owner, key) order. */
    public void forEachRecord(BiConsumer<RecordKey, RecordValue> action) {
        try (CursorIterable<byte[]> it = store.records.iterate(txn, KeyRange.all())) {
            for (CursorIterable.KeyVal<byte[]> kv : it) {
                if (kv.key().length <= 32) {
                    throw new StoreCorruptedException(store.dir + ": record key of " + kv.key().length + " bytes has no owner and key");
                }
                action.accept(RecordKey.fromStoreKey(kv.key()), RecordValue.decode(kv.val(), store.dir));
            }
        }
    }

    /**
     * Number of entries in the transaction index. Counted over the whole index, so exact only at
     * rest (an offline audit); on a live store it may include a block newer than this snapshot.
     */
    public long indexedTransactions() {
        return owner.index().size(indexTxn);
    }

    @Override
    public void close() {
        try {
            if (indexTxn != null) {
                indexTxn.close();
            }
        } finally {
            if (ownsTxn) {
                txn.close();
            }
        }
    }
}
