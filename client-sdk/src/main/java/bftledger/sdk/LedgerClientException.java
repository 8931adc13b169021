package bftledger.sdk;

/**
 * Why an SDK call did not produce a proven answer. {@link Kind#REJECTED}: f+1 replicas signed
 * the same rejection, so the transaction is invalid and resubmitting it will not help.
 * {@link Kind#TIMEOUT}: no quorum before the deadline; the message lists what each replica
 * said, and the same transaction may be submitted again safely (it executes at most once).
 */
public final class LedgerClientException extends Exception {
    public enum Kind { REJECTED, TIMEOUT, NO_AGREEMENT }

    private final Kind kind;

    public LedgerClientException(Kind kind, String message) {
        super(message);
        this.kind = kind;
    }

    public Kind kind() {
        return kind;
    }
}
