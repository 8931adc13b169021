package bftledger.pbft;

/** Bytes from a peer that are not a well-formed message; carries the reason it is counted under. */
public final class MalformedMessageException extends Exception {
    private static final long serialVersionUID = 1L;

    private final RejectReason reason;

    public MalformedMessageException(RejectReason reason, String detail) {
        super(detail, null, false, false);
        this.reason = reason;
    }

    public RejectReason reason() {
        return reason;
    }
}
