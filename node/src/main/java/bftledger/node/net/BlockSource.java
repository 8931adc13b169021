package bftledger.node.net;

import bftledger.ledger.StateSnapshots;
import bftledger.ledger.proto.Block;
import bftledger.ledger.proto.HeaderProof;
import bftledger.ledger.proto.StateSnapshotManifest;
import java.io.IOException;
import java.util.List;
import java.util.Optional;

/** Read access to committed blocks and state snapshots, for serving catch-up and state sync to peers. */
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

    /** The proof that block {@code height}'s header is certified, once a later block certifies it. */
    default Optional<HeaderProof> headerProof(long height) {
        return Optional.empty();
    }

    /** The heights of the state snapshots kept, newest first. */
    default List<Long> snapshotHeights() {
        return List.of();
    }

    /** The VALIDATORS record's value at the tip (empty: genesis's set alone), for a replica joining by state sync. */
    default com.google.protobuf.ByteString validatorSets() {
        return com.google.protobuf.ByteString.EMPTY;
    }

    /** The manifest of the snapshot at {@code height}, if kept. */
    default Optional<StateSnapshotManifest> snapshotManifest(long height) {
        return Optional.empty();
    }

    /** Part of a snapshot's bucket (see {@link StateSnapshots#chunk}); empty when the snapshot is not kept. */
    default Optional<StateSnapshots.Chunk> snapshotChunk(long height, int bucket, long offset, int maxBytes) throws IOException {
        return Optional.empty();
    }
}
