package bftledger.crypto;

/**
 * One signature to check: is {@code signature} the signature of {@code key} over
 * {@code domain.prefix() || message}? The arrays are not copied; the caller must not change them
 * until the check has run.
 */
public record SignatureCheck(PublicKey key, Domain domain, byte[] message, byte[] signature) {
    public SignatureCheck {
        if (key == null || domain == null || message == null || signature == null) {
            throw new IllegalArgumentException("a signature check needs a key, a domain, a message and a signature");
        }
    }

    /** Runs the check on the calling thread. A signature of the wrong length is simply invalid. */
    public boolean verify() {
        return key.verify(domain, message, signature);
    }
}
