package bftledger.ledger;

/**
 * The outcome of {@link Transactions#validate}: {@code OK} with the verified transaction, or the
 * first reason the transaction is rejected and a human-readable detail. Rejection reasons are
 * meant to be counted by reason at the node.
 */
public record TxVerdict(Reason reason, String detail, VerifiedTransaction transaction) {
    public enum Reason {
        OK,
        /** Serialized SignedTransaction over {@link Transactions#MAX_TRANSACTION_BYTES}. */
        OVERSIZED,
        /** Does not parse, carries unknown fields, or has an empty body. */
        MALFORMED,
        WRONG_CHAIN_ID,
        /** Sender is not a valid 32-byte Ed25519 public key. */
        BAD_SENDER_KEY,
        NO_OPERATION,
        ZERO_AMOUNT,
        /** Transfer recipient is not a valid 32-byte Ed25519 public key. */
        BAD_RECIPIENT,
        /** A transfer to oneself: it could change nothing, so it is refused rather than recorded. */
        SELF_TRANSFER,
        /** Record key empty or over {@link Transactions#MAX_RECORD_KEY_BYTES}. */
        BAD_RECORD_KEY,
        /** Record value over {@link Transactions#MAX_RECORD_VALUE_BYTES}. */
        RECORD_VALUE_TOO_LARGE,
        /** A ChangeValidators naming a set no network could run (size, keys, addresses). */
        BAD_VALIDATOR_SET,
        BAD_SIGNATURE
    }

    public TxVerdict {
        if ((reason == Reason.OK) != (transaction != null)) {
            throw new IllegalArgumentException("a verdict carries a transaction exactly when it is OK");
        }
    }

    static TxVerdict ok(VerifiedTransaction tx) {
        return new TxVerdict(Reason.OK, "", tx);
    }

    static TxVerdict reject(Reason reason, String detail) {
        return new TxVerdict(reason, detail, null);
    }

    public boolean ok() {
        return reason == Reason.OK;
    }

    @Override
    public String toString() {
        return ok() ? "OK " + transaction : reason + ": " + detail;
    }
}
