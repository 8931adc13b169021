package bftledger.crypto;

import java.math.BigInteger;
import java.security.MessageDigest;

/** Byte and scalar helpers the signature tests share, to build signatures by hand (forged, torsioned, non-canonical). */
final class TestScalars {
    private TestScalars() {}

    static byte[] sha512(byte[]... parts) {
        try {
            MessageDigest sha = MessageDigest.getInstance("SHA-512");
            for (byte[] part : parts) {
                sha.update(part);
            }
            return sha.digest();
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new AssertionError(e);
        }
    }

    /** RFC 8032 5.1.5: the low half of SHA-512(seed), clamped. */
    static BigInteger secretScalar(byte[] seed) {
        byte[] h = sha512(seed);
        h[0] &= (byte) 248;
        h[31] &= 127;
        h[31] |= 64;
        return littleEndian(h, 0, 32);
    }

    static BigInteger littleEndian(byte[] bytes, int offset) {
        return littleEndian(bytes, offset, 32);
    }

    static BigInteger littleEndian(byte[] bytes, int offset, int length) {
        byte[] be = new byte[length + 1];
        for (int i = 0; i < length; i++) {
            be[length - i] = bytes[offset + i];
        }
        return new BigInteger(be);
    }

    /** Writes {@code value} as 32 little-endian bytes at {@code offset}. */
    static void putLittleEndian(BigInteger value, byte[] out, int offset) {
        byte[] be = value.toByteArray();
        java.util.Arrays.fill(out, offset, offset + 32, (byte) 0);
        for (int i = 0; i < be.length && i < 32; i++) {
            out[offset + i] = be[be.length - 1 - i];
        }
    }
}
