package bftledger.sim;

import bftledger.crypto.Signature;
import bftledger.pbft.Batch;
import bftledger.pbft.MessageType;
import bftledger.pbft.PrePrepare;
import bftledger.pbft.Request;
import bftledger.pbft.Signed;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Half of what it sends is replaced by bytes that must not get past the decoder or verifier:
 * truncated frames, random bytes, unknown type codes, length fields that lie, trailing bytes,
 * frames just over the type's size bound (rarely, over the largest message bound), and, as
 * primary, validly signed PRE-PREPAREs that smuggle in a request no client signed.
 */
final class Malformed extends NamedStrategy {
    static final String NAME = "malformed";
    static final String DESCRIPTION = "sends truncated, garbage, mislabelled, oversized frames and unsigned client requests";
    private static final int HEADER_BYTES = 9;


    Malformed(StrategyContext context) {
        super(NAME, DESCRIPTION, context);
    }

    @Override
    public List<Send> onSend(Signed<?> message, int to) {
        if (context.random().nextBoolean()) {
            return List.of(Send.now(to, message.wire()));
        }
        byte[] wire = message.wire();
        byte[] bad = switch (context.random().nextInt(8)) {
            case 0 -> Arrays.copyOf(wire, context.random().nextInt(wire.length));
            case 1 -> randomBytes(context.random().nextInt(256));
            case 2 -> {
                byte[] w = wire.clone();
                w[0] = (byte) (7 + context.random().nextInt(249));
                yield w;
            }
            case 3 -> {
                byte[] w = wire.clone();
                ByteBuffer.wrap(w).putInt(5, context.random().nextInt(Integer.MAX_VALUE));
                yield w;
            }
            case 4 -> Arrays.copyOf(wire, wire.length + 1 + context.random().nextInt(16));
            case 5 -> oversize(message.type(), context.random().nextInt(16) == 0);
            case 6 -> smuggled(message);
            default -> {
                // A valid frame around a payload cut short: the inner parser must refuse it.
                int payload = Math.max(0, wire.length - HEADER_BYTES - Signature.LENGTH);
                int keep = payload == 0 ? 0 : context.random().nextInt(payload);
                byte[] w = new byte[HEADER_BYTES + keep + Signature.LENGTH];
                System.arraycopy(wire, 0, w, 0, HEADER_BYTES + keep);
                ByteBuffer.wrap(w).putInt(5, keep);
                System.arraycopy(wire, wire.length - Signature.LENGTH, w, HEADER_BYTES + keep, Signature.LENGTH);
                yield w;
            }
        };
        return List.of(Send.now(to, bad));
    }

    private byte[] randomBytes(int length) {
        byte[] b = new byte[length];
        for (int i = 0; i < length; i++) {
            b[i] = (byte) context.random().nextInt(256);
        }
        return b;
    }

    /** A well-framed message of {@code type} one byte over its bound, or over the global bound. */
    private byte[] oversize(MessageType type, boolean global) {
        long bound = global ? context.config().messageBytesMax() : switch (type) {
            case PRE_PREPARE -> context.config().prePrepareBytesMax();
            case PREPARE, COMMIT -> context.config().voteBytesMax();
            case CHECKPOINT -> context.config().checkpointBytesMax();
            case VIEW_CHANGE -> context.config().viewChangeBytesMax();
            case NEW_VIEW -> context.config().newViewBytesMax();
            default -> context.config().messageBytesMax();
        };
        int length = (int) Math.min(bound + 1, 16L << 20);
        byte[] w = new byte[length];
        ByteBuffer.wrap(w).put((byte) type.code()).putInt(context.replica()).putInt(length - HEADER_BYTES - Signature.LENGTH);
        return w;
    }

    /** As primary: a correctly signed PRE-PREPARE whose batch holds a request with a bad client signature. */
    private byte[] smuggled(Signed<?> message) {
        if (!(message.payload() instanceof PrePrepare pp) || message.signer() != context.replica()) {
            return randomBytes(1 + context.random().nextInt(64));
        }
        List<Request> requests = new ArrayList<>(pp.batch().requests());
        byte[] body = ("smuggled-" + pp.sequence()).getBytes(StandardCharsets.US_ASCII);
        requests.add(SimRequests.build(context.key().publicKey(), new byte[Signature.LENGTH], body));
        return context.factory().prePrepare(pp.view(), pp.sequence(), new Batch(pp.batch().timestampMillis(), requests, pp.batch().anchor())).wire();
    }
}
