package bftledger.pbft;

import bftledger.crypto.Digest;

/**
 * Read-only port onto the application's at-most-once index (the ledger's transaction index).
 * The core remembers executed request ids only until a stable checkpoint covers them; after
 * that it asks here before ordering a resubmitted request again, so client retries of old
 * requests are refused instead of ordered twice. The answer only guides which client requests
 * are proposed (a local decision), never whether a batch is valid, so an index that runs
 * slightly ahead of the {@link Event.Executed} reports cannot make replicas disagree.
 * Must be cheap and must not block: it is called on the core's thread.
 */
@FunctionalInterface
public interface ExecutedRequests {
    ExecutedRequests NONE = id -> false;

    boolean contains(Digest requestId);
}
