package bftledger.crypto;

import java.util.Objects;

/**
 * The earlier block header a batch names, by height and hash, so that the commit certificate
 * over the batch's digest certifies that header too (see {@link BatchDigest}). Height 0 with 32
 * zero bytes names nothing: the null batch, and a batch proposed before any block executed.
 */
public record HeaderAnchor(long height, Digest hash) {
    public static final HeaderAnchor NONE = new HeaderAnchor(0, Digest.ZERO);

    public HeaderAnchor {
        Objects.requireNonNull(hash);
        if (height < 0) {
            throw new IllegalArgumentException("negative anchor height " + height);
        }
        if (height == 0 && !hash.equals(Digest.ZERO)) {
            throw new IllegalArgumentException("an anchor at height 0 names nothing and has a zero hash");
        }
    }

    public boolean isNone() {
        return height == 0;
    }

    @Override
    public String toString() {
        return isNone() ? "anchor(none)" : "anchor(" + height + ", " + hash.shortHex() + ")";
    }
}
