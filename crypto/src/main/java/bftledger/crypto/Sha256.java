package bftledger.crypto;

import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;

/** SHA-256 over one or more byte arrays, concatenated. Thread-safe. */
public final class Sha256 {
    private static final ThreadLocal<MessageDigest> DIGESTS = ThreadLocal.withInitial(Sha256::newDigest);

    private Sha256() {}

    public static Digest hash(byte[]... parts) {
        MessageDigest md = DIGESTS.get();
        for (byte[] part : parts) {
            md.update(part);
        }
        return Digest.wrap(md.digest());
    }

    public static Digest hash(byte[] data, int offset, int length) {
        MessageDigest md = DIGESTS.get();
        md.update(data, offset, length);
        return Digest.wrap(md.digest());
    }

    private static MessageDigest newDigest() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("the JDK has no SHA-256", e);
        }
    }
}
