package bftledger.ledger;

import bftledger.crypto.Digest;
import bftledger.crypto.SparseMerkleTree;
import com.google.protobuf.ByteString;
import java.util.Optional;

/**
 * Everything executing and building the next block reads about the ledger after some height:
 * the port the {@link Executor} and {@link BlockBuilder} read through. Implemented in memory
 * ({@link MemoryState}) and inside a block store's write transaction. Accounts are 32-byte
 * Ed25519 public keys; an absent account has balance 0.
 */
public interface LedgerState extends BlockHashes {
    /** The state tree's root after {@link #height()}; its hash is the state_root. */
    SparseMerkleTree.Node stateTree();

    /** Where the state tree's interior nodes are read. */
    SparseMerkleTree.NodeStore stateNodes();

    default Digest stateRoot() {
        return stateTree().hash();
    }

    long balance(ByteString account);

    Optional<RecordValue> record(RecordKey key);

    /** Where {@code txId} executed (SUCCESS or FAILED), if it ever did. */
    Optional<TxLocation> executed(Digest txId);

    /** Height and position of a transaction's first (and only effective) execution. */
    record TxLocation(long height, int index) {}
}
