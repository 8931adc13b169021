package bftledger.pbft;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeMap;

/**
 * Normal-case messages for a later view or beyond the window, per sender in arrival order, at
 * most {@link Config#futureBufferPerReplicaMax()} each: a peer cannot grow it past that
 * (buffering: ClassificationTest#aboveTheHighWatermarkIsFutureAndBuffered).
 */
final class FutureBuffer {
    private final Config config;
    private final TreeMap<Integer, ArrayDeque<Signed<?>>> bySender = new TreeMap<>();

    FutureBuffer(Config config) {
        this.config = config;
    }

    /** Keeps {@code m}; false (and nothing kept) when its sender's queue is full. */
    boolean offer(Signed<?> m) {
        ArrayDeque<Signed<?>> queue = bySender.computeIfAbsent(m.signer(), k -> new ArrayDeque<>());
        if (queue.size() >= config.futureBufferPerReplicaMax()) {
            if (queue.isEmpty()) {
                bySender.remove(m.signer());
            }
            return false;
        }
        queue.addLast(m);
        return true;
    }

    /** Everything buffered, by sender and in arrival order; the buffer is empty after. */
    List<Signed<?>> drain() {
        List<Signed<?>> all = new ArrayList<>();
        for (ArrayDeque<Signed<?>> q : bySender.values()) {
            all.addAll(q);
        }
        bySender.clear();
        return all;
    }

    int size() {
        int total = 0;
        for (ArrayDeque<Signed<?>> q : bySender.values()) {
            total += q.size();
        }
        return total;
    }

    void checkInvariants() {
        for (ArrayDeque<Signed<?>> q : bySender.values()) {
            Invariants.require(q.size() <= config.futureBufferPerReplicaMax(), "future buffer above bound");
        }
    }
}
