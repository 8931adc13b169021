package bftledger.sim;

import bftledger.crypto.Sha256;
import bftledger.pbft.Checkpoint;
import bftledger.pbft.Commit;
import bftledger.pbft.PrePrepare;
import bftledger.pbft.Prepare;
import bftledger.pbft.Signed;
import bftledger.pbft.ViewChange;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;

/**
 * With every message it sends, adds a few validly signed messages the receivers must not keep
 * unboundedly: votes far above the watermark window, votes and view changes for future views
 * (some beyond how far ahead a replica looks), checkpoints far ahead, and votes for old
 * sequences. The same extra messages go to every destination of a broadcast.
 */
final class Flood extends NamedStrategy {
    static final String NAME = "flood";
    static final String DESCRIPTION = "adds many validly signed future-view and out-of-window messages to everything it sends";
    private static final int EXTRA_PER_MESSAGE = 3;

    private long view;
    private long sequence;
    private Signed<?> last;
    private List<byte[]> extra = List.of();

    Flood(StrategyContext context) {
        super(NAME, DESCRIPTION, context);
    }

    @Override
    public List<Send> onSend(Signed<?> message, int to) {
        if (message != last) {
            last = message;
            observe(message);
            extra = makeExtra();
        }
        List<Send> sends = new ArrayList<>();
        sends.add(Send.now(to, message.wire()));
        for (byte[] e : extra) {
            sends.add(Send.now(to, e));
        }
        return sends;
    }

    private void observe(Signed<?> m) {
        if (m.payload() instanceof PrePrepare p) {
            view = Math.max(view, p.view());
            sequence = Math.max(sequence, p.sequence());
        } else if (m.payload() instanceof Prepare p) {
            view = Math.max(view, p.view());
            sequence = Math.max(sequence, p.sequence());
        } else if (m.payload() instanceof Commit c) {
            view = Math.max(view, c.view());
            sequence = Math.max(sequence, c.sequence());
        } else if (m.payload() instanceof ViewChange vc) {
            view = Math.max(view, vc.newView());
        }
    }

    private List<byte[]> makeExtra() {
        int window = context.config().watermarkWindow();
        int k = context.config().checkpointInterval();
        List<byte[]> out = new ArrayList<>();
        for (int i = 0; i < EXTRA_PER_MESSAGE; i++) {
            int kind = context.random().nextInt(6);
            long farSequence = sequence + window + 1 + context.random().nextInt(4 * window);
            long futureView = view + 1 + context.random().nextInt(context.config().viewChangeAheadMax() + 3);
            Signed<?> m = switch (kind) {
                case 0 -> context.factory().prepare(view, farSequence, Sha256.hash(bytes(farSequence)));
                case 1 -> context.factory().commit(futureView, Math.max(1, sequence), Sha256.hash(bytes(futureView)));
                case 2 -> context.factory().prepare(futureView, Math.max(1, sequence + 1), Sha256.hash(bytes(futureView)));
                case 3 -> {
                    long c = (farSequence / k + 1) * k;
                    // A fixed digest per sequence: this strategy floods, it does not equivocate.
                    yield context.factory().sign(new Checkpoint(c, Sha256.hash(bytes(c)), context.replica()));
                }
                case 4 -> context.factory().viewChange(futureView, 0, context.config().genesisDigest(), List.of(), List.of());
                default -> context.factory().commit(view, Math.max(1, sequence - window), Sha256.hash(bytes(-sequence)));
            };
            out.add(m.wire());
        }
        return out;
    }

    private static byte[] bytes(long value) {
        return ByteBuffer.allocate(8).putLong(value).array();
    }
}
