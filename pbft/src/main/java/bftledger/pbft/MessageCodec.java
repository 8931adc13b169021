package bftledger.pbft;

import bftledger.crypto.Digest;
import bftledger.crypto.HeaderAnchor;
import bftledger.crypto.KeyPair;
import bftledger.crypto.Signature;
import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;

/**
 * Fixed big-endian binary layouts of the consensus messages. Decoding checks the size against
 * the type's bound from {@link Config} before parsing anything, checks every length prefix
 * against the bytes that remain, and keeps the received bytes in the {@link Signed} it returns.
 * Stateless and thread-safe.
 *
 * <pre>
 * envelope     type u8 | signer u32 | len u32 | payload[len] | signature[64]
 * PRE-PREPARE  view u64 | seq u64 | timestamp u64 | anchorHeight u64 | anchorHash[32] | count u32
 *              | count x (id[32] | len u32 | bytes)
 * PREPARE      view u64 | seq u64 | digest[32] | replica u32
 * COMMIT       view u64 | seq u64 | digest[32] | replica u32   (= CommitVote.encode())
 * CHECKPOINT   seq u64 | digest[32] | replica u32
 * VIEW-CHANGE  newView u64 | stableSeq u64 | stableDigest[32] | replica u32
 *              | count u32 | count x (len u32 | CHECKPOINT envelope)
 *              | count u32 | count x (len u32 | PRE-PREPARE envelope | count u32 | count x (len u32 | PREPARE envelope))
 * NEW-VIEW     view u64 | count u32 | count x (len u32 | VIEW-CHANGE envelope)
 *              | count u32 | count x (len u32 | PRE-PREPARE envelope)
 * STATUS       view u64 | active u8 | h u64 | lastExecuted u64 | replica u32
 * </pre>
 */
public final class MessageCodec {
    private final Config limits;

    public MessageCodec(Config limits) {
        this.limits = limits;
    }

    // ---------------------------------------------------------------- encoding

    /** Encodes and signs {@code payload} as replica {@code signer} with {@code key}. */
    public static <P extends Payload> Signed<P> sign(P payload, int signer, KeyPair key) {
        byte[] body = encodePayload(payload);
        byte[] signature = key.sign(payload.type().domain(), body);
        return new Signed<>(payload, signer, envelope(payload.type(), signer, body, signature));
    }

    /**
     * Wraps {@code payload} with an arbitrary signature, valid or not. For tests and Byzantine
     * strategies that need a message whose signature does not match.
     */
    public static <P extends Payload> Signed<P> withSignature(P payload, int signer, byte[] signature) {
        if (signature.length != Signature.LENGTH) {
            throw new IllegalArgumentException("signature must be " + Signature.LENGTH + " bytes");
        }
        return new Signed<>(payload, signer, envelope(payload.type(), signer, encodePayload(payload), signature));
    }

    static byte[] envelope(MessageType type, int signer, byte[] body, byte[] signature) {
        return ByteBuffer.allocate(Signed.HEADER_BYTES + body.length + signature.length)
                .put((byte) type.code()).putInt(signer).putInt(body.length).put(body).put(signature).array();
    }

