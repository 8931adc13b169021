package bftledger.pbft;

import bftledger.crypto.BatchDigest;
import bftledger.crypto.Digest;
import java.util.List;

/**
 * What one sequence number orders: the primary's timestamp and the requests in order. Its
 * digest is {@link BatchDigest#of(long, List)} over the request ids, the rule the ledger uses to
 * check a block against its commit certificate. The null batch (timestamp 0, no requests) fills
 * gaps in a NEW-VIEW. Immutable; the digest is computed once.
 */
public final class Batch {
    public static final Batch NULL = new Batch(0L, List.of());

    private final long timestampMillis;
    private final List<Request> requests;
    private final Digest digest;

    public Batch(long timestampMillis, List<Request> requests) {
        if (timestampMillis < 0) {
            throw new IllegalArgumentException("negative batch timestamp");
        }
        this.timestampMillis = timestampMillis;
        this.requests = List.copyOf(requests);
        this.digest = BatchDigest.of(timestampMillis, requestIds());
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

    public List<Digest> requestIds() {
        return requests.stream().map(Request::id).toList();
    }

    public boolean isNull() {
        return timestampMillis == 0 && requests.isEmpty();
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
        return o instanceof Batch b && timestampMillis == b.timestampMillis && requests.equals(b.requests);
    }

    @Override
    public int hashCode() {
        return digest.hashCode();
    }

    @Override
    public String toString() {
        return "Batch(t=" + timestampMillis + ", " + requests.size() + " requests, " + digest.shortHex() + ")";
    }
}
