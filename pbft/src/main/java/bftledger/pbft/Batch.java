package bftledger.pbft;

import bftledger.crypto.BatchDigest;
import bftledger.crypto.Digest;
import bftledger.crypto.HeaderAnchor;
import java.util.List;

/**
 * What one sequence number orders: the primary's timestamp, the requests in order, and the
 * anchor: the latest block header the primary executed, which the batch's commit certificate
 * thereby certifies. Its digest is {@link BatchDigest#of(long, List, HeaderAnchor)}, the rule the
 * ledger uses to check a block against its commit certificate. The null batch (timestamp 0, no
 * requests, no anchor) fills gaps in a NEW-VIEW. Immutable; the digest is computed once.
 */
public final class Batch {
    public static final Batch NULL = new Batch(0L, List.of(), HeaderAnchor.NONE);

    private final long timestampMillis;
    private final List<Request> requests;
    private final HeaderAnchor anchor;
    private final Digest digest;

    public Batch(long timestampMillis, List<Request> requests, HeaderAnchor anchor) {
        if (timestampMillis < 0) {
            throw new IllegalArgumentException("negative batch timestamp");
        }
        this.timestampMillis = timestampMillis;
        this.requests = List.copyOf(requests);
        this.anchor = java.util.Objects.requireNonNull(anchor);
        this.digest = BatchDigest.of(timestampMillis, requestIds(), anchor);
    }

    /** A batch that certifies no earlier header. */
    public Batch(long timestampMillis, List<Request> requests) {
        this(timestampMillis, requests, HeaderAnchor.NONE);
    }

    public long timestampMillis() {
        return timestampMillis;
    }

    public List<Request> requests() {
        return requests;
    }

    public Digest digest() {
        return digest;
    }

    public HeaderAnchor anchor() {
        return anchor;
    }

    public List<Digest> requestIds() {
        return requests.stream().map(Request::id).toList();
    }

    public boolean isNull() {
        return timestampMillis == 0 && requests.isEmpty() && anchor.isNone();
    }

    /** Sum of the payload bytes: the quantity bounded by {@link Config#batchBytesMax()}. */
    public long payloadBytes() {
        long total = 0;
        for (Request r : requests) {
            total += r.payloadLength();
        }
        return total;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Batch b && timestampMillis == b.timestampMillis && requests.equals(b.requests)
                && anchor.equals(b.anchor);
    }

    @Override
    public int hashCode() {
        return digest.hashCode();
    }

    @Override
    public String toString() {
        return "Batch(t=" + timestampMillis + ", " + requests.size() + " requests, " + anchor + ", " + digest.shortHex() + ")";
    }
}
