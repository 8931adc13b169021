package bftledger.ledger;

import bftledger.crypto.Digest;
import bftledger.crypto.Sha256;
import java.util.Arrays;

/**
 * How a block is kept in the store: its bytes followed by their SHA-256, so that any byte the
 * disk changes is found when the block is read (LMDB keeps no checksums of its own). The hash
 * covers what no root in the header does, such as signatures.
 */
final class StoredBlock {
    private StoredBlock() {}

    static byte[] encode(byte[] block) {
        byte[] out = Arrays.copyOf(block, block.length + Digest.LENGTH);
        System.arraycopy(Sha256.hash(block).bytes(), 0, out, block.length, Digest.LENGTH);
        return out;
    }

    /** The block's bytes, or null when the stored value does not hold its own checksum. */
    static byte[] decode(byte[] stored) {
        if (stored.length < Digest.LENGTH) {
            return null;
        }
        int length = stored.length - Digest.LENGTH;
        Digest recorded = Digest.of(Arrays.copyOfRange(stored, length, stored.length));
        return Sha256.hash(stored, 0, length).equals(recorded) ? Arrays.copyOf(stored, length) : null;
    }
}
