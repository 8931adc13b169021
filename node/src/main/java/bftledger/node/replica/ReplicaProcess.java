package bftledger.node.replica;

import bftledger.node.config.ConfigException;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * One replica process across validator-set changes: a node runs until its set's last height,
 * closes, and starts again from the same stores under the next set, until it is stopped, its
 * key leaves the set, or its core fails. Shared by {@code bftledger node start} and the
 * Byzantine node process, which differ only in how a node is started and what they print.
 * {@link #stop} (from a shutdown hook) closes whichever node is running.
 */
public final class ReplicaProcess {
    /** Starts the node of one set; {@code first} is true for the process's first start. */
    public interface Starter {
        ReplicaNode start(boolean first) throws ConfigException;
    }

    /** How the process ended. */
    public sealed interface End {
        /** Stopped by {@link #stop}. */
        record Stopped() implements End {}

        /** The key is not in the set that signs from {@code lastHeight + 1}: removed or rotated out. */
        record Left(long lastHeight) implements End {}

        /** The consensus core failed; the stores are intact. */
        record Failed(Throwable failure) implements End {}
    }

    private final Object lock = new Object();
    private final CountDownLatch stopped = new CountDownLatch(1);
    private ReplicaNode current;
    private boolean stopping;

    /**
     * Runs nodes from {@code starter} until the end. {@code serving} is told of each node started,
     * with the last height of the set before it (-1 for the first).
     *
     * @throws ConfigException when the first start fails, a key not in the set in force included
     *                         ({@link ReplicaNode.NotAValidatorException})
     */
    public End run(Starter starter, java.util.function.ObjLongConsumer<ReplicaNode> serving)
            throws ConfigException, InterruptedException {
        for (long handedOverAt = -1; ; ) {
            ReplicaNode node;
            try {
                node = starter.start(handedOverAt < 0);
            } catch (ReplicaNode.NotAValidatorException e) {
                if (handedOverAt < 0) {
                    throw e;
                }
                return new End.Left(handedOverAt);
            }
            synchronized (lock) {
                current = node;
                if (stopping) {
                    node.close();
                    return new End.Stopped();
                }
            }
            serving.accept(node, handedOverAt);
            Throwable failure = node.awaitTermination();
            if (failure != null) {
                return new End.Failed(failure);
            }
            boolean handover;
            synchronized (lock) {
                handover = node.epochOver().isDone() && !stopping;
                if (handover) {
                    node.close();
                    current = null;
                }
            }
            if (!handover) {
                // Let the shutdown hook finish closing before the process exits.
                stopped.await(10, TimeUnit.SECONDS);
                return new End.Stopped();
            }
            handedOverAt = node.epochOver().join();
        }
    }

    /** Closes the running node and ends {@link #run}; for a shutdown hook. */
    public void stop() {
        synchronized (lock) {
            stopping = true;
            if (current != null) {
                current.close();
            }
        }
        stopped.countDown();
    }
}
