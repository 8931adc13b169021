package bftledger.ledger;

import bftledger.crypto.Digest;
import bftledger.crypto.MerkleTree;
import bftledger.crypto.SparseMerkleTree;
import bftledger.ledger.proto.Receipt;
import java.util.List;

/**
 * The outcome of executing one block's transactions on a state at {@code height - 1}: receipts in
 * block order, the state changes, and the state tree update they make (its root is the new state root).
 */
public record ExecutionResult(long height, Digest baseStateRoot, List<Receipt> receipts, StateChanges changes,
        SparseMerkleTree.Update stateUpdate) {
    public ExecutionResult {
        receipts = List.copyOf(receipts);
    }

    public Digest stateRoot() {
        return stateUpdate.root().hash();
    }

    /** RFC 6962 root over the serialized receipts, as in BlockHeader.receipts_root. */
    public Digest receiptsRoot() {
        return receiptsRoot(receipts);
    }

    public static Digest receiptsRoot(List<Receipt> receipts) {
        return MerkleTree.of(receipts.stream().map(Receipt::toByteArray).toList()).root();
    }
}
