package bftledger.sim;

import bftledger.pbft.Request;
import bftledger.pbft.Signed;
import java.util.List;

/**
 * A Byzantine behaviour, written as a function over what an (otherwise honest) replica core is
 * about to send. The core runs unchanged; the strategy sits between its output and the wire,
 * holding the replica's key through its {@link StrategyContext}, so it can withhold, delay,
 * rewrite, re-sign, duplicate, replay or corrupt. Because it only sees outgoing messages (and,
 * for censorship, incoming client requests), the same object drives the simulator and a real
 * Byzantine node process. One instance per Byzantine replica; instances may keep state and are
 * not thread-safe (the caller drives them from one thread, like the core).
 */
public interface ByzantineStrategy {
    /** Stable name, used on command lines and in reports. */
    String name();

    /** One line saying what it does. */
    String description();

    /**
     * What to actually send to replica {@code to} instead of {@code message}, which the core
     * addressed to {@code to} (a broadcast is offered once per destination). An empty list sends
     * nothing; entries may go to other destinations too.
     */
    List<Send> onSend(Signed<?> message, int to);

    /** Whether a client request reaches the core at all; false lets a primary censor it. */
    default boolean admitRequest(Request request) {
        return true;
    }

    /** Whether this replica hears replica {@code from} at all (twins each hear one part of the network). */
    default boolean hears(int from) {
        return true;
    }
}
