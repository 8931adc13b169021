package bftledger.pbft;

/**
 * Why a message or request was not taken. The node counts rejections by this reason (a metric
 * label), so the set is closed and each value names one decision.
 */
public enum RejectReason {
    // Decoding (MessageCodec), before any signature is checked.
    OVERSIZE,
    MALFORMED,
    UNKNOWN_TYPE,
    // Verification (MessageVerifier), stateless.
    NOT_A_MEMBER,
    BAD_SIGNATURE,
    SIGNER_MISMATCH,
    NOT_PRIMARY,
    PREPARE_FROM_PRIMARY,
    NOT_CHECKPOINT_SEQUENCE,
    BATCH_TOO_LARGE,
    DUPLICATE_REQUEST_IN_BATCH,
    INVALID_REQUEST,
    BAD_CHECKPOINT_PROOF,
    BAD_PREPARED_CERTIFICATE,
    BAD_VIEW_CHANGE,
    BAD_NEW_VIEW,
    // Protocol (Replica), stateful.
    OLD_VIEW,
    OLD_SEQUENCE,
    DUPLICATE,
    CONFLICTING_MESSAGE,
    CONFLICTS_OWN_VOTE,
    NEW_VIEW_MISMATCH,
    FUTURE_BUFFER_FULL,
    PENDING_REQUESTS_FULL,
    ALREADY_EXECUTED,
    WRONG_VIEW_STATE,
    VIEW_TOO_FAR_AHEAD,
    CHECKPOINT_DIVERGENCE,
    ANCHOR_OUT_OF_RANGE,
    ANCHOR_UNKNOWN,
    ANCHOR_MISMATCH,
    STATUS_TOO_SOON,
    /** Above the last sequence of this core's epoch: for the next validator set, not a fault. */
    BEYOND_EPOCH_END
}
