package bftledger.crypto;

import java.util.Arrays;
import java.util.HexFormat;

/** A SHA-256 value: 32 immutable bytes with value equality, usable as a map key. */
public final class Digest implements Comparable<Digest> {
    public static final int LENGTH = 32;
    public static final Digest ZERO = new Digest(new byte[LENGTH]);

    private final byte[] bytes;

    private Digest(byte[] bytes) {
        this.bytes = bytes;
    }

    /** Copies {@code bytes}, which must be exactly 32 long. */
    public static Digest of(byte[] bytes) {
        if (bytes == null || bytes.length != LENGTH) {
            throw new IllegalArgumentException(
                    "a digest is " + LENGTH + " bytes, got " + (bytes == null ? "null" : bytes.length));
        }
        return new Digest(bytes.clone());
    }

    /** Takes ownership of {@code bytes} without copying; only for freshly computed hashes. */
    static Digest wrap(byte[] bytes) {
        return new Digest(bytes);
    }

    public static Digest fromHex(String hex) {
        return of(HexFormat.of().parseHex(hex));
    }

    public byte[] bytes() {
        return bytes.clone();
    }

    /** The bytes themselves, for hashing inside this package; never handed out or written to. */
    byte[] raw() {
        return bytes;
    }

    public String hex() {
        return HexFormat.of().formatHex(bytes);
    }

    /** First 8 hex digits, for logs and traces. */
    public String shortHex() {
        return hex().substring(0, 8);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Digest d && Arrays.equals(bytes, d.bytes);
    }

    @Override
    public int hashCode() {
        return Arrays.hashCode(bytes);
    }

    @Override
    public int compareTo(Digest o) {
        return Arrays.compareUnsigned(bytes, o.bytes);
    }

    @Override
    public String toString() {
        return hex();
    }
}