    public static byte[] encodePayload(Payload payload) {
        Out out = new Out();
        if (payload instanceof PrePrepare p) {
            out.u64(p.view()).u64(p.sequence()).u64(p.batch().timestampMillis())
                    .u64(p.batch().anchor().height()).digest(p.batch().anchor().hash())
                    .u32(p.batch().requests().size());
            for (Request r : p.batch().requests()) {
                out.digest(r.id()).u32(r.payloadLength()).bytes(r.payload());
            }
        } else if (payload instanceof Prepare p) {
            out.u64(p.view()).u64(p.sequence()).digest(p.digest()).u32(p.replica());
        } else if (payload instanceof Commit c) {
            out.bytes(c.vote().encode());
        } else if (payload instanceof Checkpoint c) {
            out.u64(c.sequence()).digest(c.stateDigest()).u32(c.replica());
        } else if (payload instanceof ViewChange v) {
            out.u64(v.newView()).u64(v.stableSequence()).digest(v.stableDigest()).u32(v.replica());
            out.u32(v.checkpointProof().size());
            for (Signed<Checkpoint> c : v.checkpointProof()) {
                out.nested(c);
            }
            out.u32(v.prepared().size());
            for (PreparedCertificate pc : v.prepared()) {
                out.nested(pc.prePrepare()).u32(pc.prepares().size());
                for (Signed<Prepare> p : pc.prepares()) {
                    out.nested(p);
                }
            }
        } else if (payload instanceof NewView nv) {
            out.u64(nv.view()).u32(nv.viewChanges().size());
            for (Signed<ViewChange> v : nv.viewChanges()) {
                out.nested(v);
            }
            out.u32(nv.prePrepares().size());
            for (Signed<PrePrepare> p : nv.prePrepares()) {
                out.nested(p);
            }
        } else if (payload instanceof Status st) {
            out.u64(st.view()).u8(st.viewActive() ? 1 : 0).u64(st.lowWatermark()).u64(st.lastExecuted()).u32(st.replica());
        } else {
            throw new IllegalArgumentException("unknown payload " + payload);
        }
        return out.toByteArray();
    }

    // ---------------------------------------------------------------- decoding

    /** Parses one message from a peer. Does not check the signature: that is the verifier's job. */
    public Signed<?> decode(byte[] wire) throws MalformedMessageException {
        if (wire == null || wire.length < Signed.HEADER_BYTES + Signature.LENGTH) {
            throw new MalformedMessageException(RejectReason.MALFORMED, "shorter than an envelope");
        }
        if (wire.length > limits.messageBytesMax()) {
            throw new MalformedMessageException(RejectReason.OVERSIZE,
                    wire.length + " bytes > " + limits.messageBytesMax());
        }
        MessageType type = MessageType.ofCode(wire[0] & 0xff);
        if (type == null) {
            throw new MalformedMessageException(RejectReason.UNKNOWN_TYPE, "type byte " + (wire[0] & 0xff));
        }
        return decode(wire, type);
    }

    /** Parses a message that must be of {@code expected}: nested messages and typed transports. */
    public Signed<?> decode(byte[] wire, MessageType expected) throws MalformedMessageException {
        if (wire.length < Signed.HEADER_BYTES + Signature.LENGTH) {
            throw new MalformedMessageException(RejectReason.MALFORMED, "shorter than an envelope");
        }
        long bound = bound(expected);
        if (wire.length > bound) {
            throw new MalformedMessageException(RejectReason.OVERSIZE,
                    expected + " of " + wire.length + " bytes > " + bound);
        }
        if ((wire[0] & 0xff) != expected.code()) {
            throw new MalformedMessageException(RejectReason.MALFORMED,
                    "expected " + expected + ", type byte " + (wire[0] & 0xff));
        }
        In in = new In(wire, 1, wire.length);
        int signer = in.u32();
        int length = in.u32();
        if (length != wire.length - Signed.HEADER_BYTES - Signature.LENGTH) {
            throw new MalformedMessageException(RejectReason.MALFORMED, "payload length " + length + " disagrees with frame");
        }
        In body = new In(wire, Signed.HEADER_BYTES, Signed.HEADER_BYTES + length);
        Payload payload = switch (expected) {
            case PRE_PREPARE -> decodePrePrepare(body);
            case PREPARE -> new Prepare(body.u64(), body.sequence(), body.digest(), body.u32());
            case COMMIT -> new Commit(body.u64(), body.sequence(), body.digest(), body.u32());
            case CHECKPOINT -> new Checkpoint(body.u64(), body.digest(), body.u32());
            case VIEW_CHANGE -> decodeViewChange(body);
            case NEW_VIEW -> decodeNewView(body);
            case STATUS -> new Status(body.u64(), body.flag(), body.u64(), body.u64(), body.u32());
        };
        body.end();
        return new Signed<>(payload, signer, wire.clone());
    }

