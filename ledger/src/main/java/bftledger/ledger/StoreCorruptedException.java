package bftledger.ledger;

/**
 * The block store on disk is damaged or is not the store of the given genesis. The message says
 * what is wrong and where (height, key or file offset). The store is never repaired: an operator
 * must restore it or resynchronize the node from peers.
 */
public class StoreCorruptedException extends RuntimeException {
    public StoreCorruptedException(String message) {
        super(message);
    }

    public StoreCorruptedException(String message, Throwable cause) {
        super(message, cause);
    }
}
