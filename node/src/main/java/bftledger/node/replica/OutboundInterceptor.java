package bftledger.node.replica;

import bftledger.pbft.Config;
import bftledger.pbft.Request;
import bftledger.pbft.Signed;
import java.util.List;

/**
 * A hook between the PBFT core and the wire, for adversary processes built on a real node (the
 * network-tests Byzantine node): it sees every consensus message the core addresses to a peer
 * and decides what actually goes out. An honest node runs {@link #IDENTITY}, which CoreLoop
 * recognises and bypasses, so the normal send path is untouched. Called on the core thread
 * only, after the core's records are durable, so implementations need not be thread-safe.
 */
public interface OutboundInterceptor {
    /** One message to put on the wire: destination replica, bytes, and how long to hold it. */
    record Outgoing(int to, byte[] wire, long delayMillis) {
        public Outgoing {
            if (wire == null || delayMillis < 0) {
                throw new IllegalArgumentException("outgoing needs bytes and a non-negative delay");
            }
        }
    }

    /** Builds the interceptor once the node knows its consensus configuration and tick length. */
    interface Factory {
        OutboundInterceptor create(Config consensus, long tickMillis);
    }

    /** Sends exactly what the core sends; the default for every honest node. */
    OutboundInterceptor IDENTITY = (message, to) -> List.of(new Outgoing(to, message.wire(), 0));

    /** Factory of {@link #IDENTITY}. */
    Factory HONEST = (consensus, tickMillis) -> IDENTITY;

    /**
     * What to send instead of {@code message}, which the core addressed to peer {@code to} (a
     * broadcast is offered once per peer). Empty sends nothing; entries may name other peers.
     */
    List<Outgoing> intercept(Signed<?> message, int to);

    /** Whether a validated client request reaches the core at all (false lets a primary censor it). */
    default boolean admitRequest(Request request) {
        return true;
    }

    /** Whether messages signed by replica {@code from} reach the core at all. */
    default boolean hears(int from) {
        return true;
    }
}
