package bftledger.pbft;

import bftledger.crypto.Digest;
import bftledger.crypto.Domain;
import bftledger.crypto.KeyPair;
import bftledger.crypto.PublicKey;
import bftledger.crypto.Sha256;
import bftledger.crypto.Signature;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Optional;

/**
 * A minimal signed request for tests: payload = client key (32) || signature (64) || body,
 * signature over the body under Domain.REQUEST, id = SHA-256(payload).
 */
public final class TestRequests {
    public static final KeyPair CLIENT = KeyPair.deterministic("test-client");

    private TestRequests() {}

    public static Request signed(String body) {
        return signed(CLIENT, body.getBytes(StandardCharsets.UTF_8));
    }

    public static Request signed(KeyPair client, byte[] body) {
        byte[] sig = client.sign(Domain.REQUEST, body);
        byte[] payload = new byte[PublicKey.LENGTH + Signature.LENGTH + body.length];
        System.arraycopy(client.publicKey().bytes(), 0, payload, 0, PublicKey.LENGTH);
        System.arraycopy(sig, 0, payload, PublicKey.LENGTH, Signature.LENGTH);
        System.arraycopy(body, 0, payload, PublicKey.LENGTH + Signature.LENGTH, body.length);
        return new Request(Sha256.hash(payload), payload);
    }

    public static final RequestValidator VALIDATOR = request -> {
        byte[] p = request.payload();
        if (p.length < PublicKey.LENGTH + Signature.LENGTH) {
            return Optional.of("too short");
        }
        if (!Sha256.hash(p).equals(request.id())) {
            return Optional.of("id is not the hash of the payload");
        }
        PublicKey key;
        try {
            key = PublicKey.of(Arrays.copyOfRange(p, 0, PublicKey.LENGTH));
        } catch (IllegalArgumentException e) {
            return Optional.of("bad client key");
        }
        byte[] sig = Arrays.copyOfRange(p, PublicKey.LENGTH, PublicKey.LENGTH + Signature.LENGTH);
        byte[] body = Arrays.copyOfRange(p, PublicKey.LENGTH + Signature.LENGTH, p.length);
        return key.verify(Domain.REQUEST, body, sig) ? Optional.empty() : Optional.of("bad client signature");
    };

    public static Digest id(String body) {
        return signed(body).id();
    }
}
