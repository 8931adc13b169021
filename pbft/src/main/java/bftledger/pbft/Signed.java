package bftledger.pbft;

import bftledger.crypto.PublicKey;

/**
 * A payload with its signer and signature, and the exact wire bytes it arrived in (or was sent
 * in). Wire layout: {@code type u8 || signer u32 || payload length u32 || payload || signature}.
 * The signature covers {@code domain prefix || payload bytes} where the payload bytes are the
 * slice of {@link #wire()} as received; nothing is re-encoded to check it. Construct through
 * {@link MessageCodec#decode} or {@link MessageFactory}; a {@code Signed} proves nothing until
 * {@link MessageVerifier} has accepted it.
 */
public final class Signed<P extends Payload> {
    static final int HEADER_BYTES = 1 + 4 + 4;

    private final P payload;
    private final int signer;
    private final byte[] wire;

    Signed(P payload, int signer, byte[] wire) {
        this.payload = payload;
        this.signer = signer;
        this.wire = wire;
    }

    public P payload() {
        return payload;
    }

    public MessageType type() {
        return payload.type();
    }

    public int signer() {
        return signer;
    }

    /** The complete message as it travels; safe to send or store as is. */
    public byte[] wire() {
        return wire.clone();
    }

    public int wireLength() {
        return wire.length;
    }

    int payloadLength() {
        return wire.length - HEADER_BYTES - bftledger.crypto.Signature.LENGTH;
    }

    /** The signed payload bytes, as received. */
    public byte[] payloadBytes() {
        byte[] out = new byte[payloadLength()];
        System.arraycopy(wire, HEADER_BYTES, out, 0, out.length);
        return out;
    }

    public byte[] signature() {
        byte[] sig = new byte[bftledger.crypto.Signature.LENGTH];
        System.arraycopy(wire, wire.length - sig.length, sig, 0, sig.length);
        return sig;
    }

    /** True when {@code key} signed the payload bytes as received under this type's domain. */
    public boolean signatureValid(PublicKey key) {
        return key.verify(type().domain(), wire, HEADER_BYTES, payloadLength(), signature());
    }

    /** The same check as {@link #signatureValid}, to be run in a batch with others. */
    public bftledger.crypto.SignatureCheck signatureCheck(PublicKey key) {
        return new bftledger.crypto.SignatureCheck(key, type().domain(), payloadBytes(), signature());
    }

    /** Typed view, or null when this message is of another type. */
    @SuppressWarnings("unchecked")
    public <Q extends Payload> Signed<Q> as(Class<Q> type) {
        return type.isInstance(payload) ? (Signed<Q>) this : null;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Signed<?> s && java.util.Arrays.equals(wire, s.wire);
    }

    @Override
    public int hashCode() {
        return java.util.Arrays.hashCode(wire);
    }

    @Override
    public String toString() {
        return "Signed[" + signer + "](" + payload + ")";
    }
}