    private long bound(MessageType type) {
        return switch (type) {
            case PRE_PREPARE -> limits.prePrepareBytesMax();
            case PREPARE, COMMIT -> limits.voteBytesMax();
            case CHECKPOINT -> limits.checkpointBytesMax();
            case VIEW_CHANGE -> limits.viewChangeBytesMax();
            case NEW_VIEW -> limits.newViewBytesMax();
            case STATUS -> limits.statusBytesMax();
        };
    }

    private PrePrepare decodePrePrepare(In in) throws MalformedMessageException {
        long view = in.u64();
        long sequence = in.sequence();
        long timestamp = in.u64();
        long anchorHeight = in.u64();
        Digest anchorHash = in.digest();
        if (anchorHeight < 0 || (anchorHeight == 0 && !anchorHash.equals(Digest.ZERO))) {
            throw new MalformedMessageException(RejectReason.MALFORMED, "anchor (" + Long.toUnsignedString(anchorHeight)
                    + ", " + anchorHash.shortHex() + ") is not a header anchor");
        }
        int count = in.count(limits.batchCountMax(), 36);
        List<Request> requests = new ArrayList<>(count);
        for (int i = 0; i < count; i++) {
            Digest id = in.digest();
            int length = in.u32();
            if (length > limits.requestBytesMax()) {
                throw new MalformedMessageException(RejectReason.OVERSIZE, "request of " + length + " bytes");
            }
            requests.add(new Request(id, in.bytes(length)));
        }
        return new PrePrepare(view, sequence, new Batch(timestamp, requests, new HeaderAnchor(anchorHeight, anchorHash)));
    }

    private ViewChange decodeViewChange(In in) throws MalformedMessageException {
        long newView = in.u64();
        if (newView < 1) {
            throw new MalformedMessageException(RejectReason.MALFORMED, "view change to view 0");
        }
        long stableSequence = in.u64();
        Digest stableDigest = in.digest();
        int replica = in.u32();
        // At most one CHECKPOINT per replica counts; a sender pads at its own cost up to n.
        int proofCount = in.count(limits.n(), 4);
        List<Signed<Checkpoint>> proof = new ArrayList<>(proofCount);
        for (int i = 0; i < proofCount; i++) {
            proof.add(cast(decode(in.nested(), MessageType.CHECKPOINT), Checkpoint.class));
        }
        int certCount = in.count(limits.watermarkWindow(), 8);
        List<PreparedCertificate> certs = new ArrayList<>(certCount);
        for (int i = 0; i < certCount; i++) {
            Signed<PrePrepare> pp = cast(decode(in.nested(), MessageType.PRE_PREPARE), PrePrepare.class);
            int prepareCount = in.count(limits.n(), 4);
            List<Signed<Prepare>> prepares = new ArrayList<>(prepareCount);
            for (int j = 0; j < prepareCount; j++) {
                prepares.add(cast(decode(in.nested(), MessageType.PREPARE), Prepare.class));
            }
            certs.add(new PreparedCertificate(pp, prepares));
        }
        return new ViewChange(newView, stableSequence, stableDigest, replica, proof, certs);
    }

    private NewView decodeNewView(In in) throws MalformedMessageException {
        long view = in.u64();
        if (view < 1) {
            throw new MalformedMessageException(RejectReason.MALFORMED, "new view 0");
        }
        int vcCount = in.count(limits.n(), 4);
        List<Signed<ViewChange>> vcs = new ArrayList<>(vcCount);
        for (int i = 0; i < vcCount; i++) {
            vcs.add(cast(decode(in.nested(), MessageType.VIEW_CHANGE), ViewChange.class));
        }
        int ppCount = in.count(limits.watermarkWindow(), 4);
        List<Signed<PrePrepare>> pps = new ArrayList<>(ppCount);
        for (int i = 0; i < ppCount; i++) {
            pps.add(cast(decode(in.nested(), MessageType.PRE_PREPARE), PrePrepare.class));
        }
        return new NewView(view, vcs, pps);
    }

