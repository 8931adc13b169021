package bftledger.node.replica;

import bftledger.crypto.Digest;
import bftledger.ledger.BlockChecker;
import bftledger.ledger.BlockStore;
import bftledger.ledger.CommitCertificates;
import bftledger.ledger.ExecutedBlock;
import bftledger.ledger.VerifiedTransaction;
import bftledger.ledger.proto.Block;
import bftledger.ledger.proto.CommitCertificate;
import bftledger.node.metrics.NodeMetrics;
import bftledger.node.net.PeerNetwork;
import bftledger.pbft.Event;
import bftledger.pbft.Output;
import bftledger.pbft.PersistRecord;
import bftledger.pbft.Replica;
import bftledger.pbft.Request;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.SortedMap;
import java.util.TreeMap;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The one thread that runs the PBFT core. Everything that changes the replica or the ledger
 * goes through its bounded queue and is done here, in order: {@link Replica#step}, then the
 * output in the contract's order — WAL records durable first, then messages sent, then
 * committed batches executed into the block store (durable) and reported back to the core as
 * {@link Event.Executed}, then listeners told about the new block (only now may clients hear
 * of it). Blocks fetched by catch-up are appended here too, so the store has one writer.
 *
 * <p>At a full queue: a peer message is dropped and counted (PBFT recovers by retransmission
 * and view change); a client request is refused (the client retries the same bytes); a tick is
 * skipped (the next one comes).
 *
 * <p>Out of room (a full disk, a full LMDB map; see {@link StorageFull}): the write that was
 * refused wrote nothing, so this thread waits and tries it again every
 * {@value #STORAGE_RETRY_MILLIS} ms, in place, until it goes through. Meanwhile nothing after it
 * happens: no message whose records did not persist is sent, no block that is not stored is
 * announced, client requests are refused, and the stall is in the status, the metrics
 * ({@code bftledger_storage_stalled}) and the log ({@code event=storage-full}, then
 * {@code event=storage-resumed}). Any other storage failure is not a state but a broken disk or a
 * bug, and stops the core as before (DiskFullTest).
 */
public final class CoreLoop implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(CoreLoop.class);
    /** Evidence pairs kept (see {@link EvidenceStore} for which are dropped beyond it). */
    public static final int EVIDENCE_MAX = 1_000;
    /**
     * Most queued events stepped before their outputs are carried out together (one WAL commit).
     * Bounds the extra delay the first event of a group sees to a few hundred cheap steps.
     */
    static final int GROUP_EVENTS_MAX = 256;

    /** How often a write refused for lack of room is tried again. */
    static final long STORAGE_RETRY_MILLIS = 1_000;

    /**
     * A snapshot of the core's state for status calls, published after every step.
     *
     * @param storageStall empty, or which write waits for room and why
     * @param voting false while the replica runs under a signing floor it has not passed yet
     */
    public record Status(long view, boolean viewActive, int primary, long stableCheckpoint, int pendingRequests,
                         long lastExecuted, String storageStall, boolean voting) {}

    private final Replica replica;
    private final ConsensusWal wal;
    private final SigningMark mark;
    private final BlockStore store;
    private final VerifiedTransactions transactions;
    private final NodeMetrics metrics;
    private final Consumer<ExecutedBlock> onBlock;
    private final Consumer<Output.StateTransferRequest> onStateTransfer;
    private final BlockingQueue<Object> queue;
    private final Thread thread;
    private final EvidenceStore evidence;
    private final BlockHashes hashes;
    private final CoreStages stages;
    private PeerNetwork peers;
    private OutboundInterceptor interceptor = OutboundInterceptor.IDENTITY;
    private java.util.concurrent.ScheduledExecutorService delayed;
    private volatile Status status;
    private volatile boolean running = true;
    private volatile Throwable failure;
    /** Which write waits for room and why; empty when none does. Written on the core thread only. */
    private volatile String storageStall = "";
    private boolean votingLogged;

    /**
     * @param hashes the block hashes {@code replica} reads through its {@link bftledger.pbft.ExecutedDigests}
     *     port; this loop records every block it appends there
     * @param mark the replica's signing mark: after every WAL append, before any message leaves,
     *     it records the WAL's position and, when the records signed beyond its ceiling, raises it
     * @param evidence the (durable) store the core's evidence goes to
     */
    CoreLoop(Replica replica, BlockHashes hashes, ConsensusWal wal, SigningMark mark, BlockStore store,
             VerifiedTransactions transactions, NodeMetrics metrics, int queueMax, Consumer<ExecutedBlock> onBlock,
                    Consumer<Output.StateTransferRequest> onStateTransfer, EvidenceStore evidence) {
        this.hashes = hashes;
        this.evidence = evidence;
        metrics.setEvidence(evidence.size());
        this.replica = replica;
        this.wal = wal;
        this.mark = mark;
        this.store = store;
        this.transactions = transactions;
        this.metrics = metrics;
        this.onBlock = onBlock;
        this.onStateTransfer = onStateTransfer;
        this.stages = new CoreStages(metrics);
        this.queue = new ArrayBlockingQueue<>(queueMax);
        this.thread = new Thread(this::run, "pbft-core");
        metrics.queueDepth("core", queue::size);
        metrics.gauge("bftledger_storage_stalled", "1 while a write waits for room (disk or LMDB map full): no commits",
                () -> storageStall.isEmpty() ? 0 : 1);
        metrics.gauge("bftledger_voting", "0 while the replica runs under a signing floor it has not passed (it lost its WAL)",
                () -> status.voting() ? 1 : 0);
        publishStatus();
    }

    /**
     * Routes every outgoing consensus message through {@code interceptor} (an adversary process);
     * held-back messages are sent from {@code scheduler}. Call before {@link #start}.
     */
    public void intercept(OutboundInterceptor interceptor, java.util.concurrent.ScheduledExecutorService scheduler) {
        this.interceptor = interceptor;
        this.delayed = scheduler;
    }

    public void start(PeerNetwork peers) {
        this.peers = peers;
        thread.start();
    }

    /**
     * The last height this core's validator set orders, once a later set is named (from the
     * store at start, or from a change this loop executes or fetches), and who to tell when the
     * store reaches it: the node then restarts under the next set. Call before {@link #start}.
     */
    void epoch(long end, java.util.function.LongConsumer over) {
        this.epochEnd = end;
        this.epochOver = over;
    }

    /** Long.MAX_VALUE while no later set is named. Core thread only. */
    private long epochEnd = Long.MAX_VALUE;
    private java.util.function.LongConsumer epochOver = h -> {};
    private boolean epochEndTold;

    /**
     * After each appended block: a change that executed in it names the next set, whose first
     * height the core must stop short of; reaching the end hands over. The core is told before
     * any later sequence is proposed: the end lies at least L+2 above the change's height.
     */
    private List<Output> afterAppend(ExecutedBlock block) {
        List<Output> out = new ArrayList<>();
        if (store.height() >= epochEnd) {
            // Handing over: blocks catch-up appends past the end (each checked against its own
            // set by the store) are the next core's business, this one is told nothing more.
            epochOver.accept(epochEnd);
            return out;
        }
        if (block.execution().changes().records().containsKey(bftledger.ledger.ValidatorSets.RECORD)) {
            long end = Epoch.endAfter(store.validatorSets(), block.height() + 1);
            if (end != Long.MAX_VALUE && end != epochEnd) {
                epochEnd = end;
                epochEndTold = false;
                log.info("event=validator-set-change height={} epoch-end={}", block.height(), end);
            }
        }
        if (epochEnd != Long.MAX_VALUE && !epochEndTold && replica.lastExecuted() <= epochEnd) {
            epochEndTold = true;
            out.add(replica.step(new Event.EpochEnds(epochEnd)));
        }
        if (store.height() >= epochEnd) {
            epochOver.accept(epochEnd);
        }
        return out;
    }

    /** A message the verifier accepted. False (and counted) when the queue is full. */
    public boolean offerPeerMessage(Event.PeerMessage message) {
        if (!interceptor.hears(message.message().signer())) {
            return false;
        }
        if (!queue.offer(message)) {
            metrics.dropped("core");
            return false;
        }
        return true;
    }

    /** A client request that passed validation. False when the queue is full or storage has no room: tell the client to retry. */
    public boolean offerRequest(Request request) {
        if (!storageStall.isEmpty()) {
            return false;
        }
        if (!interceptor.admitRequest(request)) {
            // Swallowed as if queued: a censoring process tells the client nothing.
            return true;
        }
        return queue.offer(new Event.ClientRequest(request));
    }

    public void tick(long nowMillis) {
        tick(nowMillis, true, java.util.Set.of());
    }

    /** A tick with the failure detector's verdict: whether 2f peers were heard recently, and who was not (see {@link Event.Tick}). */
    public void tick(long nowMillis, boolean quorumHeard, java.util.Set<Integer> silentReplicas) {
        lastTickQuorumHeard = quorumHeard;
        lastTickSilent = silentReplicas;
        queue.offer(new Event.Tick(nowMillis, quorumHeard, silentReplicas));
    }

    /** The detector's latest verdicts, for the view-change log line only. */
    private volatile boolean lastTickQuorumHeard = true;
    private volatile java.util.Set<Integer> lastTickSilent = java.util.Set.of();

    /** Runs {@code task} on the core thread (catch-up appends); false when the queue is full. */
    public boolean offerTask(Runnable task) {
        return queue.offer(task);
    }

    public Status status() {
        return status;
    }

    public List<Output.Evidence> evidence() {
        return evidence.all();
    }

    /** Set when the core thread died on a broken invariant; the node exits on it. */
    public Throwable failure() {
        return failure;
    }

    /** Which write waits for room and why, while one does (see the class comment). */
    public java.util.Optional<String> storageStall() {
        String stall = storageStall;
        return stall.isEmpty() ? java.util.Optional.empty() : java.util.Optional.of(stall);
    }

    private void run() {
        try {
            carryOut(List.of(replica.resume()));
            if (epochEnd != Long.MAX_VALUE) {
                // Named by a change this store executed before the node (re)started.
                epochEndTold = true;
                carryOut(List.of(replica.step(new Event.EpochEnds(epochEnd))));
            }
            publishStatus();
            List<Object> group = new ArrayList<>(GROUP_EVENTS_MAX);
            List<Output> outputs = new ArrayList<>(GROUP_EVENTS_MAX);
            while (running) {
                Object first = queue.poll(200, TimeUnit.MILLISECONDS);
                if (first == null) {
                    continue;
                }
                group.add(first);
                queue.drainTo(group, GROUP_EVENTS_MAX - 1);
                long stepping = 0;
                for (Object item : group) {
                    if (item instanceof Runnable task) {
                        // Tasks (catch-up appends) see everything stepped before them carried out.
                        carryOut(outputs);
                        outputs.clear();
                        task.run();
                    } else {
                        long start = System.nanoTime();
                        outputs.add(replica.step((Event) item));
                        stepping += System.nanoTime() - start;
                    }
                }
                stages.stepped(stepping);
                carryOut(outputs);
                outputs.clear();
                group.clear();
                publishStatus();
            }
        } catch (InterruptedException | StoppedWaitingForRoom e) {
            Thread.currentThread().interrupt();
        } catch (Throwable t) {
            // A broken invariant: stop consensus loudly rather than continue on a state we do not trust.
            failure = t;
            log.error("event=core-failed the PBFT core loop stopped on an internal error; the node will exit", t);
        }
    }

    /**
     * Carries out the outputs of consecutive steps as one group: the records of all of them in
     * one durable WAL transaction (one fsync instead of one per step: under load the fsync, not
     * the CPU, is what a step waits for), then every message in step order, then the executions.
     * Persist-before-send holds for each output because all records are durable before the
     * first message leaves. Executions are reported to the core at once, in sequence order; the
     * outputs of those Executed steps form the next round, carried out the same way.
     */
    private void carryOut(List<Output> group) {
        List<Output> round = group;
        while (!round.isEmpty()) {
            List<PersistRecord> records = round.size() == 1 ? round.get(0).persist() : new ArrayList<>();
            if (round.size() > 1) {
                for (Output o : round) {
                    records.addAll(o.persist());
                }
            }
            long appending = System.nanoTime();
            untilStored("wal-append", () -> wal.append(records));
            untilStored("signing-mark", () -> mark.afterAppend(records, wal.position(), replica.config().watermarkWindow()));
            long appended = System.nanoTime();
            stages.walAppended(appended - appending);
            stages.voted(records, appended);
            for (Output o : round) {
                for (Output.Outbound m : o.messages()) {
                    if (interceptor != OutboundInterceptor.IDENTITY) {
                        sendIntercepted(m);
                        continue;
                    }
                    byte[] wire = m.message().wire();
                    if (m.broadcast()) {
                        peers.broadcast(wire);
                    } else if (m.to() != replica.id()) {
                        peers.send(m.to(), wire);
                    }
                }
            }
            List<Output> next = new ArrayList<>();
            for (Output o : round) {
                for (Output.CommittedBatch batch : o.execute()) {
                    stages.committed(batch.sequence(), System.nanoTime());
                    ExecutedBlock block = untilStored("block-append", () -> execute(batch));
                    next.add(replica.step(new Event.Executed(batch.sequence(), block != null ? block.hash()
                            : store.tip().height() == batch.sequence() ? store.tip().hash()
                            : store.blockHash(batch.sequence()).orElseThrow())));
                    if (block != null) {
                        next.addAll(afterAppend(block));
                    }
                    // A window below our stable checkpoint: a replica a checkpoint or two behind
                    // us may still send VIEW-CHANGEs whose certificates reach down to its own.
                    transactions.forgetExecutedThrough(replica.lowWatermark() - replica.config().watermarkWindow());
                }
                for (Output.StateTransferRequest request : o.stateTransfer()) {
                    onStateTransfer.accept(request);
                }
                recordEvidence(o.evidence());
                for (Output.Rejection r : o.rejections()) {
                    metrics.rejected(r.reason().name());
                }
            }
            round = next;
        }
    }

    /** The adversary path: each destination's copy goes through the interceptor. */
    private void sendIntercepted(Output.Outbound m) {
        int n = replica.config().n();
        for (int to = 0; to < n; to++) {
            if (to == replica.id() || (!m.broadcast() && m.to() != to)) {
                continue;
            }
            for (OutboundInterceptor.Outgoing out : interceptor.intercept(m.message(), to)) {
                if (out.to() == replica.id() || out.to() < 0 || out.to() >= n) {
                    continue;
                }
                if (out.delayMillis() == 0 || delayed == null) {
                    peers.send(out.to(), out.wire());
                } else {
                    delayed.schedule(() -> peers.send(out.to(), out.wire()), out.delayMillis(), TimeUnit.MILLISECONDS);
                }
            }
        }
    }

    /**
     * Executes a committed batch into a durable block; the block hash is the checkpoint digest.
     * Null when the block is in the store already (fetched by catch-up before the core delivered
     * it, and looked at then).
     */
    private ExecutedBlock execute(Output.CommittedBatch batch) {
        long height = store.height();
        if (batch.sequence() <= height) {
            return null;
        }
        if (batch.sequence() != height + 1) {
            throw new IllegalStateException("core delivered sequence " + batch.sequence() + " but the store is at " + height);
        }
        List<VerifiedTransaction> txs = new ArrayList<>(batch.requests().size());
        for (Request request : batch.requests()) {
            txs.add(transactions.forExecution(request));
        }
        SortedMap<Integer, byte[]> signatures = new TreeMap<>();
        for (Output.CommitSignature s : batch.certificate()) {
            signatures.put(s.replica(), s.signature());
        }
        CommitCertificate certificate = CommitCertificates.of(batch.view(), batch.sequence(), batch.digest(), signatures);
        long start = System.nanoTime();
        ExecutedBlock block = store.appendBatch(batch.timestampMillis(), batch.anchor(), txs, certificate);
        stages.executed(System.nanoTime() - start);
        hashes.record(block.height(), block.hash());
        transactions.executed(batch.sequence(), batch.requests());
        metrics.setHeight(block.height());
        metrics.committed(txs.size());
        onBlock.accept(block);
        return block;
    }

    /**
     * Appends blocks fetched from peers, each fully checked by the store (certificate against
     * genesis, signatures, re-execution). Runs on the core thread. Returns how many were taken;
     * it stops at the first that is not the next valid block.
     */
    public int appendFetched(List<Block> blocks, int fromPeer) {
        int taken = 0;
        for (Block block : blocks) {
            if (heightOf(block) <= store.height()) {
                // The core executed this height itself while the chunk was in flight.
                continue;
            }
            // Signatures this replica verified already (as submitted, in a PRE-PREPARE, or in
            // preverify on the catch-up thread) are not verified again on this thread.
            BlockChecker.BlockCheck check = untilStored("catch-up-append", () -> store.append(block, this::validate));
            if (!check.ok()) {
                metrics.rejected("catch-up-block");
                log.warn("event=catch-up-rejected peer={} problems={}", fromPeer, check.problems());
                return taken;
            }
            taken++;
            hashes.record(check.executed().height(), check.executed().hash());
            metrics.setHeight(store.height());
            onBlock.accept(check.executed());
            carryOut(afterAppend(check.executed()));
        }
        return taken;
    }

    /**
     * Checks the transactions of fetched blocks on the calling thread (catch-up's), so that
     * {@link #appendFetched} on the core thread finds their signatures verified in the cache and
     * does not spend the single consensus thread on them. A replica a few blocks behind has seen
     * most of them already (submitted, or in a PRE-PREPARE); those cost a lookup here too.
     */
    public void preverify(List<Block> blocks) {
        List<bftledger.crypto.Digest> ids = new java.util.ArrayList<>();
        List<byte[]> raws = new java.util.ArrayList<>();
        for (Block block : blocks) {
            for (bftledger.ledger.proto.SignedTransaction tx : block.getTransactionsList()) {
                ids.add(bftledger.ledger.Transactions.id(tx));
                raws.add(tx.toByteArray());
            }
        }
        transactions.validateAll(ids, raws);
    }

    private bftledger.ledger.TxVerdict validate(bftledger.ledger.proto.SignedTransaction tx) {
        return transactions.validate(bftledger.ledger.Transactions.id(tx), tx.toByteArray());
    }

    private static long heightOf(Block block) {
        try {
            return bftledger.ledger.Blocks.header(block).getHeight();
        } catch (com.google.protobuf.InvalidProtocolBufferException e) {
            return Long.MAX_VALUE; // Let the store's full check reject it with its reason.
        }
    }

    /** Tells the core that catch-up reached {@code sequence} (the store's tip). Core thread only. */
    public void stateTransferred(long sequence, Digest hash) {
        if (sequence > epochEnd) {
            // Past this core's last sequence: the node restarts under the next set instead.
            return;
        }
        carryOut(List.of(replica.step(new Event.StateTransferred(sequence, hash))));
    }

    private void recordEvidence(List<Output.Evidence> found) {
        for (Output.Evidence e : found) {
            if (untilStored("evidence", () -> evidence.add(e))) {
                log.warn("event=evidence replica={} type={} view={} sequence={}", e.replica(), e.type(), e.view(), e.sequence());
            }
        }
        if (!found.isEmpty()) {
            metrics.setEvidence(evidence.size());
        }
    }

    /** Thrown out of a wait for room when the loop is closed meanwhile. */
    private static final class StoppedWaitingForRoom extends RuntimeException {
        StoppedWaitingForRoom() {
            super("stopped while waiting for room to write", null, false, false);
        }
    }

    private void untilStored(String what, Runnable write) {
        untilStored(what, () -> {
            write.run();
            return null;
        });
    }

    /**
     * {@code write}, tried again every {@link #STORAGE_RETRY_MILLIS} while it is refused for lack
     * of room (it wrote nothing then, so trying again is safe); any other failure is thrown.
     */
    private <T> T untilStored(String what, java.util.function.Supplier<T> write) {
        long stalledAt = 0;
        while (true) {
            try {
                T result = write.get();
                if (stalledAt != 0) {
                    storageStall = "";
                    log.warn("event=storage-resumed write={} stalled-millis={}", what, (System.nanoTime() - stalledAt) / 1_000_000);
                    publishStatus();
                }
                return result;
            } catch (RuntimeException e) {
                java.util.Optional<String> full = StorageFull.reason(e, List.of(store.directory(), wal.directory()));
                if (full.isEmpty()) {
                    throw e;
                }
                if (stalledAt == 0) {
                    stalledAt = System.nanoTime();
                    storageStall = what + ": " + full.get();
                    log.error("event=storage-full write={} reason=\"{}\" action=\"nothing is committed or sent until it is"
                            + " written; trying again every {} ms\"", what, full.get(), STORAGE_RETRY_MILLIS);
                    publishStatus();
                }
            }
            try {
                Thread.sleep(STORAGE_RETRY_MILLIS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new StoppedWaitingForRoom();
            }
            if (!running) {
                throw new StoppedWaitingForRoom();
            }
        }
    }

    private void publishStatus() {
        long view = replica.view();
        metrics.setView(view);
        Status before = status;
        boolean voting = replica.signingFloor().passed(view, replica.lowWatermark());
        status = new Status(view, replica.viewActive(), replica.config().primary(view), replica.lowWatermark(),
                replica.pendingRequests(), replica.lastExecuted(), storageStall, voting);
        if (voting && !votingLogged && !replica.signingFloor().equals(bftledger.pbft.SigningFloor.NONE)) {
            votingLogged = true;
            log.warn("event=voting-again view={} stable={} floor-view={} floor-sequence={}", view, replica.lowWatermark(),
                    replica.signingFloor().view(), replica.signingFloor().sequence());
        }
        // View changes are what an operator looks for first when commits stall: log each move.
        if (before != null && (before.view() != view || before.viewActive() != status.viewActive())) {
            if (status.viewActive()) {
                log.info("event=view-active view={} primary={} last-executed={} pending={}", view, status.primary(),
                        status.lastExecuted(), status.pendingRequests());
            } else {
                // With why it left and what the failure detector said then: a chaos run's gaps are
                // read from these lines.
                log.warn("event=view-changing from-view={} to-view={} last-executed={} pending={} stable={} cause=\"{}\""
                        + " detector-quorum-heard={} detector-silent={}", before.view(), view, status.lastExecuted(),
                        status.pendingRequests(), status.stableCheckpoint(), replica.viewChangeCause(), lastTickQuorumHeard,
                        lastTickSilent);
            }
        }
    }

    @Override
    public void close() {
        running = false;
        thread.interrupt();
        try {
            thread.join(5_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
