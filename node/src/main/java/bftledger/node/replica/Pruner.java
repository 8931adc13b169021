package bftledger.node.replica;

import bftledger.ledger.BlockStore;
import bftledger.node.metrics.NodeMetrics;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Keeps a node's block store to its last {@code keepBlocks} whole blocks (node config
 * {@code prune.keep.blocks}), and whole from its oldest kept state snapshot: once a second, on
 * its own thread, it strips the transactions of older blocks through {@link BlockStore#prune}, a chunk per write transaction (read and checked
 * before the write, so the core thread's appends wait only for the puts). Headers, certificates,
 * receipts, the state and the transaction index stay; see {@link BlockStore#prune} for what that
 * keeps provable.
 */
final class Pruner implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(Pruner.class);
    static final long INTERVAL_MILLIS = 1_000;
    /** Chunks one run prunes at most: a store that fell far behind its target catches up over several runs. */
    static final int CHUNKS_PER_RUN_MAX = 32;
    /** A log line at most this often while pruning goes on (the metrics count every block). */
    static final long LOG_INTERVAL_NANOS = TimeUnit.SECONDS.toNanos(60);

    private final int replica;
    private final BlockStore store;
    private final long keepBlocks;
    private final LongSupplier oldestSnapshot;
    private final ScheduledExecutorService thread = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "prune");
        t.setDaemon(true);
        return t;
    });
    private final AtomicLong blocks = new AtomicLong();
    private final AtomicLong bytesFreed = new AtomicLong();
    private long unloggedBlocks;
    private long lastLogNanos = System.nanoTime() - LOG_INTERVAL_NANOS;

    /**
     * @param oldestSnapshot the height of the oldest state snapshot the node keeps (Long.MAX_VALUE:
     *     none): blocks from it up stay whole, since a replica joining from that snapshot takes
     *     that block whole and catches up the ones above it
     */
    Pruner(int replica, BlockStore store, long keepBlocks, LongSupplier oldestSnapshot, NodeMetrics metrics) {
        this.replica = replica;
        this.store = store;
        this.keepBlocks = keepBlocks;
        this.oldestSnapshot = oldestSnapshot;
        String id = Integer.toString(replica);
        metrics.gauge("bftledger_pruned_below_height", "the lowest height whose block is stored whole (1: nothing pruned)",
                "replica", id, store::prunedBelow);
        metrics.counter("bftledger_pruned_blocks", "blocks whose transactions were pruned", blocks, AtomicLong::get);
        metrics.counter("bftledger_pruned_block_bytes", "bytes of block values freed by pruning (LMDB reuses the pages)",
                bytesFreed, AtomicLong::get);
    }

    void start() {
        log.info("event=pruning replica={} keep-blocks={} pruned-below={}", replica, keepBlocks, store.prunedBelow());
        thread.scheduleWithFixedDelay(this::run, INTERVAL_MILLIS, INTERVAL_MILLIS, TimeUnit.MILLISECONDS);
    }

    /** One run: prunes up to {@link #CHUNKS_PER_RUN_MAX} chunks below the height {@code keepBlocks} under the tip. */
    void run() {
        try {
            long keepFrom = Math.min(store.height() - keepBlocks + 1, oldestSnapshot.getAsLong());
            for (int chunk = 0; chunk < CHUNKS_PER_RUN_MAX; chunk++) {
                BlockStore.Pruned pruned = store.prune(keepFrom);
                if (pruned.blocks() == 0) {
                    break;
                }
                blocks.addAndGet(pruned.blocks());
                bytesFreed.addAndGet(pruned.bytesFreed());
                unloggedBlocks += pruned.blocks();
            }
            if (unloggedBlocks > 0 && System.nanoTime() - lastLogNanos >= LOG_INTERVAL_NANOS) {
                log.info("event=pruned replica={} blocks={} pruned-below={} total-blocks={} total-bytes-freed={}", replica,
                        unloggedBlocks, store.prunedBelow(), blocks.get(), bytesFreed.get());
                unloggedBlocks = 0;
                lastLogNanos = System.nanoTime();
            }
        } catch (RuntimeException e) {
            // A damaged or closing store: the next run tries again; nothing is half-written (one transaction per chunk).
            log.warn("event=prune-failed replica={} error={}", replica, e.toString());
        }
    }

    long blocksPruned() {
        return blocks.get();
    }

    @Override
    public void close() {
        thread.shutdownNow();
        try {
            thread.awaitTermination(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
