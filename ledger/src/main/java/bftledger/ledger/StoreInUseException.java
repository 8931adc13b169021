package bftledger.ledger;

/** A store another process has open: nothing was opened or changed. */
public final class StoreInUseException extends IllegalStateException {
    public StoreInUseException(String message) {
        super(message);
    }
}
