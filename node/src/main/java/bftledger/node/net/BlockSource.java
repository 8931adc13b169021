package bftledger.node.net;

import bftledger.ledger.proto.Block;
import java.util.Optional;

/** Read access to committed blocks, for serving catch-up requests from peers. */
public interface BlockSource {
    /** Height of the latest durable block (0 before the first). */
    long height();

    Optional<Block> block(long height);
}
