package bftledger.node.replica;

import bftledger.crypto.Digest;
import bftledger.ledger.BlockStore;
import bftledger.pbft.ExecutedDigests;

/**
 * The hashes of the blocks this replica executed, as the PBFT core asks for them to name and
 * check header anchors ({@link ExecutedDigests}): the last {@link #RECENT_MAX} in memory (every
 * anchor an honest primary names is among them), older ones from the block store. Called on the
 * core thread only, which also records every block it appends.
 */
final class BlockHashes implements ExecutedDigests {
    /** Recent hashes kept: several watermark windows, the range anchors come from. */
    static final int RECENT_MAX = 1_024;

    private final BlockStore store;
    private final long[] heights = new long[RECENT_MAX];
    private final Digest[] hashes = new Digest[RECENT_MAX];

    BlockHashes(BlockStore store) {
        this.store = store;
    }

    void record(long height, Digest hash) {
        int slot = (int) Math.floorMod(height, (long) RECENT_MAX);
        heights[slot] = height;
        hashes[slot] = hash;
    }

    @Override
    public Digest at(long sequence) {
        int slot = (int) Math.floorMod(sequence, (long) RECENT_MAX);
        if (hashes[slot] != null && heights[slot] == sequence) {
            return hashes[slot];
        }
        Digest stored = store.blockHash(sequence).orElse(null);
        if (stored != null) {
            record(sequence, stored);
        }
        return stored;
    }
}
