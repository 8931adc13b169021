package bftledger.crypto;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.List;

/**
 * The digest consensus agrees on for one batch (one block): the rule shared by the consensus
 * core, which orders batches, and the ledger, which checks that a block is what a commit
 * certificate signed.
 *
 * <pre>
 * SHA-256("bftledger/v1/batch" || 0x00 || timestamp u64 || count u32 || merkleRoot(request ids)
 *         || anchor height u64 || anchor hash (32))
 * </pre>
 *
 * Big-endian integers; the Merkle root is RFC 6962 over the 32-byte request ids (the transaction
 * ids) in batch order; the anchor ({@link HeaderAnchor}) names an earlier block header, so a
 * commit certificate over this digest certifies that header and everything its hashes commit to.
 * A null batch (the filler a new primary proposes for a gap) has no requests, timestamp 0 and no anchor.
 */
public final class BatchDigest {
    private static final byte[] TAG = "bftledger/v1/batch\0".getBytes(StandardCharsets.US_ASCII);

    private BatchDigest() {}

    public static Digest of(long timestampMillis, List<Digest> requestIds, HeaderAnchor anchor) {
        return of(timestampMillis, requestIds.size(), requestRoot(requestIds), anchor);
    }

    public static Digest of(long timestampMillis, int requestCount, Digest requestRoot, HeaderAnchor anchor) {
        byte[] counts = ByteBuffer.allocate(8 + 4).putLong(timestampMillis).putInt(requestCount).array();
        byte[] anchorHeight = ByteBuffer.allocate(8).putLong(anchor.height()).array();
        return Sha256.hash(TAG, counts, requestRoot.raw(), anchorHeight, anchor.hash().raw());
    }

    /** The RFC 6962 root over the request ids, as stored in a block header's transaction root. */
    public static Digest requestRoot(List<Digest> requestIds) {
        return MerkleTree.of(requestIds.stream().map(Digest::bytes).toList()).root();
    }

    /** The digest of the null batch. */
    public static Digest nullBatch() {
        return of(0L, List.of(), HeaderAnchor.NONE);
    }
}
