package bftledger.node.replica;

import bftledger.crypto.Digest;
import bftledger.ledger.BlockStore;
import bftledger.ledger.proto.Block;
import bftledger.node.net.PeerNetwork;
import bftledger.node.proto.FetchBlocksRequest;
import bftledger.node.proto.PeerTransportGrpc;
import bftledger.pbft.Output;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.IntToLongFunction;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * State transfer by blocks: when the core asks for state up to a stable checkpoint, fetch the
 * missing blocks from peers, a bounded chunk at a time, and hand them to the core thread, where
 * the store checks each one fully (commit certificate against genesis, transaction signatures,
 * re-execution) before appending it. No peer is trusted: a peer whose block fails the check is
 * skipped for the rest of the round and the next peer is asked from the same height. At the
 * target, the block hash must equal the checkpoint digest that 2f+1 replicas signed.
 */
public final class CatchUp implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(CatchUp.class);
    static final int ROUNDS_MAX = 20;
    /**
     * One chunk of {@link PeerNetwork#FETCH_BLOCKS_MAX} blocks streams in well under a second
     * from a live peer. A peer that accepts the call and never answers (SIGSTOPped, overloaded)
     * costs this much before the next peer is asked, during which this replica stays behind.
     */
    static final long FETCH_DEADLINE_MILLIS = 3_000;
    /**
     * A peer not heard from for this long (pings go every second) is asked last: a paused peer
     * otherwise costs a whole fetch deadline each round.
     */
    static final long SILENT_AFTER_MILLIS = 1_500;

    private final int self;
    private final int n;
    private final BlockStore store;
    private final IntToLongFunction lastHeardAgeMillis;
    private final ExecutorService worker = Executors.newSingleThreadExecutor(r -> {
        Thread t = new Thread(r, "catch-up");
        t.setDaemon(true);
        return t;
    });
    private final AtomicBoolean running = new AtomicBoolean();
    /** Heights waiting for a repair attempt; at most {@link #REPAIRS_PENDING_MAX}. */
    private final java.util.Set<Long> repairsPending = java.util.concurrent.ConcurrentHashMap.newKeySet();
    private final java.util.Map<Long, Long> lastRepairAttemptNanos = new java.util.concurrent.ConcurrentHashMap<>();
    private final java.util.concurrent.atomic.AtomicLong repaired = new java.util.concurrent.atomic.AtomicLong();
    private final java.util.concurrent.atomic.AtomicLong repairsFailed = new java.util.concurrent.atomic.AtomicLong();
    private CoreLoop core;
    private PeerNetwork peers;
    /** Damaged heights queued for repair at once; more wait for their next read to report them again. */
    static final int REPAIRS_PENDING_MAX = 64;
    /** A height whose repair failed is tried again at most this often (its next read reports it again). */
    static final long REPAIR_RETRY_MILLIS = 5_000;

    /** @param lastHeardAgeMillis per peer, how long ago it was last heard (the failure detector's view) */
    public CatchUp(int self, int n, BlockStore store, IntToLongFunction lastHeardAgeMillis) {
        this.self = self;
        this.n = n;
        this.store = store;
        this.lastHeardAgeMillis = lastHeardAgeMillis;
    }

    private boolean silent(int peer) {
        return lastHeardAgeMillis.applyAsLong(peer) > SILENT_AFTER_MILLIS;
    }

    /**
     * The other replicas starting after {@code start} in ring order (which spreads the load over
     * rounds), those recently heard first. Silent ones stay in, last: the detector is advisory,
     * and a peer it wrongly suspects is still asked when the others had nothing.
     */
    List<Integer> peerOrder(int start) {
        List<Integer> heard = new ArrayList<>();
        List<Integer> quiet = new ArrayList<>();
        for (int k = 1; k <= n; k++) {
            int peer = Math.floorMod(start + k, n);
            if (peer != self) {
                (silent(peer) ? quiet : heard).add(peer);
            }
        }
        heard.addAll(quiet);
        return heard;
    }

    public void attach(CoreLoop core, PeerNetwork peers) {
        this.core = core;
        this.peers = peers;
    }

    /**
     * Block sync outside checkpoints: every {@code intervalMillis}, if the store's height has not
     * moved since the last look, ask the next peer for blocks above it. A replica that missed
     * messages (restart, partition) and sees no new checkpoint (the network went quiet) still
     * reaches the committed tip this way; each block carries its own commit certificate, so no
     * peer is trusted. The core is told with {@code StateTransferred} for the new tip.
     */
    public void startSync(java.util.concurrent.ScheduledExecutorService timers, long intervalMillis) {
        long[] lastHeight = {-1};
        int[] nextPeer = {self};
        timers.scheduleWithFixedDelay(() -> {
            long height = store.height();
            boolean stalled = height == lastHeight[0];
            lastHeight[0] = height;
            if (!stalled || running.get()) {
                return;
            }
            int peer = peerOrder(nextPeer[0]).get(0);
            nextPeer[0] = peer;
            if (!running.compareAndSet(false, true)) {
                return;
            }
            worker.execute(() -> {
                try {
                    if (fetchFrom(peer, Long.MAX_VALUE)) {
                        tellCore();
                    }
                } catch (RuntimeException e) {
                    log.debug("event=sync-failed peer={} error={}", peer, e.toString());
                } finally {
                    running.set(false);
                }
            });
        }, intervalMillis, intervalMillis, TimeUnit.MILLISECONDS);
    }

    /**
     * A stored block was found damaged (the store's damage listener): fetch a copy from each peer
     * in turn until one passes {@link BlockStore#repair} (its header hash is the one the chain
     * recorded, its contents and certificate check against genesis), so no single peer is
     * trusted. Bounded: a few heights at a time, each tried at most every {@link #REPAIR_RETRY_MILLIS}.
     */
    public void repair(long height) {
        long now = System.nanoTime();
        Long last = lastRepairAttemptNanos.get(height);
        if ((last != null && now - last < TimeUnit.MILLISECONDS.toNanos(REPAIR_RETRY_MILLIS))
                || repairsPending.size() >= REPAIRS_PENDING_MAX || !repairsPending.add(height)) {
            return;
        }
        lastRepairAttemptNanos.put(height, now);
        worker.execute(() -> {
            try {
                repairNow(height);
            } finally {
                repairsPending.remove(height);
                if (lastRepairAttemptNanos.size() > REPAIRS_PENDING_MAX * 16) {
                    lastRepairAttemptNanos.clear();
                }
            }
        });
    }

    private void repairNow(long height) {
        if (peers == null) {
            return;
        }
        for (int peer : peerOrder(self)) {
            Block candidate;
            try {
                Iterator<Block> it = PeerTransportGrpc.newBlockingStub(peers.channel(peer).orElseThrow())
                        .withDeadlineAfter(FETCH_DEADLINE_MILLIS, TimeUnit.MILLISECONDS)
                        .fetchBlocks(FetchBlocksRequest.newBuilder().setFromHeight(height).setMaxBlocks(1)
                                .setPrunedFormOk(true).build());
                if (!it.hasNext()) {
                    continue;
                }
                candidate = it.next();
            } catch (RuntimeException e) {
                log.debug("event=repair-fetch-failed peer={} height={} error={}", peer, height, e.toString());
                continue;
            }
            java.util.Optional<String> refused = store.repair(height, candidate);
            if (refused.isEmpty()) {
                repaired.incrementAndGet();
                log.warn("event=block-repaired height={} from-peer={}", height, peer);
                return;
            }
            log.warn("event=repair-refused height={} peer={} reason=\"{}\"", height, peer, refused.get());
        }
        repairsFailed.incrementAndGet();
        log.error("event=repair-failed height={} the block stays unserved; no peer served a certified copy", height);
    }

    /** Blocks put back from a peer's certified copy since start. */
    public long repaired() {
        return repaired.get();
    }

    /** Repair attempts in which no peer served a copy that checked. */
    public long repairsFailed() {
        return repairsFailed.get();
    }

    /** Tells the core the store now holds everything up to its tip. */
    private void tellCore() {
        CompletableFuture<Void> done = new CompletableFuture<>();
        while (!core.offerTask(() -> {
            BlockStore.Tip tip = store.tip();
            core.stateTransferred(tip.height(), tip.hash());
            done.complete(null);
        })) {
            sleepQuietly(50);
        }
        done.join();
    }

    /** Called on the core thread; the work runs on the catch-up thread, one transfer at a time. */
    public void request(Output.StateTransferRequest request) {
        if (!running.compareAndSet(false, true)) {
            return;
        }
        worker.execute(() -> {
            try {
                transfer(request.sequence(), request.digest());
            } catch (RuntimeException e) {
                log.warn("event=catch-up-failed target={} error={}", request.sequence(), e.toString());
            } finally {
                running.set(false);
            }
        });
    }

    private void transfer(long target, Digest digest) {
        log.info("event=catch-up-start from={} target={}", store.height() + 1, target);
        for (int round = 0; round < ROUNDS_MAX && store.height() < target; round++) {
            boolean progress = false;
            for (int peer : peerOrder(self + round)) {
                if (store.height() >= target) {
                    break;
                }
                progress |= fetchFrom(peer, target);
            }
            if (!progress) {
                sleepQuietly(Math.min(5_000, 250L << Math.min(round, 5)));
            }
        }
        if (store.height() < target) {
            log.warn("event=catch-up-incomplete height={} target={}", store.height(), target);
            return;
        }
        Digest hash = store.blockHash(target).orElseThrow();
        if (!hash.equals(digest)) {
            log.error("event=catch-up-digest-mismatch target={} stored={} certified={}", target, hash.shortHex(), digest.shortHex());
            return;
        }
        CompletableFuture<Void> done = new CompletableFuture<>();
        while (!core.offerTask(() -> {
            core.stateTransferred(target, hash);
            done.complete(null);
        })) {
            sleepQuietly(50);
        }
        done.join();
        log.info("event=catch-up-done height={}", target);
    }

    /** One chunk from one peer, appended on the core thread. True when at least one block was taken. */
    private boolean fetchFrom(int peer, long target) {
        long from = store.height() + 1;
        List<Block> blocks = new ArrayList<>();
        try {
            Iterator<Block> it = PeerTransportGrpc.newBlockingStub(peers.channel(peer).orElseThrow())
                    .withDeadlineAfter(FETCH_DEADLINE_MILLIS, TimeUnit.MILLISECONDS)
                    .fetchBlocks(FetchBlocksRequest.newBuilder().setFromHeight(from)
                            .setMaxBlocks((int) Math.min(PeerNetwork.FETCH_BLOCKS_MAX, Math.max(1, target - from + 1))).build());
            while (it.hasNext()) {
                blocks.add(it.next());
            }
        } catch (io.grpc.StatusRuntimeException e) {
            if (e.getStatus().getCode() == io.grpc.Status.Code.OUT_OF_RANGE) {
                // Only a peer that kept these blocks can serve them: without one this replica stays behind.
                log.warn("event=catch-up-pruned peer={} from={} error=\"{}\"", peer, from, e.getStatus().getDescription());
            } else {
                log.debug("event=catch-up-fetch-failed peer={} error={}", peer, e.toString());
            }
        } catch (RuntimeException e) {
            log.debug("event=catch-up-fetch-failed peer={} error={}", peer, e.toString());
        }
        if (blocks.isEmpty()) {
            return false;
        }
        // Signatures are checked here, off the core thread; the append there finds them cached.
        core.preverify(blocks);
        CompletableFuture<Integer> taken = new CompletableFuture<>();
        while (!core.offerTask(() -> taken.complete(core.appendFetched(blocks, peer)))) {
            sleepQuietly(50);
        }
        int count = taken.join();
        log.info("event=catch-up-blocks peer={} from={} taken={} of={}", peer, from, count, blocks.size());
        return count > 0;
    }

    private static void sleepQuietly(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    @Override
    public void close() {
        worker.shutdownNow();
    }
}
