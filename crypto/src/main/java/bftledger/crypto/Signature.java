package bftledger.crypto;

/** Constants for Ed25519 signatures, which travel as plain 64-byte arrays. */
public final class Signature {
    public static final int LENGTH = 64;

    private Signature() {}
}
