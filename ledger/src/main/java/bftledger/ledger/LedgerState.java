package bftledger.ledger;

import bftledger.crypto.Digest;
import bftledger.crypto.HistoryTree;
import bftledger.crypto.MerkleTree;
import bftledger.crypto.SparseMerkleTree;
import com.google.protobuf.ByteString;
import java.util.Optional;

/**
 * Everything executing and building the next block reads about the ledger after some height:
 * the port the {@link Executor} and {@link BlockBuilder} read through. Implemented in memory
 * ({@link MemoryState}) and inside a block store's write transaction. Accounts are 32-byte
 * Ed25519 public keys; an absent account has balance 0.
 */
public interface LedgerState {
    /** Height of the last executed block (0 = genesis). */
    long height();

    /** The state tree's root after {@link #height()}; its hash is the state_root. */
    SparseMerkleTree.Node stateTree();

    /** Where the state tree's interior nodes are read. */
    SparseMerkleTree.NodeStore stateNodes();

    /** The blocks tree: leaf 0 is the genesis hash, leaf i the hash of block i, for i up to {@link #height()}. */
    HistoryTree.NodeReader history();

    default Digest stateRoot() {
        return stateTree().hash();
    }

    /** The blocks_root the next block carries: over the genesis hash and blocks 1..{@link #height()}. */
    default Digest blocksRoot() {
        return HistoryTree.root(history(), height() + 1);
    }

    /** Whether block {@code height} (0: the genesis) hashes to {@code hash}; false beyond {@link #height()}. */
    default boolean blockHashIs(long height, Digest hash) {
        if (height < 0 || height > height()) {
            return false;
        }
        Digest leaf = history().get(0, height);
        return leaf != null && leaf.equals(MerkleTree.leafHash(hash.bytes()));
    }

    long balance(ByteString account);

    Optional<RecordValue> record(RecordKey key);

    /** Where {@code txId} executed (SUCCESS or FAILED), if it ever did. */
    Optional<TxLocation> executed(Digest txId);

    /** Height and position of a transaction's first (and only effective) execution. */
    record TxLocation(long height, int index) {}
}
