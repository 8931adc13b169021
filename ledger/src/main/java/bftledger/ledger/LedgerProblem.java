package bftledger.ledger;

/** One thing wrong with a ledger, found by {@link LedgerVerifier} or when checking a block. */
public record LedgerProblem(long height, Kind kind, String message) {
    public enum Kind {
        MISSING_BLOCK,
        MALFORMED_BLOCK,
        CHAIN_ID,
        HEIGHT,
        CHAIN_LINK,
        TX_COUNT,
        TX_ROOT,
        BATCH_DIGEST,
        CERTIFICATE,
        TRANSACTION,
        RECEIPTS,
        RECEIPTS_ROOT,
        STATE_ROOT,
        /** The batch names an earlier header that is not this chain's, or cannot be one. */
        ANCHOR,
        VALIDATOR_SET,
        BLOCKS_ROOT,
        /** A header that no later block in the store certifies (expected only for the newest few). */
        UNCERTIFIED,
        /** The store's account, record or transaction-index state differs from re-execution. */
        STATE,
        /** The store's metadata (tip, state root, height) disagrees with its blocks. */
        METADATA,
        STORE
    }

    @Override
    public String toString() {
        return "height " + height + " " + kind + ": " + message;
    }
}
