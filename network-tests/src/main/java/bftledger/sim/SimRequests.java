package bftledger.sim;

import bftledger.crypto.Digest;
import bftledger.crypto.Domain;
import bftledger.crypto.KeyPair;
import bftledger.crypto.PublicKey;
import bftledger.crypto.Sha256;
import bftledger.crypto.Signature;
import bftledger.pbft.Request;
import bftledger.pbft.RequestValidator;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Optional;

/**
 * The simulator's client request: payload = client key (32) || signature (64) || body, the
 * signature over the body under {@link Domain#REQUEST}, id = SHA-256(payload). The same shape as
 * pbft's test requests, so the core sees what it sees in its own tests; the node plugs in the
 * ledger's transaction rules instead.
 */
public final class SimRequests {
    private SimRequests() {}

    public static Request signed(KeyPair client, String body) {
        byte[] text = body.getBytes(StandardCharsets.UTF_8);
        return build(client.publicKey(), client.sign(Domain.REQUEST, text), text);
    }

    /** A request whose signature is whatever the caller says: forged requests for Byzantine strategies. */
    public static Request build(PublicKey client, byte[] signature, byte[] body) {
        byte[] payload = new byte[PublicKey.LENGTH + Signature.LENGTH + body.length];
        System.arraycopy(client.bytes(), 0, payload, 0, PublicKey.LENGTH);
        System.arraycopy(signature, 0, payload, PublicKey.LENGTH, Signature.LENGTH);
        System.arraycopy(body, 0, payload, PublicKey.LENGTH + Signature.LENGTH, body.length);
        return new Request(Sha256.hash(payload), payload);
    }

    /** The client key a request claims, or null when the payload is too short to hold one. */
    public static byte[] clientKeyBytes(Request request) {
        byte[] p = request.payload();
        return p.length < PublicKey.LENGTH ? null : Arrays.copyOfRange(p, 0, PublicKey.LENGTH);
    }

    /** Valid when the id names the payload and the client's signature over the body verifies. */
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

    /**
     * A validator that checks each distinct request once per simulation: every replica's node
     * checks the same request, and the verdict depends only on the bytes. Not thread-safe; one
     * per simulation.
     */
    public static RequestValidator caching(RequestValidator inner) {
        java.util.HashMap<Digest, Object[]> verdicts = new java.util.HashMap<>();
        return request -> {
            Object[] cached = verdicts.get(request.id());
            if (cached != null && Arrays.equals((byte[]) cached[0], request.payload())) {
                @SuppressWarnings("unchecked")
                Optional<String> v = (Optional<String>) cached[1];
                return v;
            }
            Optional<String> v = inner.problem(request);
            verdicts.put(request.id(), new Object[] {request.payload(), v});
            return v;
        };
    }
}
