package bftledger.crypto;

import java.util.Arrays;
import java.util.HexFormat;
import org.bouncycastle.crypto.params.Ed25519PublicKeyParameters;
import org.bouncycastle.math.ec.rfc8032.Ed25519;

/**
 * An Ed25519 public key (32 bytes, RFC 8032 encoding). Immutable, value equality. The decoded
 * curve point is cached, so verifying many signatures under one key decodes it once.
 */
public final class PublicKey implements Comparable<PublicKey> {
    public static final int LENGTH = Ed25519PublicKeyParameters.KEY_SIZE;

    private final byte[] encoded;
    private final Ed25519PublicKeyParameters params;

    private PublicKey(byte[] encoded) {
        this.encoded = encoded;
        this.params = new Ed25519PublicKeyParameters(encoded, 0);
    }

    /**
     * Parses an encoded key. Rejects wrong lengths and encodings that are not a valid point, so
     * a key from the wire is checked once here rather than failing later inside a verify.
     */
    public static PublicKey of(byte[] encoded) {
        if (encoded == null || encoded.length != LENGTH) {
            throw new IllegalArgumentException(
                    "an Ed25519 public key is " + LENGTH + " bytes, got " + (encoded == null ? "null" : encoded.length));
        }
        java.nio.ByteBuffer lookup = java.nio.ByteBuffer.wrap(encoded);
        PublicKey known = VALIDATED.get(lookup);
        if (known != null) {
            return known;
        }
        if (!Ed25519.validatePublicKeyFull(encoded, 0)) {
            throw new IllegalArgumentException("not a valid Ed25519 public key: " + HexFormat.of().formatHex(encoded));
        }
        PublicKey key = new PublicKey(encoded.clone());
        if (VALIDATED.size() >= VALIDATED_MAX) {
            // Crude but bounded: a burst of fresh keys costs a re-validation, never memory.
            VALIDATED.clear();
        }
        VALIDATED.put(java.nio.ByteBuffer.wrap(key.encoded), key);
        return key;
    }

    /**
     * Keys that passed the full point validation, by encoding. The validation (point
     * decompression and a subgroup check) plus decoding costs about a signature verification, and
     * every transaction names its sender and usually a recipient from a small set of accounts:
     * without this, parsing the keys of a transaction cost more than verifying its signature.
     * The ByteBuffer keys wrap arrays nobody mutates (the PublicKey's own copy).
     */
    private static final int VALIDATED_MAX = 65_536;
    private static final java.util.concurrent.ConcurrentHashMap<java.nio.ByteBuffer, PublicKey> VALIDATED =
            new java.util.concurrent.ConcurrentHashMap<>();

    /** The encoding itself, not a copy: for hashing inside this package. */
    byte[] encodedView() {
        return encoded;
    }

    public static PublicKey fromHex(String hex) {
        return of(HexFormat.of().parseHex(hex));
    }

    public byte[] bytes() {
        return encoded.clone();
    }

    public String hex() {
        return HexFormat.of().formatHex(encoded);
    }

    /** First 8 hex digits, for logs. */
    public String shortHex() {
        return hex().substring(0, 8);
    }

    /**
     * True when {@code signature} is this key's signature over {@code domain.prefix() || message}
     * under the ZIP-215 rule (see {@link SignatureBatch}), the rule batch verification shares.
     */
    public boolean verify(Domain domain, byte[] message, byte[] signature) {
        return verify(domain, message, 0, message.length, signature);
    }

    public boolean verify(Domain domain, byte[] message, int offset, int length, byte[] signature) {
        if (signature == null || signature.length != Signature.LENGTH) {
            return false;
        }
        // One check decides, valid or not (SignatureBatch#verifyOne): a forger costs what an honest signer costs.
        return SignatureBatch.verifyOne(this, domain.framed(message, offset, length), signature);
    }

    /**
     * BouncyCastle's RFC 8032 verification alone, not used to decide anything: the benchmark's
     * ceiling is defined by this library call. BouncyCastle's check is cofactored too, so on keys
     * that pass {@link #of} it differs from {@link #verify} only on the non-canonical encodings of
     * R that ZIP-215 accepts (see PublicVectorsTest).
     */
    public boolean verifyRfc8032(Domain domain, byte[] message, byte[] signature) {
        byte[] framed = domain.framed(message, 0, message.length);
        return signature.length == Signature.LENGTH
                && params.verify(Ed25519.Algorithm.Ed25519, null, framed, 0, framed.length, signature, 0);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof PublicKey k && Arrays.equals(encoded, k.encoded);
    }

    @Override
    public int hashCode() {
        return Arrays.hashCode(encoded);
    }

    @Override
    public int compareTo(PublicKey o) {
        return Arrays.compareUnsigned(encoded, o.encoded);
    }

    @Override
    public String toString() {
        return hex();
    }
}
