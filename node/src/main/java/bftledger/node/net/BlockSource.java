package bftledger.node.net;

import bftledger.ledger.proto.Block;
import java.util.Optional;

/** Read access to committed blocks, for serving catch-up requests from peers. */
public interface BlockSource {
    /** Height of the latest durable block (0 before the first). */
    long height();

    /** The whole block at {@code height}; empty when none is stored or it was pruned. */
    Optional<Block> block(long height);

    /** The block at {@code height} as stored: whole, or in its pruned form below {@link #prunedBelow()}. */
    default Optional<Block> stored(long height) {
        return block(height);
    }

    /** The lowest height whose block is kept whole (1: nothing pruned). */
    default long prunedBelow() {
        return 1;
    }
}
