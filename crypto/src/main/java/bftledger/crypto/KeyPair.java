package bftledger.crypto;

import java.security.SecureRandom;
import java.util.Arrays;
import org.bouncycastle.crypto.params.Ed25519PrivateKeyParameters;
import org.bouncycastle.math.ec.rfc8032.Ed25519;

/** An Ed25519 signing key and its public key. The 32-byte seed is the secret. Thread-safe. */
public final class KeyPair {
    public static final int SEED_LENGTH = Ed25519PrivateKeyParameters.KEY_SIZE;

    private final Ed25519PrivateKeyParameters secret;
    private final PublicKey publicKey;

    private KeyPair(Ed25519PrivateKeyParameters secret) {
        this.secret = secret;
        this.publicKey = PublicKey.of(secret.generatePublicKey().getEncoded());
    }

    public static KeyPair generate(SecureRandom random) {
        return new KeyPair(new Ed25519PrivateKeyParameters(random));
    }

    public static KeyPair generate() {
        return generate(new SecureRandom());
    }

    /** Derives the key pair from a 32-byte seed; the same seed always gives the same keys. */
    public static KeyPair fromSeed(byte[] seed) {
        if (seed == null || seed.length != SEED_LENGTH) {
            throw new IllegalArgumentException(
                    "an Ed25519 seed is " + SEED_LENGTH + " bytes, got " + (seed == null ? "null" : seed.length));
        }
        return new KeyPair(new Ed25519PrivateKeyParameters(seed, 0));
    }

    /** Deterministic keys for tests and simulations: the seed is SHA-256 of the label. */
    public static KeyPair deterministic(String label) {
        return fromSeed(Sha256.hash(label.getBytes(java.nio.charset.StandardCharsets.UTF_8)).bytes());
    }

    public PublicKey publicKey() {
        return publicKey;
    }

    /** The secret seed; callers must not log or share it. */
    public byte[] seed() {
        return secret.getEncoded();
    }

    /** Signs {@code domain.prefix() || message}. */
    public byte[] sign(Domain domain, byte[] message) {
        return sign(domain, message, 0, message.length);
    }

    public byte[] sign(Domain domain, byte[] message, int offset, int length) {
        byte[] framed = domain.framed(message, offset, length);
        byte[] signature = new byte[Signature.LENGTH];
        secret.sign(Ed25519.Algorithm.Ed25519, null, framed, 0, framed.length, signature, 0);
        return signature;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof KeyPair k && Arrays.equals(seed(), k.seed());
    }

    @Override
    public int hashCode() {
        return publicKey.hashCode();
    }

    @Override
    public String toString() {
        return "KeyPair(" + publicKey.shortHex() + ")";
    }
}
