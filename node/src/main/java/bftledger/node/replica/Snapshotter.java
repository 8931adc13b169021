package bftledger.node.replica;

import bftledger.ledger.BlockStore;
import bftledger.ledger.StateSnapshots;
import bftledger.ledger.StoreSnapshot;
import bftledger.ledger.proto.StateSnapshotManifest;
import bftledger.node.metrics.NodeMetrics;
import java.io.IOException;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.SynchronousQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Takes the state snapshots a node serves to replicas joining by state sync (node config
 * {@code snapshot.interval.blocks}): at every height that is a multiple of the interval the store
 * hands over a read view opened right after that block's commit (so every replica's snapshot of
 * a height holds the same state, and a joining replica can take buckets from several of them),
 * and this node's {@code snapshot} thread writes it out. The core thread only opens the view.
 *
 * <p>Bound: one snapshot written at a time and none waiting; a height that comes due while the
 * previous one is still being written is skipped (its view closed at once, so it pins no pages)
 * and counted.
 */
final class Snapshotter implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(Snapshotter.class);

    private final int replica;
    private final StateSnapshots snapshots;
    // No queue: a view is taken only by an idle thread, so none waits pinning LMDB pages.
    private final ThreadPoolExecutor thread = new ThreadPoolExecutor(1, 1, 0, TimeUnit.MILLISECONDS,
            new SynchronousQueue<>(), r -> {
                Thread t = new Thread(r, "snapshot");
                t.setDaemon(true);
                return t;
            });
    private final AtomicLong taken = new AtomicLong();
    private final AtomicLong skipped = new AtomicLong();
    private final AtomicLong failed = new AtomicLong();
    private volatile long latestHeight;

    Snapshotter(int replica, BlockStore store, StateSnapshots snapshots, long intervalBlocks, NodeMetrics metrics) {
        this.replica = replica;
        this.snapshots = snapshots;
        this.latestHeight = snapshots.heights().stream().findFirst().orElse(0L);
        String id = Integer.toString(replica);
        metrics.gauge("bftledger_state_snapshot_height", "height of the newest state snapshot kept for joining replicas (0: none)",
                "replica", id, () -> latestHeight);
        metrics.counter("bftledger_state_snapshots_taken", "state snapshots written", taken, AtomicLong::get);
        metrics.counter("bftledger_state_snapshots_skipped", "snapshot heights skipped because the previous snapshot was still being written",
                skipped, AtomicLong::get);
        metrics.counter("bftledger_state_snapshots_failed", "state snapshots that could not be written", failed, AtomicLong::get);
        store.onSnapshotHeight(intervalBlocks, this::offer);
    }

    /** On the core thread: queues the view for writing, or closes it when a snapshot is already being written. */
    private void offer(StoreSnapshot view) {
        try {
            thread.execute(() -> write(view));
        } catch (RejectedExecutionException busy) {
            long height = view.height();
            view.close();
            skipped.incrementAndGet();
            log.warn("event=state-snapshot-skipped replica={} height={} reason=\"the previous snapshot is still being written\"",
                    replica, height);
        }
    }

    private void write(StoreSnapshot view) {
        long started = System.nanoTime();
        try (view) {
            StateSnapshotManifest manifest = snapshots.take(view);
            long entries = manifest.getBucketsList().stream().mapToLong(b -> b.getEntries()).sum();
            long bytes = manifest.getBucketsList().stream().mapToLong(b -> b.getSizeBytes()).sum();
            latestHeight = snapshots.heights().stream().findFirst().orElse(0L);
            taken.incrementAndGet();
            log.info("event=state-snapshot replica={} height={} entries={} bytes={} millis={} kept={}", replica,
                    manifest.getHeight(), entries, bytes, TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started),
                    snapshots.heights());
        } catch (IOException | RuntimeException e) {
            // A full disk or a closing store: the next interval tries again; a partial snapshot is never listed.
            failed.incrementAndGet();
            log.warn("event=state-snapshot-failed replica={} error=\"{}\"", replica, e.toString());
        }
    }

    @Override
    public void close() {
        thread.shutdownNow();
        try {
            // Interrupted, a write stops at its next file operation; the store must not close under it.
            if (!thread.awaitTermination(30, TimeUnit.SECONDS)) {
                log.warn("event=state-snapshot-still-writing replica={} the store closes under it", replica);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
