package bftledger.sim;

import bftledger.crypto.Digest;
import bftledger.crypto.Sha256;
import bftledger.crypto.Signature;
import bftledger.pbft.Batch;
import bftledger.pbft.Checkpoint;
import bftledger.pbft.MessageCodec;
import bftledger.pbft.NewView;
import bftledger.pbft.PrePrepare;
import bftledger.pbft.Prepare;
import bftledger.pbft.PreparedCertificate;
import bftledger.pbft.Request;
import bftledger.pbft.Signed;
import bftledger.pbft.ViewChange;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Lies in view changes. Its VIEW-CHANGE is replaced (consistently for every destination) by one
 * of: a validly signed one that omits its prepared certificates; one with a fabricated prepared
 * certificate (a PRE-PREPARE for a batch nobody proposed, with prepares it cannot really sign);
 * one claiming a stable checkpoint it cannot prove. As new primary, its NEW-VIEW's PRE-PREPARE
 * set sometimes differs from the one V determines.
 */
final class ForgeViewChange extends NamedStrategy {
    static final String NAME = "forge-view-change";
    static final String DESCRIPTION = "sends VIEW-CHANGEs with omitted or fabricated prepared certificates and false checkpoints";

    private final Map<Long, Signed<?>> forged = new HashMap<>();

    ForgeViewChange(StrategyContext context) {
        super(NAME, DESCRIPTION, context);
    }

    @Override
    public List<Send> onSend(Signed<?> message, int to) {
        if (message.signer() != context.replica()) {
            return List.of(Send.now(to, message.wire()));
        }
        if (message.payload() instanceof ViewChange vc) {
            Signed<?> lie = forged.computeIfAbsent(vc.newView() * 2, k -> forgeViewChange(vc));
            trim();
            return List.of(Send.now(to, lie.wire()));
        }
        if (message.payload() instanceof NewView nv) {
            Signed<?> lie = forged.computeIfAbsent(nv.view() * 2 + 1, k -> forgeNewView(nv, message));
            trim();
            return List.of(Send.now(to, lie.wire()));
        }
        return List.of(Send.now(to, message.wire()));
    }

    private void trim() {
        if (forged.size() > 64) {
            forged.clear();
        }
    }

    private Signed<?> forgeViewChange(ViewChange vc) {
        switch (context.random().nextInt(3)) {
            case 0:
                return context.factory().viewChange(vc.newView(), vc.stableSequence(), vc.stableDigest(),
                        vc.checkpointProof(), List.of());
            case 1: {
                List<PreparedCertificate> prepared = new ArrayList<>(vc.prepared());
                long sequence = vc.stableSequence() + 1;
                prepared.removeIf(pc -> pc.sequence() == sequence);
                prepared.add(0, fabricatedCertificate(vc.newView() - 1, sequence));
                return context.factory().viewChange(vc.newView(), vc.stableSequence(), vc.stableDigest(),
                        vc.checkpointProof(), prepared);
            }
            default: {
                long claimed = vc.stableSequence() + context.config().checkpointInterval();
                Digest digest = Sha256.hash(bytes(claimed));
                List<Signed<Checkpoint>> proof = new ArrayList<>();
                for (int i = 0; i < context.config().quorum(); i++) {
                    Checkpoint c = new Checkpoint(claimed, digest, (context.replica() + i) % context.n());
                    proof.add(i == 0 ? context.factory().sign(c)
                            : MessageCodec.withSignature(c, c.replica(), fakeSignature(claimed, i)));
                }
                return context.factory().viewChange(vc.newView(), claimed, digest, proof, vc.prepared());
            }
        }
    }

    /** A certificate for a batch of a made-up request: only our own signatures are real. */
    private PreparedCertificate fabricatedCertificate(long view, long sequence) {
        int primary = context.config().primary(view);
        Request invented = new Request(Sha256.hash(bytes(sequence), bytes(view)), bytes(sequence));
        PrePrepare pp = new PrePrepare(view, sequence, new Batch(1, List.of(invented)));
        Signed<PrePrepare> signedPp = primary == context.replica() ? context.factory().sign(pp)
                : MessageCodec.withSignature(pp, primary, fakeSignature(sequence, primary));
        List<Signed<Prepare>> prepares = new ArrayList<>();
        for (int i = 0, r = 0; prepares.size() < context.config().preparedQuorum() && r < context.n(); r++) {
            if (r == primary) {
                continue;
            }
            Prepare p = new Prepare(view, sequence, pp.digest(), r);
            prepares.add(r == context.replica() ? context.factory().sign(p)
                    : MessageCodec.withSignature(p, r, fakeSignature(sequence, r + ++i)));
        }
        return new PreparedCertificate(signedPp, prepares);
    }

    private Signed<?> forgeNewView(NewView nv, Signed<?> original) {
        if (context.random().nextBoolean()) {
            return original;
        }
        List<Signed<PrePrepare>> o = new ArrayList<>(nv.prePrepares());
        long sequence = o.isEmpty() ? 1 : o.get(o.size() - 1).payload().sequence() + 1;
        if (!o.isEmpty() && context.random().nextBoolean()) {
            o.remove(o.size() - 1);
        } else {
            Request invented = new Request(Sha256.hash(bytes(sequence)), bytes(sequence));
            o.add(context.factory().prePrepare(nv.view(), Math.max(1, sequence), new Batch(1, List.of(invented))));
        }
        return context.factory().newView(nv.view(), nv.viewChanges(), o);
    }

    private static byte[] bytes(long value) {
        return ByteBuffer.allocate(8).putLong(value).array();
    }

    private static byte[] fakeSignature(long a, int b) {
        byte[] sig = new byte[Signature.LENGTH];
        byte[] h = Sha256.hash(bytes(a), bytes(b)).bytes();
        System.arraycopy(h, 0, sig, 0, h.length);
        System.arraycopy(h, 0, sig, h.length, h.length);
        return sig;
    }
}
