package bftledger.pbft;

import bftledger.crypto.Digest;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;

/**
 * Byte layout of {@link PersistRecord}s for the node's consensus WAL. Signed messages are stored
 * as their wire bytes, so a restored replica holds exactly what it signed and sent.
 *
 * <pre>
 * OwnMessage        1 | len u32 | wire
 * Prepared          2 | len u32 | PRE-PREPARE wire | count u32 | count x (len u32 | PREPARE wire)
 * ViewState         3 | view u64 | changing u8
 * StableCheckpoint  4 | seq u64 | digest[32] | count u32 | count x (len u32 | CHECKPOINT wire)
 * </pre>
 */
public final class PersistCodec {
    private final MessageCodec codec;
    private final Config limits;

    public PersistCodec(Config limits) {
        this.limits = limits;
        this.codec = new MessageCodec(limits);
    }

    public static byte[] encode(PersistRecord record) {
        List<byte[]> parts = new ArrayList<>();
        if (record instanceof PersistRecord.OwnMessage om) {
            parts.add(new byte[] {1});
            nested(parts, om.message());
        } else if (record instanceof PersistRecord.Prepared p) {
            parts.add(new byte[] {2});
            nested(parts, p.certificate().prePrepare());
            parts.add(ByteBuffer.allocate(4).putInt(p.certificate().prepares().size()).array());
            for (Signed<Prepare> pr : p.certificate().prepares()) {
                nested(parts, pr);
            }
        } else if (record instanceof PersistRecord.ViewState vs) {
            parts.add(ByteBuffer.allocate(1 + 8 + 1).put((byte) 3).putLong(vs.view()).put((byte) (vs.changing() ? 1 : 0)).array());
        } else if (record instanceof PersistRecord.StableCheckpoint sc) {
            parts.add(ByteBuffer.allocate(1 + 8 + Digest.LENGTH + 4).put((byte) 4).putLong(sc.sequence())
                    .put(sc.digest().bytes()).putInt(sc.proof().size()).array());
            for (Signed<Checkpoint> c : sc.proof()) {
                nested(parts, c);
            }
        }
        int total = parts.stream().mapToInt(b -> b.length).sum();
        ByteBuffer out = ByteBuffer.allocate(total);
        parts.forEach(out::put);
        return out.array();
    }

    private static void nested(List<byte[]> parts, Signed<?> m) {
        parts.add(ByteBuffer.allocate(4).putInt(m.wireLength()).array());
        parts.add(m.wire());
    }

    /** Parses a record written by {@link #encode}; a torn or corrupt record is reported, never guessed at. */
    public PersistRecord decode(byte[] bytes) throws MalformedMessageException {
        try {
            ByteBuffer in = ByteBuffer.wrap(bytes);
            int tag = in.get();
            PersistRecord record;
            switch (tag) {
                case 1 -> record = new PersistRecord.OwnMessage(codec.decode(nested(in)));
                case 2 -> {
                    Signed<PrePrepare> pp = codec.decode(nested(in), MessageType.PRE_PREPARE).as(PrePrepare.class);
                    int count = count(in, limits.n());
                    List<Signed<Prepare>> prepares = new ArrayList<>();
                    for (int i = 0; i < count; i++) {
                        prepares.add(codec.decode(nested(in), MessageType.PREPARE).as(Prepare.class));
                    }
                    record = new PersistRecord.Prepared(new PreparedCertificate(pp, prepares));
                }
                case 3 -> {
                    long view = in.getLong();
                    int changing = in.get();
                    if (view < 0 || (changing != 0 && changing != 1)) {
                        throw new MalformedMessageException(RejectReason.MALFORMED, "bad view record");
                    }
                    record = new PersistRecord.ViewState(view, changing == 1);
                }
                case 4 -> {
                    long sequence = in.getLong();
                    byte[] digest = new byte[Digest.LENGTH];
                    in.get(digest);
                    int count = count(in, limits.n());
                    List<Signed<Checkpoint>> proof = new ArrayList<>();
                    for (int i = 0; i < count; i++) {
                        proof.add(codec.decode(nested(in), MessageType.CHECKPOINT).as(Checkpoint.class));
                    }
                    if (sequence < 0) {
                        throw new MalformedMessageException(RejectReason.MALFORMED, "negative sequence");
                    }
                    record = new PersistRecord.StableCheckpoint(sequence, Digest.of(digest), proof);
                }
                default -> throw new MalformedMessageException(RejectReason.UNKNOWN_TYPE, "record tag " + tag);
            }
            if (in.hasRemaining()) {
                throw new MalformedMessageException(RejectReason.MALFORMED, in.remaining() + " trailing bytes");
            }
            return record;
        } catch (java.nio.BufferUnderflowException e) {
            throw new MalformedMessageException(RejectReason.MALFORMED, "truncated record");
        }
    }

    private static int count(ByteBuffer in, int max) throws MalformedMessageException {
        int c = in.getInt();
        if (c < 0 || c > max) {
            throw new MalformedMessageException(RejectReason.MALFORMED, "count " + c);
        }
        return c;
    }

    private static byte[] nested(ByteBuffer in) throws MalformedMessageException {
        int length = in.getInt();
        if (length < 0 || length > in.remaining()) {
            throw new MalformedMessageException(RejectReason.MALFORMED, "nested length " + length);
        }
        byte[] out = new byte[length];
        in.get(out);
        return out;
    }
}
