package bftledger.pbft;

import bftledger.crypto.Digest;

/**
 * Read-only port onto what this replica's application reported for each executed sequence:
 * the state digest of {@link Event.Executed} (the ledger's block hash). The primary names the
 * latest one in the batches it proposes ({@link bftledger.crypto.HeaderAnchor}), and a backup
 * sends its PREPARE for such a batch only when the named digest is the one it executed itself,
 * so a commit certificate over the batch certifies the named block header. Must be cheap and must
 * not block: it is called on the core's thread.
 */
@FunctionalInterface
public interface ExecutedDigests {
    /** Knows nothing: batches carry no anchor and no anchor can be checked. */
    ExecutedDigests NONE = sequence -> null;

    /** The digest reported for {@code sequence} (at least 1), or null when it did not execute here or is no longer kept. */
    Digest at(long sequence);
}
