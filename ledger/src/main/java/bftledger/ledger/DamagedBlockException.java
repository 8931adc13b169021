package bftledger.ledger;

/**
 * A stored block does not match what its header and the chain commit to: its bytes were damaged
 * on disk. The block is never served; the store reports the height to its damage listener (a
 * node fetches the certified block from peers and puts it back with {@link BlockStore#repair}).
 */
public final class DamagedBlockException extends StoreCorruptedException {
    private final long height;

    public DamagedBlockException(long height, String message) {
        super(message);
        this.height = height;
    }

    public long height() {
        return height;
    }
}
