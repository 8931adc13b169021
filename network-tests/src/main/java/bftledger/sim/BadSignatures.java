package bftledger.sim;

import bftledger.crypto.KeyPair;
import bftledger.crypto.Signature;
import bftledger.pbft.Signed;
import java.nio.ByteBuffer;
import java.util.List;

/**
 * Half of what it sends carries a signature that does not verify: a flipped signature bit, a
 * flipped payload bit, another replica's id in the envelope, or a signature by a key that is
 * not in the validator set. Receivers must reject each before it reaches the core.
 */
final class BadSignatures extends NamedStrategy {
    static final String NAME = "bad-signatures";
    static final String DESCRIPTION = "sends half its messages with corrupted signatures, wrong signer ids or foreign keys";

    private final KeyPair stranger;

    BadSignatures(StrategyContext context) {
        super(NAME, DESCRIPTION, context);
        this.stranger = KeyPair.deterministic("bad-signatures-stranger-" + context.replica());
    }

    @Override
    public List<Send> onSend(Signed<?> message, int to) {
        if (context.random().nextBoolean()) {
            return List.of(Send.now(to, message.wire()));
        }
        byte[] wire = message.wire();
        int headerBytes = 9;
        switch (context.random().nextInt(4)) {
            case 0 -> flipBit(wire, wire.length - Signature.LENGTH + context.random().nextInt(Signature.LENGTH));
            case 1 -> flipBit(wire, headerBytes + context.random().nextInt(Math.max(1, wire.length - headerBytes - Signature.LENGTH)));
            case 2 -> ByteBuffer.wrap(wire).putInt(1, (message.signer() + 1 + context.random().nextInt(context.n() - 1)) % context.n());
            default -> {
                byte[] body = message.payloadBytes();
                byte[] sig = stranger.sign(message.type().domain(), body);
                System.arraycopy(sig, 0, wire, wire.length - Signature.LENGTH, Signature.LENGTH);
            }
        }
        return List.of(Send.now(to, wire));
    }

    private void flipBit(byte[] wire, int index) {
        wire[index] ^= (byte) (1 << context.random().nextInt(8));
    }
}
