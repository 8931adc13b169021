package bftledger.pbft;

import bftledger.crypto.Digest;
import java.util.Arrays;

/**
 * A client request as consensus sees it: an id (the transaction id) and opaque bytes. The core
 * never interprets the payload; whether the id really names the payload (and the payload is a
 * validly signed transaction) is the {@link RequestValidator}'s job, done outside the core.
 */
public record Request(Digest id, byte[] payload) {
    public Request {
        if (id == null || payload == null) {
            throw new IllegalArgumentException("request needs an id and a payload");
        }
        payload = payload.clone();
    }

    @Override
    public byte[] payload() {
        return payload.clone();
    }

    public int payloadLength() {
        return payload.length;
    }

    /** Bytes this request occupies inside a batch on the wire: id, length prefix, payload. */
    public int encodedLength() {
        return Digest.LENGTH + 4 + payload.length;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Request r && id.equals(r.id) && Arrays.equals(payload, r.payload);
    }

    @Override
    public int hashCode() {
        return id.hashCode();
    }

    @Override
    public String toString() {
        return "Request(" + id.shortHex() + ", " + payload.length + "B)";
    }
}
