package bftledger.node.net;

import bftledger.ledger.BlockStore;
import bftledger.ledger.StateSnapshots;
import bftledger.ledger.proto.Block;
import bftledger.ledger.proto.HeaderProof;
import bftledger.ledger.proto.StateSnapshotManifest;
import java.io.IOException;
import java.util.List;
import java.util.Optional;

/** What a replica serves its peers: its block store's blocks and header proofs, and its state snapshots. */
public record StoreBlockSource(BlockStore store, StateSnapshots snapshots) implements BlockSource {
    @Override
    public long height() {
        return store.height();
    }

    @Override
    public Optional<Block> block(long height) {
        return store.block(height);
    }

    @Override
    public Optional<Block> stored(long height) {
        return store.stored(height);
    }

    @Override
    public long prunedBelow() {
        return store.prunedBelow();
    }

    @Override
    public Optional<HeaderProof> headerProof(long height) {
        return store.headerProof(height);
    }

    @Override
    public List<Long> snapshotHeights() {
        return snapshots.heights();
    }

    @Override
    public com.google.protobuf.ByteString validatorSets() {
        return store.validatorSetsRecord();
    }

    @Override
    public Optional<StateSnapshotManifest> snapshotManifest(long height) {
        return snapshots.manifest(height);
    }

    @Override
    public Optional<StateSnapshots.Chunk> snapshotChunk(long height, int bucket, long offset, int maxBytes) throws IOException {
        return snapshots.chunk(height, bucket, offset, maxBytes);
    }
}
