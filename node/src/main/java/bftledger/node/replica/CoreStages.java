package bftledger.node.replica;

import bftledger.node.metrics.NodeMetrics;
import bftledger.pbft.Payload;
import bftledger.pbft.PersistRecord;
import bftledger.pbft.PrePrepare;
import bftledger.pbft.Prepare;
import io.micrometer.core.instrument.Timer;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * Where a block's time goes on the core thread, stage by stage, as
 * {@code bftledger_block_stage_seconds} timers (count, sum, max): {@code order} from this
 * replica's own PRE-PREPARE or PREPARE for a sequence until it is committed here (once per block:
 * the agreement round, WAL syncs and the other replicas' work included), {@code execute} (a
 * block's transactions, state tree, roots and durable write), {@code wal} (one durable append of
 * a group's records), {@code steps} (the PBFT core's steps of a group). The node times
 * {@code replies} on the replies thread. {@code scripts/bench.sh} divides their sums by the
 * blocks of its window for the per-block profile in docs/performance.md. Core thread only.
 */
final class CoreStages {
    /**
     * Sequences timed at once; more are not timed (a replica votes only inside its watermark
     * window, so in a correct run this is never reached).
     */
    static final int IN_FLIGHT_MAX = 1_024;

    private final Timer order;
    private final Timer execute;
    private final Timer wal;
    private final Timer steps;
    /** Sequence -> when this replica first voted for it (nanoTime). */
    private final Map<Long, Long> votedAt = new HashMap<>();

    CoreStages(NodeMetrics metrics) {
        order = metrics.stageTimer("order");
        execute = metrics.stageTimer("execute");
        wal = metrics.stageTimer("wal");
        steps = metrics.stageTimer("steps");
    }

    /** The records of a group just made durable at {@code nanos}: its own PRE-PREPAREs and PREPAREs start a sequence's clock. */
    void voted(List<PersistRecord> records, long nanos) {
        for (PersistRecord r : records) {
            if (r instanceof PersistRecord.OwnMessage own && votedAt.size() < IN_FLIGHT_MAX) {
                Payload p = own.message().payload();
                if (p instanceof PrePrepare pp) {
                    votedAt.putIfAbsent(pp.sequence(), nanos);
                } else if (p instanceof Prepare prepare) {
                    votedAt.putIfAbsent(prepare.sequence(), nanos);
                }
            }
        }
    }

    /** Sequence {@code sequence} was committed here and is about to execute. */
    void committed(long sequence, long nanos) {
        Long since = votedAt.remove(sequence);
        if (since != null) {
            order.record(nanos - since, TimeUnit.NANOSECONDS);
        }
        // Sequences this replica voted for and then saw executed by state transfer, or lost to a view change.
        votedAt.keySet().removeIf(s -> s < sequence);
    }

    void executed(long nanos) {
        execute.record(nanos, TimeUnit.NANOSECONDS);
    }

    void walAppended(long nanos) {
        wal.record(nanos, TimeUnit.NANOSECONDS);
    }

    void stepped(long nanos) {
        steps.record(nanos, TimeUnit.NANOSECONDS);
    }
}