    private static <Q extends Payload> Signed<Q> cast(Signed<?> s, Class<Q> type) {
        Signed<Q> typed = s.as(type);
        if (typed == null) {
            throw new IllegalStateException("decode(expected) returned another type");
        }
        return typed;
    }

    // ---------------------------------------------------------------- byte helpers

    private static final class Out {
        private final ByteArrayOutputStream out = new ByteArrayOutputStream(256);

        Out u64(long v) {
            for (int i = 7; i >= 0; i--) {
                out.write((int) (v >>> (8 * i)));
            }
            return this;
        }

        Out u8(int v) {
            out.write(v);
            return this;
        }

        Out u32(int v) {
            for (int i = 3; i >= 0; i--) {
                out.write(v >>> (8 * i));
            }
            return this;
        }

        Out digest(Digest d) {
            return bytes(d.bytes());
        }

        Out bytes(byte[] b) {
            out.write(b, 0, b.length);
            return this;
        }

        Out nested(Signed<?> s) {
            return u32(s.wireLength()).bytes(s.wire());
        }

        byte[] toByteArray() {
            return out.toByteArray();
        }
    }

    private static final class In {
        private final byte[] b;
        private int pos;
        private final int end;

        In(byte[] b, int pos, int end) {
            this.b = b;
            this.pos = pos;
            this.end = end;
        }

        private void need(int k) throws MalformedMessageException {
            if (k < 0 || end - pos < k) {
                throw new MalformedMessageException(RejectReason.MALFORMED, "truncated: need " + k + " at " + pos);
            }
        }

        long u64() throws MalformedMessageException {
            need(8);
            long v = 0;
            for (int i = 0; i < 8; i++) {
                v = (v << 8) | (b[pos++] & 0xffL);
            }
            if (v < 0) {
                throw new MalformedMessageException(RejectReason.MALFORMED, "u64 field above 2^63-1");
            }
            return v;
        }

        long sequence() throws MalformedMessageException {
            long s = u64();
            if (s < 1) {
                throw new MalformedMessageException(RejectReason.MALFORMED, "sequence 0");
            }
            return s;
        }

        int u32() throws MalformedMessageException {
            need(4);
            int v = 0;
            for (int i = 0; i < 4; i++) {
                v = (v << 8) | (b[pos++] & 0xff);
            }
            if (v < 0) {
                throw new MalformedMessageException(RejectReason.MALFORMED, "u32 field above 2^31-1");
            }
            return v;
        }

        /** A count prefix, bounded by {@code max} and by the bytes left at {@code minEach} per item. */
        int count(int max, int minEach) throws MalformedMessageException {
            int c = u32();
            if (c > max) {
                throw new MalformedMessageException(RejectReason.OVERSIZE, "count " + c + " > " + max);
            }
            if ((long) c * minEach > end - pos) {
                throw new MalformedMessageException(RejectReason.MALFORMED, "count " + c + " exceeds remaining bytes");
            }
            return c;
        }

        boolean flag() throws MalformedMessageException {
            need(1);
            int v = b[pos++];
            if (v != 0 && v != 1) {
                throw new MalformedMessageException(RejectReason.MALFORMED, "flag byte " + v);
            }
            return v == 1;
        }

        Digest digest() throws MalformedMessageException {
            return Digest.of(bytes(Digest.LENGTH));
        }

        byte[] bytes(int length) throws MalformedMessageException {
            need(length);
            byte[] out = new byte[length];
            System.arraycopy(b, pos, out, 0, length);
            pos += length;
            return out;
        }

        byte[] nested() throws MalformedMessageException {
            return bytes(u32());
        }

        void end() throws MalformedMessageException {
            if (pos != end) {
                throw new MalformedMessageException(RejectReason.MALFORMED, (end - pos) + " trailing bytes");
            }
        }
    }
}
