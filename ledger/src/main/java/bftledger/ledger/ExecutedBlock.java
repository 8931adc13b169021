package bftledger.ledger;

import bftledger.crypto.Digest;
import bftledger.ledger.proto.Block;
import bftledger.ledger.proto.BlockHeader;

/**
 * A block together with its parsed header, its hash and the execution that produced (or
 * re-produced) its receipts and state changes: what {@link BlockStore#append(ExecutedBlock)} writes.
 */
public record ExecutedBlock(Block block, BlockHeader header, Digest hash, ExecutionResult execution) {
    public long height() {
        return header.getHeight();
    }
}
