package bftledger.node;

import bftledger.crypto.BatchDigest;
import bftledger.crypto.CommitVote;
import bftledger.crypto.Digest;
import bftledger.crypto.HeaderAnchor;
import bftledger.crypto.KeyPair;
import bftledger.ledger.BlockStore;
import bftledger.ledger.ChainGenesis;
import bftledger.ledger.CommitCertificates;
import bftledger.ledger.VerifiedTransaction;
import java.util.List;
import java.util.TreeMap;

/** Builds certified chains in a real block store for tests, without running consensus. */
public final class TestBlocks {
    private TestBlocks() {}

    /**
     * Appends the next block holding {@code txs}, anchoring the block before it (as an idle primary
     * does; any earlier one is valid), certified by COMMITs of validators 0 .. quorum-1 in view 0.
     */
    public static void append(BlockStore store, ChainGenesis genesis, List<KeyPair> validators, List<VerifiedTransaction> txs) {
        BlockStore.Tip tip = store.tip();
        HeaderAnchor anchor = tip.height() == 0 ? HeaderAnchor.NONE : new HeaderAnchor(tip.height(), tip.hash());
        long height = tip.height() + 1;
        long timestamp = 1_700_000_001_000L + height;
        Digest batch = BatchDigest.of(timestamp, txs.stream().map(VerifiedTransaction::id).toList(), anchor);
        TreeMap<Integer, byte[]> sigs = new TreeMap<>();
        for (int r = 0; r < genesis.quorum(); r++) {
            sigs.put(r, new CommitVote(0, height, batch, r).sign(validators.get(r)));
        }
        store.appendBatch(timestamp, anchor, txs, CommitCertificates.of(0, height, batch, sigs));
    }
}
