package bftledger.byzantine;

import bftledger.crypto.PublicKey;
import bftledger.ledger.proto.SignedTransaction;
import bftledger.ledger.proto.TransactionBody;
import bftledger.node.replica.OutboundInterceptor;
import bftledger.pbft.Config;
import bftledger.pbft.Request;
import bftledger.pbft.Signed;
import bftledger.sim.ByzantineStrategy;
import bftledger.sim.Send;
import bftledger.sim.Strategies;
import bftledger.sim.StrategyContext;
import com.google.protobuf.InvalidProtocolBufferException;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/**
 * Runs one of the simulator's {@link ByzantineStrategy}s, unchanged, as a real node's
 * {@link OutboundInterceptor}. Two translations at the boundary, nothing else:
 * <ul>
 *   <li>time: a strategy holds messages back in simulator ticks; a node's tick is
 *       {@code tickMillis}, the same unit its consensus timeouts are counted in, so a delay keeps
 *       its meaning relative to the timeouts (a slow primary stays just inside them);</li>
 *   <li>requests: the simulator's requests carry the client's key in their first 32 bytes, a
 *       node's carry a protobuf {@code SignedTransaction}; {@link #admitRequest} shows the strategy
 *       the request in the simulator's layout (sender key first) so a censor recognises its victim.</li>
 * </ul>
 * Called on the node's core thread only, as strategies expect.
 */
public final class StrategyInterceptor implements OutboundInterceptor {
    private final ByzantineStrategy strategy;
    private final long tickMillis;

    public StrategyInterceptor(ByzantineStrategy strategy, long tickMillis) {
        this.strategy = strategy;
        this.tickMillis = tickMillis;
    }

    /** A factory for {@code ReplicaNode.start}: the strategy gets the node's own consensus config and key. */
    public static OutboundInterceptor.Factory factory(String name, long seed, List<PublicKey> clients) {
        if (!Strategies.exists(name)) {
            throw new IllegalArgumentException("unknown strategy " + name + "; known: " + Strategies.names());
        }
        return (Config consensus, long tickMillis) -> new StrategyInterceptor(
                Strategies.create(name, StrategyContext.of(consensus, new SplittableRandom(seed)), clients), tickMillis);
    }

    public ByzantineStrategy strategy() {
        return strategy;
    }

    @Override
    public List<Outgoing> intercept(Signed<?> message, int to) {
        List<Send> sends = strategy.onSend(message, to);
        List<Outgoing> out = new ArrayList<>(sends.size());
        for (Send s : sends) {
            out.add(new Outgoing(s.to(), s.wire(), s.delayTicks() * tickMillis));
        }
        return out;
    }

    @Override
    public boolean admitRequest(Request request) {
        return strategy.admitRequest(inSimulatorLayout(request));
    }

    @Override
    public boolean hears(int from) {
        return strategy.hears(from);
    }

    /** The same request with the sender's key prepended, as the simulator lays requests out. */
    static Request inSimulatorLayout(Request request) {
        byte[] payload = request.payload();
        try {
            SignedTransaction tx = SignedTransaction.parseFrom(payload);
            byte[] sender = TransactionBody.parseFrom(tx.getBody()).getSender().toByteArray();
            byte[] laidOut = new byte[sender.length + payload.length];
            System.arraycopy(sender, 0, laidOut, 0, sender.length);
            System.arraycopy(payload, 0, laidOut, sender.length, payload.length);
            return new Request(request.id(), laidOut);
        } catch (InvalidProtocolBufferException e) {
            // The node validated it before it got here; if it does not parse, show it as it is.
            return request;
        }
    }

    @Override
    public String toString() {
        return "strategy " + strategy.name() + " (" + strategy.description() + ")";
    }
}
