package bftledger.node.replica;

import bftledger.crypto.KeyPair;
import bftledger.crypto.PublicKey;
import bftledger.ledger.BlockStore;
import bftledger.ledger.ChainGenesis;
import bftledger.ledger.StateSnapshots;
import bftledger.ledger.StoreCorruptedException;
import bftledger.node.config.ConfigException;
import bftledger.node.config.GenesisFile;
import bftledger.node.config.Keys;
import bftledger.node.config.NetworkTls;
import bftledger.node.config.NodeConfig;
import bftledger.node.metrics.NodeMetrics;
import bftledger.node.net.PeerNetwork;
import bftledger.node.net.StoreBlockSource;
import bftledger.pbft.Config;
import bftledger.pbft.Event;
import bftledger.pbft.PersistCodec;
import bftledger.pbft.MessageVerifier;
import bftledger.pbft.PersistRecord;
import bftledger.pbft.Replica;
import bftledger.pbft.Verdict;
import io.grpc.Server;
import io.grpc.health.v1.HealthCheckResponse;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.protobuf.services.ProtoReflectionServiceV1;
import io.grpc.protobuf.services.HealthStatusManager;
import java.io.IOException;
import java.net.BindException;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One replica process: wires config, keys, genesis, the block store, the consensus WAL, the
 * PBFT core loop, the peer transport, the verification pool, the client API, health,
 * reflection and metrics, and takes them down in reverse order. Thread budget (4 node JVMs
 * share 2 cores): one core thread, {@code verifyThreads} verifiers, one sender per peer,
 * {@link #GRPC_THREADS} gRPC handler threads, one timer, one stream pump, one reply signer, one catch-up thread.
 */
public final class ReplicaNode implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(ReplicaNode.class);
    static final int GRPC_THREADS = 4;
    /** The server's connection I/O threads (gRPC's default for one processor). */
    static final int GRPC_IO_THREADS = 2;
    /** Validator host names may move (a pod restarted): their addresses are looked up again this often. */
    static final long VALIDATOR_RESOLVE_MILLIS = 60_000;
    /** A peer not heard (consensus frame or ping answer) for this long is suspected silent. */
    static final long PEER_SILENCE_MILLIS = 5_000;
    /** Often enough that a live peer, idle or not, is always heard within {@link #PEER_SILENT_AFTER_MILLIS}. */
    static final long PEER_PING_PERIOD_MILLIS = 250;
    /**
     * A peer not heard (consensus frame or ping answer) for this long is reported silent to the
     * core at each tick: two ping periods, so a live peer, even an idle one, never is. With fewer
     * than 2f peers not silent the core is told it hears no quorum, and then does not start a view
     * change on a request timeout (see pbft Event.Tick). Shorter than
     * {@link #REQUEST_TIMEOUT_MILLIS}, so a replica cut off just before its timer expires already
     * counts its peers as silent.
     */
    static final long PEER_SILENT_AFTER_MILLIS = 500;
    /**
     * How long the primary must stay silent while requests wait before a backup suspects it
     * without waiting out {@link #REQUEST_TIMEOUT_MILLIS} (pbft Config primarySilenceTicks): a
     * killed, paused or cut-off primary is replaced after about 0.8 s instead of 1.5 s. Not
     * shorter: a primary's JVM can stall a few hundred milliseconds (GC on a loaded machine), and
     * a backup that suspects a live primary alone stays out of the view until the next change.
     */
    static final int PRIMARY_SILENCE_MILLIS = 300;
    /**
     * How long an idle primary waits before proposing the empty batch that certifies its last
     * block (pbft Config anchorIdleTicks): the longest a proof of a transaction waits when no
     * other transaction follows it.
     */
    static final int ANCHOR_IDLE_MILLIS = 100;
    static final long PEER_PING_TIMEOUT_MILLIS = 2_000;
    /** How often a stalled replica asks a peer for newer committed blocks. */
    static final long SYNC_INTERVAL_MILLIS = 2_000;
    /**
     * Transactions whose verification is remembered (for execution and for the prepared
     * certificates of view changes): twice a watermark window of full batches (32 x 256), so a
     * VIEW-CHANGE's requests are still cached when it arrives. About 1.5 KB each.
     */
    static final int VERIFIED_CACHE_MAX = 16_384;
    /** Executed blocks whose client replies wait for the reply thread before the core answers them itself. */
    static final int REPLY_BLOCKS_QUEUED_MAX = 64;
    /**
     * Batch bounds. They also bound the largest consensus message (a NEW-VIEW carries 2f+1
     * VIEW-CHANGEs, each with up to L prepared batches), and the gRPC server's inbound limit must
     * admit that message, so smaller batches keep the limit every client is held to small.
     */
    static final int BATCH_COUNT_MAX = 256;
    static final int BATCH_BYTES_MAX = 64 * 1024;
    /**
     * How long a backup waits for the oldest request it holds to execute before it starts a view
     * change. The timer belongs to that request: executions of other requests do not restart it,
     * so a primary that keeps ordering others cannot censor one
     * (CensorshipTest#aPrimaryOrderingOtherRequestsUnderLoadStillCannotCensorOne). pbft's default,
     * 200 ticks, is 10 s at 50 ms ticks, so commits would resume 10 s after the primary dies; 1.5 s
     * plus the view change itself keeps that outage near 2 s. Both timeouts double on consecutive
     * failed view changes until a request executes.
     */
    static final int REQUEST_TIMEOUT_MILLIS = 1_500;
    static final int VIEW_CHANGE_TIMEOUT_MILLIS = 3_000;
    static final int TIMEOUT_DOUBLINGS_MAX = 6;
    /** Upper bound on the inbound gRPC message limit whatever the config says. */
    static final int GRPC_MESSAGE_BYTES_CAP = 64 << 20;

    private final NodeConfig config;
    private final ChainGenesis genesis;
    private final BlockStore store;
    /** The validator set this node's core runs under, and its index there. */
    private final Epoch epoch;
    private final int self;
    /** Completed when the store reaches the last height of this node's epoch: the node must restart under the next set. */
    private final java.util.concurrent.CompletableFuture<Long> epochOver = new java.util.concurrent.CompletableFuture<>();
    private final ConsensusWal wal;
    private final SigningMark mark;
    private final EvidenceStore evidence;
    private final NodeMetrics metrics;
    private final CoreLoop core;
    private final PeerNetwork peers;
    private final CatchUp catchUp;
    private final ClientApiService api;
    private final bftledger.node.backup.AdminService admin;
    /** Peer messages waiting for the verifiers; bounded by {@code tuning.inbound.queue.max}. */
    private final BlockingQueue<Inbound> inbound;
    private final List<Thread> verifiers = new ArrayList<>();
    /**
     * Most messages a verifier takes off the queue at once: their signatures are checked as one
     * batch. Under load a few arrive together (a block's PREPAREs and COMMITs); the bound keeps
     * a PRE-PREPARE from waiting behind many others.
     */
    static final int VERIFY_GROUP_MAX = 32;

    private record Inbound(int from, byte[] bytes) {}

    /** Set when a verifier thread died on an internal error; the node exits on it, as on a core failure. */
    private volatile Throwable verifierFailure;
    private final ScheduledExecutorService timers;
    private final ExecutorService grpcExecutor;
    private final ExecutorService streamPump;
    private final ThreadPoolExecutor replies;
    private final HealthStatusManager health = new HealthStatusManager();
    private final bftledger.node.edge.PeerLiveness liveness;
    private final bftledger.node.edge.Bulkheads bulkheads;
    private final bftledger.node.edge.ConnectionGate connectionGate;
    /** The validators' "host:port" addresses, as genesis names them. */
    private final List<String> validatorHostPorts;
    /** The validators' IP addresses, never refused by {@link #connectionGate}; resolved again every {@link #VALIDATOR_RESOLVE_MILLIS}. */
    private volatile java.util.Set<java.net.InetAddress> validatorAddresses;
    private final bftledger.node.edge.PeerPinger pinger;
    /** Null unless the config prunes (prune.keep.blocks). */
    private final Pruner pruner;
    /** Null unless the config takes state snapshots (snapshot.interval.blocks). */
    private final Snapshotter snapshotter;
    private Server server;
    /** An adversary's hold on what this node answers clients (null on an honest node). */
    private io.grpc.ServerInterceptor clientAnswers;
    /** Plaintext gRPC health only (health.port), for probes that cannot speak TLS; null when off. */
    private Server healthServer;
    private final NetworkTls tls;
    private int metricsPort;
    private java.nio.channels.FileChannel dataDirLock;
    /** The inbound gRPC limit: the largest consensus message plus framing. */
    private final int messageBytesMax;

    private ReplicaNode(NodeConfig config, ChainGenesis genesis, KeyPair key, BlockStore store, Epoch epoch,
                        OutboundInterceptor.Factory interceptors, NetworkTls tls) throws ConfigException {
        this.config = config;
        this.tls = tls;
        this.genesis = genesis;
        this.store = store;
        this.epoch = epoch;
        int self = epoch.self();
        this.self = self;
        NodeConfig.Tuning tuning = config.tuning();
        List<PublicKey> validators = epoch.set().keys();
        Config pbft = Config.of(validators, self, key)
                .withStart(epoch.startSequence(), epoch.startView(), epoch.startDigest())
                .withBatching(BATCH_COUNT_MAX, BATCH_BYTES_MAX, tuning.transactionBytesMax(), tuning.pipelineDepthMax())
                .withTimeouts(ticks(REQUEST_TIMEOUT_MILLIS, tuning.tickMillis()),
                        ticks(VIEW_CHANGE_TIMEOUT_MILLIS, tuning.tickMillis()), TIMEOUT_DOUBLINGS_MAX)
                .withPrimarySilence(ticks(PRIMARY_SILENCE_MILLIS, tuning.tickMillis()))
                .withAnchorIdle(ticks(ANCHOR_IDLE_MILLIS, tuning.tickMillis()));
        this.metrics = new NodeMetrics(self);
        // The WAL only as the signing mark vouches for it: see SigningRecovery.
        SigningRecovery.Started started = SigningRecovery.start(config.dataDir().resolve("wal"), config.signingMarkFile(),
                new PersistCodec(decodingLimits(pbft, store)), tuning.mapSizeBytes(),
                // A node that just followed the chain into its first set never signed anything.
                epoch.joined() ? 0 : store.height(),
                config.rejoinNonVoting(),
                pbft.watermarkWindow());
        this.wal = started.wal();
        this.mark = started.mark();
        this.evidence = openEvidence(config.dataDir().resolve("evidence"), decodingLimits(pbft, store));
        this.admin = new bftledger.node.backup.AdminService(bftledger.node.backup.AdminToken.create(config.dataDir()),
                tls.plaintext(), store, evidence, new bftledger.node.backup.NodeBackup.Source(genesis, self,
                        key.publicKey(), "hot"));
        List<PersistRecord> records = started.records();
        // The ledger's transaction index is the core's at-most-once port: after a stable checkpoint
        // (or a state transfer) the core has forgotten old ids, and a client's retry of one must
        // not be ordered again nor keep a request timer running.
        BlockHashes hashes = new BlockHashes(store);
        Replica replica = Replica.restore(pbft, store::containsTransaction, hashes, records, store.height(), started.floor());
        log.info("event=restored replica={} height={} wal-records={} view={} signing-floor-view={} signing-floor-sequence={}",
                self, store.height(), records.size(), replica.view(), started.floor().view(),
                started.floor().sequence());
        VerifiedTransactions transactions = new VerifiedTransactions(genesis.chainId(), VERIFIED_CACHE_MAX);
        ScheduledThreadPoolExecutor timerPool = timerExecutor();
        this.timers = timerPool;
        metrics.queueDepth("timers", () -> timerPool.getQueue().size());
        this.streamPump = Executors.newSingleThreadExecutor(daemon("block-stream"));
        this.grpcExecutor = Executors.newFixedThreadPool(GRPC_THREADS, daemon("grpc"));
        // Edges: failure detector, admission limits and per-lane executors (see bftledger.node.edge).
        this.liveness = new bftledger.node.edge.PeerLiveness(self, epoch.set().n(),
                TimeUnit.MILLISECONDS.toNanos(PEER_SILENCE_MILLIS), System::nanoTime);
        bftledger.node.edge.AdmissionLimits limits = bftledger.node.edge.AdmissionLimits.defaults(epoch.set().n(),
                tuning.pendingTransactionsMax());
        this.validatorHostPorts = epoch.set().addresses();
        this.validatorAddresses = bftledger.node.edge.ConnectionGate.resolve(validatorHostPorts, java.util.Set.of());
        this.connectionGate = new bftledger.node.edge.ConnectionGate(this::badSignatureWaitMillis,
                () -> validatorAddresses, (reason, count) -> metrics.shed("connection", reason, count), GRPC_IO_THREADS);
        this.bulkheads = new bftledger.node.edge.Bulkheads(limits, System::nanoTime,
                (lane, reason) -> metrics.shed(lane.name().toLowerCase(), reason), connectionGate::closeConnections);
        this.api = new ClientApiService(self, epoch.set().validators().get(self).getName(), genesis, key, store, transactions, metrics, timers, streamPump,
                tuning.transactionBytesMax(), tuning.pendingTransactionsMax(), tuning.submitWaitMaxMillis(), liveness, limits,
                bulkheads::badSignatures);
        this.catchUp = new CatchUp(self, epoch.set().n(), store, liveness::lastHeardAgeMillis);
        store.onDamage(catchUp::repair);
        metrics.gauge("bftledger_damaged_blocks", "stored blocks found damaged and not yet repaired (never served)",
                "replica", Integer.toString(self), () -> store.damagedHeights().size());
        metrics.counter("bftledger_block_repairs", "damaged blocks replaced by a certified copy from a peer", catchUp,
                CatchUp::repaired);
        metrics.counter("bftledger_block_repairs_failed", "repair attempts no peer's copy passed", catchUp,
                CatchUp::repairsFailed);
        // Kept snapshots are served even when taking new ones is off.
        StateSnapshots snapshots = openSnapshots(config.dataDir().resolve("snapshots"), config.stateSync().snapshotsKept());
        this.snapshotter = config.stateSync().snapshotIntervalBlocks() > 0
                ? new Snapshotter(self, store, snapshots, config.stateSync().snapshotIntervalBlocks(), metrics) : null;
        java.util.function.LongSupplier oldestSnapshot = snapshotter == null ? () -> Long.MAX_VALUE
                : () -> snapshots.heights().stream().mapToLong(Long::longValue).min().orElse(Long.MAX_VALUE);
        this.pruner = config.pruneKeepBlocks() > 0
                ? new Pruner(self, store, config.pruneKeepBlocks(), oldestSnapshot, metrics) : null;
        // Answering a block's waiters signs one reply per transaction: done on its own thread, in
        // block order, so the core thread goes on ordering the next batches meanwhile. At a full
        // queue the core thread answers itself (back-pressure, nothing dropped).
        this.replies = new ThreadPoolExecutor(1, 1, 0, TimeUnit.MILLISECONDS, new ArrayBlockingQueue<>(REPLY_BLOCKS_QUEUED_MAX),
                daemon("replies"), new ThreadPoolExecutor.CallerRunsPolicy());
        metrics.queueDepth("replies", () -> replies.getQueue().size());
        io.micrometer.core.instrument.Timer replied = metrics.stageTimer("replies");
        this.core = new CoreLoop(replica, hashes, wal, mark, store, transactions, metrics, tuning.inboundQueueMax(),
                block -> {
                    long durable = System.nanoTime();
                    replies.execute(() -> {
                        api.onBlock(block);
                        replied.record(System.nanoTime() - durable, TimeUnit.NANOSECONDS);
                    });
                },
                catchUp::request, evidence);
        core.epoch(epoch.end(), end -> {
            if (epochOver.complete(end)) {
                log.info("event=epoch-over replica={} epoch={} last-height={} the node restarts under the next validator set",
                        self, epoch.set().epoch(), end);
            }
        });
        OutboundInterceptor interceptor = interceptors.create(pbft, tuning.tickMillis());
        if (interceptor != OutboundInterceptor.IDENTITY) {
            log.warn("event=outbound-intercepted replica={} interceptor={}", self, interceptor);
            core.intercept(interceptor, timers);
        }
        // Verification happens here, off the core thread; at a full pool queue the message is dropped and counted.
        MessageVerifier verifier = new MessageVerifier(pbft, transactions);
        metrics.counter("bftledger_transaction_verifications", "client transaction signatures verified (cache misses; ideally one per transaction)",
                transactions, VerifiedTransactions::verifications);
        metrics.counter("bftledger_signature_batches_passed", "client signature batches verified as one equation",
                SignatureBatchReadings.INSTANCE, r -> bftledger.crypto.SignatureBatch.batchesPassed());
        metrics.counter("bftledger_signature_batches_failed",
                "client signature batches whose equation failed, so they were halved to find the invalid signatures (a forged or broken one was in it)",
                SignatureBatchReadings.INSTANCE, r -> bftledger.crypto.SignatureBatch.batchesFailed());
        metrics.counter("bftledger_signature_split_equations", "equations checked on halves, quarters, ... of failed signature batches",
                SignatureBatchReadings.INSTANCE, r -> bftledger.crypto.SignatureBatch.splitEquations());
        this.inbound = new ArrayBlockingQueue<>(tuning.inboundQueueMax());
        java.util.concurrent.ThreadFactory verifyThreads = daemon("verify");
        for (int i = 0; i < tuning.verifyThreads(); i++) {
            verifiers.add(verifyThreads.newThread(() -> verifyLoop(verifier)));
        }
        metrics.queueDepth("verify", inbound::size);
        this.messageBytesMax = (int) Math.min(GRPC_MESSAGE_BYTES_CAP,
                Math.max(tuning.messageBytesMax(), pbft.messageBytesMax() + 1024));
        this.peers = new PeerNetwork(self, validators, validatorHostPorts, genesis.hash(), key, tls.peerCredentials(),
                new PeerNetwork.Limits(tuning.peerQueueMax(), messageBytesMax - 1024),
                (from, bytes) -> {
                    liveness.onHeard(from);
                    verify(verifier, from, bytes);
                }, new StoreBlockSource(store, snapshots), metrics);
        this.pinger = new bftledger.node.edge.PeerPinger(self, epoch.set().n(), liveness, peers::channel,
                PEER_PING_TIMEOUT_MILLIS);
        bftledger.node.edge.EdgeMetrics.register(metrics, self, epoch.set().n(), liveness, bulkheads);
        api.attach(core, peers);
        catchUp.attach(core, peers);
    }

    /**
     * The node's timer thread. Submit calls cancel their wait timers when answered; removed at
     * once, a cancelled timer no longer keeps the call (its replies, its observer) alive for the
     * rest of the wait. A periodic task (tick, block sync, peer pings) that throws would never
     * run again and the node would silently stop ticking or syncing: its failure is logged and
     * its next run still comes.
     */
    static ScheduledThreadPoolExecutor timerExecutor() {
        ScheduledThreadPoolExecutor pool = new ScheduledThreadPoolExecutor(1, daemon("timers")) {
            @Override
            public ScheduledFuture<?> scheduleWithFixedDelay(Runnable task, long initialDelay, long delay,
                                                                                TimeUnit unit) {
                return super.scheduleWithFixedDelay(() -> {
                    try {
                        task.run();
                    } catch (RuntimeException e) {
                        log.error("event=periodic-task-failed the task runs again after its delay", e);
                    }
                }, initialDelay, delay, unit);
            }
        };
        pool.setRemoveOnCancelPolicy(true);
        return pool;
    }

    /**
     * Evidence pairs are PRE-PREPAREs (at most a batch, {@link #BATCH_BYTES_MAX} plus per-request
     * framing), PREPAREs, COMMITs and CHECKPOINTs; the map (address space, not disk) holds the bound of pairs
     * of the largest with room to spare.
     */
    private EvidenceStore openEvidence(Path dir, Config pbft) {
        long pairMax = 2L * (BATCH_BYTES_MAX + 64L * BATCH_COUNT_MAX + 1024);
        long mapSize = 2 * CoreLoop.EVIDENCE_MAX * pairMax + (16L << 20);
        try {
            return EvidenceStore.open(dir, new bftledger.pbft.MessageCodec(pbft), CoreLoop.EVIDENCE_MAX, mapSize);
        } catch (RuntimeException e) {
            wal.close();
            mark.close();
            throw e;
        }
    }

    private void verify(MessageVerifier verifier, int from, byte[] bytes) {
        if (!inbound.offer(new Inbound(from, bytes))) {
            metrics.dropped("verify");
        }
    }

    /** A verifier thread: what is queued (up to {@link #VERIFY_GROUP_MAX}) verified together, then handed on in order. */
    private void verifyLoop(MessageVerifier verifier) {
        List<Inbound> group = new ArrayList<>(VERIFY_GROUP_MAX);
        List<byte[]> wires = new ArrayList<>(VERIFY_GROUP_MAX);
        try {
            while (!Thread.currentThread().isInterrupted()) {
                group.add(inbound.take());
                inbound.drainTo(group, VERIFY_GROUP_MAX - 1);
                for (Inbound m : group) {
                    wires.add(m.bytes());
                }
                List<Verdict<bftledger.pbft.Signed<?>>> verdicts = verifier.verifyAll(wires);
                for (int i = 0; i < group.size(); i++) {
                    handOn(group.get(i).from(), verdicts.get(i));
                }
                group.clear();
                wires.clear();
            }
        } catch (InterruptedException stopping) {
            Thread.currentThread().interrupt();
        } catch (RuntimeException | Error e) {
            // A verifier bug must not silently stop verification: the node cannot go on without it.
            log.error("event=verifier-failed the message verifier stopped on an internal error; the node will exit", e);
            verifierFailure = e;
        }
    }

    private void handOn(int from, Verdict<bftledger.pbft.Signed<?>> verdict) {
        if (verdict instanceof Verdict.Rejected<?> r) {
            metrics.rejected(r.reason().name());
            if (r.reason() == bftledger.pbft.RejectReason.BAD_SIGNATURE
                    || r.reason() == bftledger.pbft.RejectReason.SIGNER_MISMATCH) {
                liveness.onBadMessage(from);
            }
            log.debug("event=message-rejected reason={} detail={}", r.reason(), r.detail());
        } else {
            core.offerPeerMessage(new Event.PeerMessage(verdict.value()));
        }
    }

    /** The source object for the signature-batch counters, which are process-wide. */
    private enum SignatureBatchReadings { INSTANCE }

    private static StateSnapshots openSnapshots(Path dir, int kept) throws ConfigException {
        try {
            return new StateSnapshots(dir, kept);
        } catch (java.io.UncheckedIOException e) {
            throw new ConfigException("cannot open the state snapshot directory " + dir + ": " + e.getCause()
                    + ". It holds only copies of the state served to joining replicas: move it away and start again.", e);
        }
    }

    /**
     * The full start-up check of the block store: every stored block read through its integrity
     * check (the quick check at open covers the tip and the state tree); damaged ones are never
     * served and are repaired from peers' certified copies. Returns the damaged heights found.
     */
    public List<Long> verifyStoredBlocks() {
        long start = System.nanoTime();
        List<Long> damaged = store.checkAllBlocks();
        log.info("event=store-verified blocks={} damaged={} millis={}", store.height(), damaged,
                TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start));
        damaged.forEach(catchUp::repair);
        return damaged;
    }

    /** Loads everything, checks it, and starts serving. Operator-fixable problems are {@link ConfigException}s. */
    public static ReplicaNode start(NodeConfig config) throws ConfigException {
        return start(config, OutboundInterceptor.HONEST);
    }

    /**
     * As {@link #start(NodeConfig)}, with every outgoing consensus message passed through the
     * interceptor {@code interceptors} builds (an adversary process; honest nodes never call this).
     */
    public static ReplicaNode start(NodeConfig config, OutboundInterceptor.Factory interceptors) throws ConfigException {
        return start(config, interceptors, null);
    }

    /**
     * As {@link #start(NodeConfig, OutboundInterceptor.Factory)}, with the client API's answers
     * passed through {@code clientAnswers} too, and the peer service's (an adversary that lies to
     * clients and to replicas fetching state from it; null: none).
     */
    public static ReplicaNode start(NodeConfig config, OutboundInterceptor.Factory interceptors,
            io.grpc.ServerInterceptor clientAnswers) throws ConfigException {
        return start(config, interceptors, clientAnswers, false);
    }

    /**
     * As above; with {@code join}, a node whose key is not in the set in force follows the chain
     * from the validators until a set names it ({@link JoinFollower}), instead of refusing to start.
     */
    public static ReplicaNode start(NodeConfig config, OutboundInterceptor.Factory interceptors,
            io.grpc.ServerInterceptor clientAnswers, boolean join) throws ConfigException {
        ChainGenesis genesis = GenesisFile.read(config.genesisFile());
        KeyPair key = Keys.read(config.keyFile());
        NetworkTls tls = NetworkTls.forNode(config.tls(), genesis);
        boolean fresh = !java.nio.file.Files.exists(config.dataDir().resolve("ledger"));
        if (!join && fresh && !genesis.validatorKeys().contains(key.publicKey())) {
            // A node with no store yet is one of genesis's validators unless it joins: a swapped key file is caught here.
            throw wrongKey(config, genesis, key, "; a validator a change added starts with --join.");
        }
        java.nio.channels.FileChannel lock = lockDataDir(config.dataDir());
        Path ledgerDir = config.dataDir().resolve("ledger");
        if (config.stateSync().joinBySync() && !java.nio.file.Files.exists(ledgerDir)) {
            joinBySync(config, genesis, key, tls, ledgerDir);
        }
        BlockStore store;
        try {
            store = BlockStore.open(ledgerDir, genesis, config.tuning().mapSizeBytes());
        } catch (StoreCorruptedException e) {
            throw new ConfigException("the block store in " + ledgerDir + " is damaged or belongs to another network: "
                    + e.getMessage() + ". Nothing was changed. Keep a copy of the directory for investigation; then either"
                    + " restore it from a backup, or move " + config.dataDir() + " away and start the node again to"
                    + " resynchronize from its peers (every fetched block is verified). `bftledger audit --data "
                    + config.dataDir() + " --genesis " + config.genesisFile() + "` shows every problem.", e);
        }
        Epoch epoch;
        try {
            epoch = epochOf(config, genesis, store, key, tls, join, fresh);
        } catch (ConfigException | RuntimeException e) {
            store.close();
            throw e;
        }
        if (epoch.set().epoch() == 0 && epoch.self() != config.replica()) {
            store.close();
            throw wrongKey(config, genesis, key, " (this key is validator " + epoch.self() + ").");
        }
        if (epoch.self() != config.replica()) {
            log.info("event=replica-index config-replica={} epoch={} index={} the index in the set in force is used",
                    config.replica(), epoch.set().epoch(), epoch.self());
        }
        ReplicaNode node;
        try {
            node = new ReplicaNode(config, genesis, key, store, epoch, interceptors, tls);
            node.dataDirLock = lock;
            node.clientAnswers = clientAnswers;
        } catch (StoreCorruptedException | org.lmdbjava.LmdbException e) {
            store.close();
            throw new ConfigException("the evidence store (" + config.dataDir().resolve("evidence") + ") is damaged: "
                    + e.getMessage() + ". Nothing was changed. It holds only proof of other replicas' misbehaviour, nothing"
                    + " this replica signed: restore it from a backup, or keep a copy, move it away and start again (the"
                    + " proof it held is then gone from this node).", e);
        } catch (ConfigException | RuntimeException e) {
            store.close();
            throw e;
        }
        try {
            node.serve();
        } catch (ConfigException e) {
            node.close();
            throw e;
        }
        return node;
    }

    /**
     * Size bounds for reading back what earlier sets' cores wrote (the WAL, evidence): a message
     * of a larger set than this one's is larger, and must still decode after the set shrank.
     */
    private static Config decodingLimits(Config pbft, BlockStore store) {
        List<PublicKey> largest = pbft.validators();
        for (bftledger.ledger.ValidatorSets.ValidatorSet s : store.validatorSets()) {
            if (s.n() > largest.size()) {
                largest = s.keys();
            }
        }
        return largest == pbft.validators() ? pbft : Config.of(largest, 0, null)
                .withBatching(pbft.batchCountMax(), pbft.batchBytesMax(), pbft.requestBytesMax(), pbft.pipelineDepthMax());
    }

    /** A key file that is not the one genesis lists for the config's replica: swapped files. */
    private static ConfigException wrongKey(NodeConfig config, ChainGenesis genesis, KeyPair key, String more) {
        return new ConfigException("key file " + config.keyFile() + " holds public key " + key.publicKey().shortHex()
                + ", but genesis lists validator " + config.replica() + " as "
                + (config.replica() < genesis.n() ? genesis.validatorKey(config.replica()).shortHex() : "nobody")
                + ". Use this node's own key file, or the config of the node this key belongs to" + more);
    }

    /**
     * The set this node runs under; joining, it follows the chain first until one names it. A
     * joining node that started without a store and finds its set in force already (it synced
     * the state past the handover) is joined as well: its key never signed.
     */
    private static Epoch epochOf(NodeConfig config, ChainGenesis genesis, BlockStore store, KeyPair key, NetworkTls tls,
            boolean join, boolean fresh) throws ConfigException {
        java.util.Optional<Epoch> epoch = Epoch.of(genesis, store, key.publicKey());
        if (epoch.isPresent()) {
            return join && fresh && epoch.get().set().epoch() > 0 ? epoch.get().asJoined() : epoch.get();
        }
        if (!join) {
            throw new NotAValidatorException("key " + key.publicKey().shortHex() + " (" + config.keyFile() + ") is not a validator"
                    + " of the set in force at height " + (store.height() + 1) + ": "
                    + Epoch.describe(store.validatorSets(), store.height() + 1) + ". A validator that a change added starts with"
                    + " --join (it follows the chain until its set takes over); a removed one has nothing left to do.");
        }
        try (JoinFollower follower = new JoinFollower(genesis, store, key.publicKey(), tls.peerCredentials())) {
            return follower.followUntilMember().asJoined();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new ConfigException("interrupted while joining at height " + store.height(), e);
        }
    }

    /** This node's key is not in the set in force (never was, or was removed or rotated out). */
    public static final class NotAValidatorException extends ConfigException {
        NotAValidatorException(String message) {
            super(message);
        }
    }

    private void serve() throws ConfigException {
        NodeConfig.Tuning tuning = config.tuning();
        try {
            server = NettyServerBuilder.forAddress(new InetSocketAddress(config.listenHost(), config.listenPort()),
                            tls.serverCredentials())
                    .executor(grpcExecutor)
                    .channelFactory(connectionGate.channelFactory())
                    .bossEventLoopGroup(connectionGate.boss())
                    .workerEventLoopGroup(connectionGate.workers())
                    .callExecutor(bulkheads)
                    .intercept(bulkheads.interceptor())
                    .maxInboundMessageSize(messageBytesMax)
                    .maxConcurrentCallsPerConnection(1_000)
                    // Blocks streamed to a peer catching up must not wait out a retransmission
                    // backoff either (see PeerNetwork.ACCEPTED_UNACKNOWLEDGED_MAX_MILLIS).
                    .withChildOption(io.grpc.netty.shaded.io.netty.channel.epoll.EpollChannelOption.TCP_USER_TIMEOUT,
                            bftledger.node.net.PeerNetwork.ACCEPTED_UNACKNOWLEDGED_MAX_MILLIS)
                    .addService(clientAnswers == null ? io.grpc.ServerInterceptors.intercept(api)
                            : io.grpc.ServerInterceptors.intercept(api, clientAnswers))
                    .addService(clientAnswers == null ? tls.peersOnly(peers.service())
                            : io.grpc.ServerInterceptors.intercept(tls.peersOnly(peers.service()), clientAnswers))
                    .addService(admin.definition())
                    .addService(health.getHealthService())
                    .addService(ProtoReflectionServiceV1.newInstance())
                    .build().start();
        } catch (IOException e) {
            throw new ConfigException(bindProblem("gRPC", config.listenHost(), config.listenPort(), "listen.port", e), e);
        }
        if (config.healthPort() > 0) {
            try {
                healthServer = NettyServerBuilder.forAddress(new InetSocketAddress(config.listenHost(), config.healthPort()))
                        .addService(health.getHealthService()).build().start();
            } catch (IOException e) {
                throw new ConfigException(bindProblem("health", config.listenHost(), config.healthPort(), "health.port", e), e);
            }
        }
        if (config.metricsPort() > 0) {
            try {
                metricsPort = metrics.serve(config.listenHost(), config.metricsPort());
            } catch (IOException e) {
                throw new ConfigException(bindProblem("metrics", config.listenHost(), config.metricsPort(), "metrics.port", e), e);
            }
        }
        core.start(peers);
        verifiers.forEach(Thread::start);
        peers.start();
        // Fixed delay, not fixed rate: after this JVM stalls (SIGSTOP, a long collection, a starved
        // machine) the ticks it missed must not fire in a burst, which would count the stall against
        // the primary: a resumed backup's request timer would run out at once, for a request the
        // others executed meanwhile, and it would leave the view alone
        // (CrashScenariosTest#replicaPausedPastCheckpointGarbageCollectionCatchesUp).
        timers.scheduleWithFixedDelay(() -> {
            // One threshold for both verdicts: "the primary is silent" only counts while 2f others
            // are heard, so a replica cut off from everyone never blames the primary for it.
            java.util.Set<Integer> silent = new java.util.TreeSet<>();
            for (int peer = 0; peer < epoch.set().n(); peer++) {
                if (peer != self && liveness.lastHeardAgeMillis(peer) > PEER_SILENT_AFTER_MILLIS) {
                    silent.add(peer);
                }
            }
            boolean quorumHeard = epoch.set().n() - 1 - silent.size() >= liveness.peersNeeded();
            core.tick(System.currentTimeMillis(), quorumHeard, silent);
        }, tuning.tickMillis(), tuning.tickMillis(), TimeUnit.MILLISECONDS);
        catchUp.startSync(timers, SYNC_INTERVAL_MILLIS);
        // Looked up on a gRPC "other work" thread: a slow DNS answer must not hold up the one
        // timer thread, which drives the ticks.
        timers.scheduleWithFixedDelay(() -> grpcExecutor.execute(() -> validatorAddresses = bftledger.node.edge.ConnectionGate
                        .resolve(validatorHostPorts, validatorAddresses)),
                VALIDATOR_RESOLVE_MILLIS, VALIDATOR_RESOLVE_MILLIS, TimeUnit.MILLISECONDS);
        pinger.start(timers, PEER_PING_PERIOD_MILLIS);
        if (pruner != null) {
            pruner.start();
        }
        metrics.setHeight(store.height());
        health.setStatus("", HealthCheckResponse.ServingStatus.SERVING);
        log.info("event=serving replica={} address={}:{} metrics-port={} height={} tip={} inbound-message-bytes-max={} tls={}"
                        + " java={} aot-cache={}",
                self, config.listenHost(), server.getPort(), metricsPort, store.height(),
                store.tip().hash().shortHex(), messageBytesMax, tls.plaintext() ? "off" : "\"" + tls.certificate().getSubjectX500Principal() + "\"",
                Runtime.version(), aotCache());
    }

    /**
     * Builds the block store of a node that has none from its peers' state snapshots (config
     * {@code state.sync}); when no peer offers one, leaves it to be created and replayed as usual.
     */
    private static void joinBySync(NodeConfig config, ChainGenesis genesis, KeyPair key, NetworkTls tls, Path ledgerDir)
            throws ConfigException {
        List<String> addresses = genesis.genesis().getValidatorsList().stream().map(v -> v.getAddress()).toList();
        int self = genesis.validatorKeys().indexOf(key.publicKey());
        try (StateSync sync = new StateSync(self, key.publicKey(), genesis, addresses, tls.peerCredentials(),
                config.tuning().mapSizeBytes())) {
            sync.run(ledgerDir);
        } catch (java.io.IOException | RuntimeException e) {
            throw new ConfigException("state sync into " + ledgerDir + " failed: " + e + ". Nothing is left half-built;"
                    + " start the node again to retry, or set state.sync=false to replay every block from peers.", e);
        }
    }

    /**
     * LMDB lets two processes open one environment; two replicas on one data dir would both
     * write it. An exclusive lock on {@code data/LOCK}, held for the life of the process, refuses
     * the second one.
     */
    private static java.nio.channels.FileChannel lockDataDir(Path dataDir) throws ConfigException {
        try {
            java.nio.file.Files.createDirectories(dataDir);
            java.nio.channels.FileChannel channel = java.nio.channels.FileChannel.open(dataDir.resolve("LOCK"),
                    java.nio.file.StandardOpenOption.CREATE, java.nio.file.StandardOpenOption.WRITE);
            if (channel.tryLock() == null) {
                channel.close();
                throw new ConfigException("data directory " + dataDir + " is in use by another running node. Stop it first"
                        + " (each node needs its own data.dir).");
            }
            return channel;
        } catch (java.nio.channels.OverlappingFileLockException e) {
            throw new ConfigException("data directory " + dataDir + " is already open in this process.");
        } catch (IOException e) {
            throw new ConfigException("cannot use data directory " + dataDir + ": " + e.getMessage(), e);
        }
    }

    private static String bindProblem(String what, String host, int port, String key, IOException e) {
        boolean inUse = false;
        for (Throwable t = e; t != null; t = t.getCause()) {
            String m = String.valueOf(t.getMessage());
            inUse |= t instanceof BindException || m.contains("already in use") || m.contains("Failed to bind");
        }
        return inUse ? "cannot listen for " + what + " on " + host + ":" + port + ": the port is in use. Stop whatever holds"
                + " it (`ss -ltnp | grep :" + port + "`) or change " + key + " in the node config (and the address in genesis)."
                : "cannot listen for " + what + " on " + host + ":" + port + ": " + e.getMessage();
    }

    public int port() {
        return server.getPort();
    }

    public int metricsPort() {
        return metricsPort;
    }

    /** The AOT cache this JVM was started with (JDK 25+, scripts/aot-cache.sh), or "none". */
    private static String aotCache() {
        return java.lang.management.ManagementFactory.getRuntimeMXBean().getInputArguments().stream()
                .filter(a -> a.startsWith("-XX:AOTCache=")).map(a -> a.substring("-XX:AOTCache=".length()))
                .findFirst().orElse("none");
    }

    /** For the connection gate, which is made before the bulkheads that keep the budgets. */
    private long badSignatureWaitMillis(java.net.InetAddress address) {
        return bulkheads.badSignatureWaitMillis(address);
    }

    /** Non-null when the core stopped on an internal error; the process should exit non-zero. */
    public Throwable failure() {
        return core.failure() != null ? core.failure() : verifierFailure;
    }

    /** Waits until the server terminates, checking the core's health; returns the core failure if any. */
    /**
     * Waits until the server stops, the node fails (returned), or this node's validator set has
     * ordered its last height ({@link #epochOver()}: the caller closes it and starts it again).
     */
    public Throwable awaitTermination() throws InterruptedException {
        while (!server.awaitTermination(500, TimeUnit.MILLISECONDS)) {
            if (failure() != null) {
                return failure();
            }
            if (epochOver.isDone()) {
                return null;
            }
        }
        return failure();
    }

    /** Completed with the last height of this node's validator set once the store holds it. */
    public java.util.concurrent.CompletableFuture<Long> epochOver() {
        return epochOver;
    }

    /** The validator set this node runs under and its index there. */
    public Epoch epoch() {
        return epoch;
    }

    /** Takes the node down in reverse order of dependency: no new work, then core, then storage. */
    @Override
    public synchronized void close() {
        long height = store.height();
        health.enterTerminalState();
        if (server != null) {
            server.shutdown();
        }
        if (healthServer != null) {
            healthServer.shutdownNow();
        }
        pinger.close();
        timers.shutdownNow();
        peers.close();
        verifiers.forEach(Thread::interrupt);
        core.close();
        catchUp.close();
        if (pruner != null) {
            pruner.close();
        }
        if (snapshotter != null) {
            snapshotter.close();
        }
        streamPump.shutdownNow();
        replies.shutdownNow();
        if (server != null) {
            try {
                server.awaitTermination(3, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            server.shutdownNow();
        }
        grpcExecutor.shutdownNow();
        connectionGate.close();
        bulkheads.close();
        metrics.close();
        // A running backup reads the stores: it finishes before they close.
        admin.close();
        wal.close();
        mark.close();
        evidence.close();
        store.close();
        try {
            if (dataDirLock != null) {
                dataDirLock.close();
            }
        } catch (IOException e) {
            log.warn("event=unlock-failed error={}", e.toString());
        }
        log.info("event=stopped replica={} height={}", config.replica(), height);
    }

    private static int ticks(int millis, int tickMillis) {
        return Math.max(2, millis / Math.max(1, tickMillis));
    }

    private static java.util.concurrent.ThreadFactory daemon(String name) {
        java.util.concurrent.atomic.AtomicInteger count = new java.util.concurrent.atomic.AtomicInteger();
        return r -> {
            Thread t = new Thread(r, name + "-" + count.incrementAndGet());
            t.setDaemon(true);
            return t;
        };
    }
}
