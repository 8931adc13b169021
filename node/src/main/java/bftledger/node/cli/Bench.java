package bftledger.node.cli;

import bftledger.crypto.KeyPair;
import bftledger.crypto.SignatureBenchmark;
import bftledger.ledger.proto.PutRecord;
import bftledger.ledger.proto.Receipt;
import bftledger.ledger.proto.SignedTransaction;
import bftledger.ledger.proto.Transfer;
import bftledger.ledger.proto.TransactionBody;
import bftledger.node.config.GenesisFile;
import bftledger.node.config.Keys;
import bftledger.sdk.Committed;
import bftledger.sdk.LedgerClient;
import bftledger.sdk.LedgerClientException;
import bftledger.sdk.Network;
import bftledger.sdk.TransactionFactory;
import com.google.protobuf.ByteString;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalInt;
import java.util.SplittableRandom;
import java.util.TreeMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.stream.Stream;
import org.HdrHistogram.ConcurrentHistogram;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * A closed-loop load generator on the SDK: {@code --clients} logical clients each keep exactly
 * one transaction in flight; a client builds and signs its next transaction (like a real one,
 * on a small signer pool so signing on one thread does not cap the generator) as soon as the
 * previous one is proven committed (f+1 matching signed replies, checked by {@link LedgerClient}).
 *
 * <p>Throughput counts transactions proven committed between the end of the warm-up and the
 * end of the run; latency is submit-to-proof of those. The per-second commit timeline and the
 * longest gap between two commits are reported so faults (a killed primary) can be measured.
 */
@Command(name = "bench", mixinStandardHelpOptions = true,
        description = "Closed-loop load: signed transactions from --clients concurrent clients; prints committed tx/s,"
                + " latency p50/p95/p99/max and errors.")
final class Bench implements java.util.concurrent.Callable<Integer> {
    /** Signer threads by default: one is enough for ~20k signatures/s, above what 2 cores commit. */
    static final int SIGNERS_DEFAULT = 1;
    static final int RECORD_VALUE_BYTES = 64;
    /** Latency percentiles are exact to 3 significant digits (within 0.1%), HdrHistogram's usual setting. */
    static final int LATENCY_SIGNIFICANT_DIGITS = 3;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;
    @Mixin
    JsonOption json;
    @Option(names = "--network", defaultValue = "localnet",
            description = "The network directory made by `bftledger init` (its genesis.bin and accounts/*.key), or a"
                    + " genesis file (then give --accounts) (default: ${DEFAULT-VALUE}).")
    Path network;
    @Mixin
    ClientTransportOptions transport;
    @Option(names = "--accounts", description = "Directory of funded account key files (default: <network dir>/accounts).")
    Path accounts;
    @Option(names = "--clients", defaultValue = "32", description = "Concurrent closed-loop clients (default: ${DEFAULT-VALUE}).")
    int clients;
    @Option(names = "--duration", defaultValue = "30s", description = "Measured time after warm-up (default: ${DEFAULT-VALUE}).")
    String duration;
    @Option(names = "--warmup", defaultValue = "5s", description = "Load before measuring starts (default: ${DEFAULT-VALUE}).")
    String warmup;
    @Option(names = "--mix", defaultValue = "transfer", description = "transfer, put or mixed (default: ${DEFAULT-VALUE}).")
    String mix;
    @Option(names = "--timeout", defaultValue = "20s", description = "Per-transaction deadline (default: ${DEFAULT-VALUE}).")
    String timeout;
    @Option(names = "--signers", defaultValue = "" + SIGNERS_DEFAULT, description = "Signing threads (default: ${DEFAULT-VALUE}).")
    int signers;
    @Option(names = "--seed", defaultValue = "0",
            description = "Seed of the generated transactions (nonces, amounts, recipients); 0 picks a fresh one. A run with"
                    + " a seed used before against the same network replays transactions it already committed (default: ${DEFAULT-VALUE}).")
    long seed;
    @Option(names = "--calls-in-flight", defaultValue = "0",
            description = "SubmitTransactions calls the SDK keeps out per replica; 0 for the SDK default (default: ${DEFAULT-VALUE}).")
    int callsInFlight;
    @Option(names = "--rate", defaultValue = "0",
            description = "Cap on submissions per second across all clients, 0 for none (default: ${DEFAULT-VALUE}).")
    double rate;
    @Option(names = "--cpu-pids", split = ",",
            description = "Node process ids whose CPU time (from /proc) over the measured window is reported per"
                    + " committed transaction, with this process's own; a figure that, unlike tx/s, hardly depends on"
                    + " what else shares the cores.")
    List<Long> cpuPids = new ArrayList<>();
    @Option(names = "--ceiling-seconds", defaultValue = "0",
            description = "First measure Ed25519 verifications/s on all cores for this long and report the ceiling"
                    + " (verifications/s divided by the replicas); 0 skips it (default: ${DEFAULT-VALUE}).")
    int ceilingSeconds;
    @Option(names = "--forged-rate", defaultValue = "0",
            description = "Also submit this many transactions per second whose signature is another body's valid one"
                    + " (an attacker spoiling signature batches), from start to end; never counted as committed"
                    + " (default: ${DEFAULT-VALUE}).")
    double forgedRate;
    @Option(names = "--forged-in-honest-calls",
            description = "Send the forged transactions in the honest clients' own SubmitTransactions calls (as a gateway"
                    + " batching many users' transactions would) rather than from a client of their own, as an attacker does.")
    boolean forgedInHonestCalls;
    @Option(names = "--forged-source", defaultValue = "127.0.0.2",
            description = "The local address the forger's own connections leave from: an attacker's address apart from"
                    + " the honest clients', as replicas budget bad signatures per address (default: ${DEFAULT-VALUE},"
                    + " for a network on loopback).")
    String forgedSource;
    private java.net.InetAddress forgedSourceAddress;
    /** The nodes' own per-stage timers, read at both ends of the window (empty without metrics ports). */
    private CoreStageProfile stageProfile;
    static final List<String> CORE_STAGES = List.of("order", "execute", "replies", "wal", "steps");

    private enum Mix { TRANSFER, PUT, MIXED }

    @Override
    public Integer call() throws Exception {
        Mix kind;
        try {
            kind = Mix.valueOf(mix.toUpperCase(java.util.Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new UserError("--mix must be transfer, put or mixed; got '" + mix + "'.");
        }
        if (forgedRate < 0) {
            throw new UserError("--forged-rate must be 0 or more.");
        }
        try {
            forgedSourceAddress = java.net.InetAddress.getByName(forgedSource);
        } catch (java.net.UnknownHostException e) {
            throw new UserError("--forged-source " + forgedSource + " is not an address: " + e.getMessage());
        }
        if (clients < 1 || signers < 1) {
            throw new UserError("--clients and --signers must be at least 1.");
        }
        Duration measure = Arguments.duration(duration);
        Duration warm = Arguments.duration(warmup);
        Duration txTimeout = Arguments.duration(timeout);
        Path genesisFile = Files.isDirectory(network) ? network.resolve("genesis.bin") : network;
        Path accountDir = accounts != null ? accounts
                : (Files.isDirectory(network) ? network : network.toAbsolutePath().getParent()).resolve("accounts");
        Network net = transport.apply(Network.fromGenesisBytes(GenesisFile.read(genesisFile).bytes()));
        List<KeyPair> keys = readAccounts(accountDir);

        if (seed == 0) {
            // Fresh transactions every run: a fixed default would replay the previous run's ids,
            // which replicas answer from their stores without ordering anything.
            seed = new java.security.SecureRandom().nextLong() | 1;
        }
        Map<String, Object> result = new LinkedHashMap<>();
        result.put("seed", seed);
        result.put("nodes", net.n());
        result.put("tls", net.tls());
        result.put("clients", clients);
        result.put("mix", kind.name().toLowerCase(java.util.Locale.ROOT));
        if (ceilingSeconds > 0) {
            int cores = Runtime.getRuntime().availableProcessors();
            SignatureBenchmark.verificationsPerSecond(1, Duration.ofMillis(500)); // JIT warm-up
            long cpuBefore = processCpuNanos();
            double verifications = SignatureBenchmark.verificationsPerSecond(cores, Duration.ofSeconds(ceilingSeconds));
            long cpu = processCpuNanos() - cpuBefore;
            // CPU time per verification does not depend on how many other processes share the cores,
            // unlike verifications/s: it lets runs on a busy machine be compared.
            result.put("ceiling_cpu_us_per_verification", round(cpu / 1e3 / (verifications * ceilingSeconds)));
            result.put("cores", cores);
            result.put("ceiling_verifications_per_second", Math.round(verifications));
            result.put("ceiling_tx_per_second", Math.round(verifications / net.n()));
            // Not part of the ceiling (defined by one-at-a-time verification): what the nodes' batches get.
            SignatureBenchmark.batchVerificationsPerSecond(1, Duration.ofMillis(500)); // JIT warm-up
            result.put("batch_verifications_per_second",
                    Math.round(SignatureBenchmark.batchVerificationsPerSecond(cores, Duration.ofSeconds(ceilingSeconds))));
        }
        bftledger.sdk.ClientOptions options = bftledger.sdk.ClientOptions.defaults();
        if (callsInFlight > 0) {
            options = options.withBatching(options.batchTransactionsMax(), callsInFlight);
        }
        stageProfile = Files.isDirectory(network) ? CoreStageProfile.of(network, net.n()) : null;
        try (LedgerClient client = LedgerClient.connect(net, options)) {
            long cpuBefore = processCpuNanos();
            Run run = new Run(client, options, net, keys, kind, txTimeout, warm, measure);
            run.go();
            result.putAll(run.summary());
            result.put("generator_cpu_seconds", round((processCpuNanos() - cpuBefore) / 1e9));
        }
        print(result);
        return 0;
    }

    private static List<KeyPair> readAccounts(Path dir) throws UserError, bftledger.node.config.ConfigException {
        List<Path> files;
        try (Stream<Path> s = Files.list(dir)) {
            files = s.filter(p -> p.getFileName().toString().endsWith(".key")).sorted().toList();
        } catch (IOException e) {
            throw new UserError("cannot list funded account keys in " + dir + ": " + e.getMessage()
                    + ". Point --network at a directory made by `bftledger init`, or give --accounts.");
        }
        if (files.size() < 2) {
            throw new UserError(dir + " holds " + files.size() + " account key files; transfers need at least 2"
                    + " (`bftledger init --accounts N`).");
        }
        List<KeyPair> keys = new ArrayList<>();
        for (Path f : files) {
            keys.add(Keys.read(f));
        }
        return keys;
    }

    /** One benchmark run: the clients, the clock and what was measured. */
    private final class Run {
        final LedgerClient client;
        final Network net;
        final List<KeyPair> keys;
        final Mix kind;
        final Duration txTimeout;
        final long startNanos = System.nanoTime();
        final long measureFromNanos;
        final long endNanos;
        final ExecutorService signerPool;
        final AtomicLongArray perSecond;
        /** Submit-to-proof latency of the measured commits, in nanoseconds. */
        final ConcurrentHistogram latencies = new ConcurrentHistogram(LATENCY_SIGNIFICANT_DIGITS);
        final Map<String, AtomicInteger> errors = new TreeMap<>();
        final AtomicInteger failedReceipts = new AtomicInteger();
        final AtomicInteger inFlight = new AtomicInteger();
        final CountDownLatch allStopped;
        final RateGate gate;
        final Forger forger;
        /** Commit completion times (ns since start) in the measured window, for the longest gap. */
        long lastCommitNanos = -1;
        long longestGapNanos;
        long longestGapEndsNanos;
        /** Lowest and highest block height among commits in the measured window (block size = tx / blocks). */
        long lowestHeight = Long.MAX_VALUE;
        long highestHeight = -1;

        Run(LedgerClient client, bftledger.sdk.ClientOptions options, Network net, List<KeyPair> keys, Mix kind,
            Duration txTimeout, Duration warm, Duration measure) {
            this.client = client;
            this.net = net;
            this.keys = keys;
            this.kind = kind;
            this.txTimeout = txTimeout;
            this.measureFromNanos = startNanos + warm.toNanos();
            this.endNanos = measureFromNanos + measure.toNanos();
            this.perSecond = new AtomicLongArray((int) ((endNanos - startNanos) / 1_000_000_000L) + 2);
            this.signerPool = Executors.newFixedThreadPool(signers, r -> {
                Thread t = new Thread(r, "bench-signer");
                t.setDaemon(true);
                return t;
            });
            this.allStopped = new CountDownLatch(clients);
            this.gate = rate > 0 ? new RateGate(rate, startNanos) : null;
            this.forger = forgedRate > 0 ? new Forger(this) : null;
        }

        long nodeCpuAtStart;
        long nodeCpuAtEnd;
        Map<String, Long> nodeThreadsAtStart = Map.of();
        Map<String, Long> nodeThreadsAtEnd = Map.of();
        /** Node processes alive at both ends of the window: only their CPU is compared. */
        List<Long> nodesCounted = List.of();
        Map<String, Long> ownThreadsAtStart = Map.of();
        Map<String, Long> ownThreadsAtEnd = Map.of();
        long ownCpuAtStart;
        long ownCpuAtEnd;
        /** Per node, the core thread's milliseconds per block by stage over the window; null when not read. */
        Map<String, Object> coreStages;

        private Map<Integer, CoreStageProfile.Reading> readStages() {
            return stageProfile == null || stageProfile.isEmpty() ? Map.of() : stageProfile.read();
        }

        void go() throws InterruptedException {
            for (int c = 0; c < clients; c++) {
                int id = c;
                SplittableRandom random = new SplittableRandom(seed * 31 + c);
                signerPool.execute(() -> next(id, random, 0));
            }
            if (forger != null) {
                forger.start();
            }
            sleepUntil(measureFromNanos);
            Map<Long, Long> nodeTicksAtStart = nodeCpuTicks();
            ownCpuAtStart = processCpuNanos();
            Map<Long, Map<String, Long>> nodeThreadsByPidAtStart = new LinkedHashMap<>();
            for (long pid : cpuPids) {
                nodeThreadsByPidAtStart.put(pid, threadCpuTicks(List.of(pid)));
            }
            ownThreadsAtStart = threadCpuTicks(List.of(ProcessHandle.current().pid()));
            Map<Integer, CoreStageProfile.Reading> stagesAtStart = readStages();
            sleepUntil(endNanos);
            Map<Integer, CoreStageProfile.Reading> stagesAtEnd = readStages();
            if (!stagesAtEnd.isEmpty()) {
                coreStages = CoreStageProfile.perBlock(stagesAtStart, stagesAtEnd, CORE_STAGES);
            }
            Map<Long, Long> nodeTicksAtEnd = nodeCpuTicks();
            ownCpuAtEnd = processCpuNanos();
            // A node killed during the window (the kill-primary fault) took its CPU counters with
            // it: compare only nodes alive at both ends, and say how many those were.
            nodesCounted = cpuPids.stream().filter(p -> nodeTicksAtStart.containsKey(p) && nodeTicksAtEnd.containsKey(p)).toList();
            nodeCpuAtStart = nodesCounted.stream().mapToLong(nodeTicksAtStart::get).sum() * 10_000_000L;
            nodeCpuAtEnd = nodesCounted.stream().mapToLong(nodeTicksAtEnd::get).sum() * 10_000_000L;
            Map<String, Long> threadsAtStart = new java.util.TreeMap<>();
            for (long pid : nodesCounted) {
                nodeThreadsByPidAtStart.get(pid).forEach((family, t) -> threadsAtStart.merge(family, t, Long::sum));
            }
            nodeThreadsAtStart = threadsAtStart;
            nodeThreadsAtEnd = threadCpuTicks(nodesCounted);
            ownThreadsAtEnd = threadCpuTicks(List.of(ProcessHandle.current().pid()));
            long waitNanos = endNanos - System.nanoTime() + txTimeout.toNanos() + TimeUnit.SECONDS.toNanos(5);
            allStopped.await(Math.max(0, waitNanos), TimeUnit.NANOSECONDS);
            if (forger != null) {
                forger.join(txTimeout);
            }
            signerPool.shutdownNow();
        }

        /** Builds, signs and submits client {@code id}'s next transaction, unless the run is over. */
        void next(int id, SplittableRandom random, long sequence) {
            if (System.nanoTime() >= endNanos) {
                allStopped.countDown();
                return;
            }
            if (gate != null) {
                long delayNanos = gate.reserve();
                if (delayNanos > 0) {
                    // A paced run: sleep off the signer thread would be nicer, but the pace is low by definition.
                    java.util.concurrent.locks.LockSupport.parkNanos(delayNanos);
                }
            }
            SignedTransaction tx = build(id, random, sequence);
            long sent = System.nanoTime();
            inFlight.incrementAndGet();
            client.submitAsync(tx, txTimeout).whenComplete((committed, error) -> {
                long done = System.nanoTime();
                inFlight.decrementAndGet();
                record(sent, done, committed, error);
                signerPool.execute(() -> next(id, random, sequence + 1));
            });
        }

        SignedTransaction build(int id, SplittableRandom random, long sequence) {
            KeyPair sender = keys.get(id % keys.size());
            long nonce = random.nextLong() & Long.MAX_VALUE;
            TransactionBody.Builder body = TransactionBody.newBuilder().setChainId(net.chainId())
                    .setSender(ByteString.copyFrom(sender.publicKey().bytes())).setNonce(nonce);
            boolean put = kind == Mix.PUT || (kind == Mix.MIXED && (sequence & 1) == 1);
            if (put) {
                byte[] value = new byte[RECORD_VALUE_BYTES];
                random.nextBytes(value);
                body.setPutRecord(PutRecord.newBuilder().setKey("bench/" + id + "/" + (sequence % 1024))
                        .setValue(ByteString.copyFrom(value)));
            } else {
                KeyPair to = keys.get((id + 1) % keys.size());
                body.setTransfer(Transfer.newBuilder().setTo(ByteString.copyFrom(to.publicKey().bytes())).setAmount(1));
            }
            return TransactionFactory.sign(sender, body);
        }

        void record(long sent, long done, Committed committed, Throwable error) {
            int second = (int) ((done - startNanos) / 1_000_000_000L);
            boolean measured = done >= measureFromNanos && done < endNanos;
            if (error != null) {
                Throwable cause = error instanceof java.util.concurrent.CompletionException && error.getCause() != null
                        ? error.getCause() : error;
                String key = cause instanceof LedgerClientException l ? l.kind().name() : cause.getClass().getSimpleName();
                if (measured) {
                    synchronized (errors) {
                        errors.computeIfAbsent(key, k -> new AtomicInteger()).incrementAndGet();
                    }
                }
                return;
            }
            if (second < perSecond.length()) {
                perSecond.incrementAndGet(second);
            }
            if (!measured) {
                return;
            }
            if (committed.receipt().getStatus() != Receipt.Status.SUCCESS) {
                failedReceipts.incrementAndGet();
            }
            latencies.recordValue(done - sent);
            synchronized (this) {
                long at = done - startNanos;
                long from = lastCommitNanos < 0 ? measureFromNanos - startNanos : lastCommitNanos;
                if (at - from > longestGapNanos) {
                    longestGapNanos = at - from;
                    longestGapEndsNanos = at;
                }
                lastCommitNanos = Math.max(lastCommitNanos, at);
                lowestHeight = Math.min(lowestHeight, committed.height());
                highestHeight = Math.max(highestHeight, committed.height());
            }
        }

        Map<String, Object> summary() {
            Map<String, Object> m = new LinkedHashMap<>();
            double seconds = (endNanos - measureFromNanos) / 1e9;
            long committed = latencies.getTotalCount();
            m.put("duration_seconds", round(seconds));
            m.put("committed", committed);
            m.put("tx_per_second", round(committed / seconds));
            synchronized (this) {
                // Every block in the window carries the bench's transactions only (its own network).
                long blocks = highestHeight < 0 ? 0 : highestHeight - lowestHeight + 1;
                m.put("blocks", blocks);
                m.put("tx_per_block", blocks == 0 ? 0 : round((double) committed / blocks));
            }
            m.put("latency_ms", CommandOutput.fields("p50", ms(latencies.getValueAtPercentile(50)),
                    "p95", ms(latencies.getValueAtPercentile(95)), "p99", ms(latencies.getValueAtPercentile(99)),
                    "max", ms(latencies.getMaxValue())));
            Map<String, Object> errs = new TreeMap<>();
            int errorCount = 0;
            synchronized (errors) {
                for (Map.Entry<String, AtomicInteger> e : errors.entrySet()) {
                    errs.put(e.getKey(), e.getValue().get());
                    errorCount += e.getValue().get();
                }
            }
            m.put("errors", errorCount);
            m.put("errors_by_kind", errs);
            m.put("failed_receipts", failedReceipts.get());
            m.put("in_flight_at_end", inFlight.get());
            synchronized (this) {
                // A gap still open at the end counts too (commits never resumed).
                long end = endNanos - startNanos;
                long open = lastCommitNanos < 0 ? end - (measureFromNanos - startNanos) : end - lastCommitNanos;
                long gap = Math.max(longestGapNanos, open);
                m.put("longest_commit_gap_ms", ms(gap));
                m.put("longest_commit_gap_ends_at_second", round((gap == longestGapNanos ? longestGapEndsNanos : end) / 1e9));
            }
            List<Long> timeline = new ArrayList<>();
            int last = (int) ((endNanos - startNanos) / 1_000_000_000L);
            for (int s = 0; s < Math.min(last, perSecond.length()); s++) {
                timeline.add(perSecond.get(s));
            }
            if (committed > 0) {
                m.put("cpu_us_per_tx_generator", round((ownCpuAtEnd - ownCpuAtStart) / 1e3 / committed));
                m.put("cpu_us_per_tx_generator_by_thread", perTransaction(ownThreadsAtStart, ownThreadsAtEnd, committed));
                if (!cpuPids.isEmpty()) {
                    m.put("cpu_nodes_counted", nodesCounted.size());
                    m.put("cpu_us_per_tx_nodes", round((nodeCpuAtEnd - nodeCpuAtStart) / 1e3 / committed));
                    m.put("cpu_us_per_tx_nodes_by_thread", perTransaction(nodeThreadsAtStart, nodeThreadsAtEnd, committed));
                }
            }
            if (forger != null) {
                m.put("forged", forger.summary());
            }
            if (coreStages != null) {
                m.put("core_stages_ms_per_block", coreStages);
            }
            m.put("warmup_seconds", round((measureFromNanos - startNanos) / 1e9));
            m.put("commits_per_second_timeline", timeline);
            int measuredFrom = (int) ((measureFromNanos - startNanos) / 1_000_000_000L);
            OptionalInt warm = secondsToWarm(timeline, measuredFrom, WARM_SHARE);
            m.put("steady_commits_per_second", steadyRate(timeline, measuredFrom));
            m.put("seconds_to_90_percent", warm.isPresent() ? warm.getAsInt() : -1);
            return m;
        }
    }

    /** Share of the steady rate a started network counts as warm at. */
    static final double WARM_SHARE = 0.9;
    /** Seconds averaged when deciding whether the network is warm: one good second is not enough. */
    static final int WARM_WINDOW_SECONDS = 3;

    /** Median commits per second over the measured window (the seconds from {@code measuredFrom} on). */
    static long steadyRate(List<Long> timeline, int measuredFrom) {
        List<Long> window = new ArrayList<>(timeline.subList(Math.min(measuredFrom, timeline.size()), timeline.size()));
        if (window.isEmpty()) {
            return 0;
        }
        java.util.Collections.sort(window);
        return window.get(window.size() / 2);
    }

    /**
     * Seconds from the start of the load until the commits per second, averaged over
     * {@link #WARM_WINDOW_SECONDS}, first reach {@code share} of the steady rate; empty when they
     * never do (BenchTest#warmUpIsTheFirstWindowAtNinetyPercentOfTheMedian).
     */
    static OptionalInt secondsToWarm(List<Long> timeline, int measuredFrom, double share) {
        long steady = steadyRate(timeline, measuredFrom);
        if (steady == 0) {
            return OptionalInt.empty();
        }
        long sum = 0;
        for (int s = 0; s < timeline.size(); s++) {
            sum += timeline.get(s);
            if (s >= WARM_WINDOW_SECONDS) {
                sum -= timeline.get(s - WARM_WINDOW_SECONDS);
            }
            if (s + 1 >= WARM_WINDOW_SECONDS && sum >= share * steady * WARM_WINDOW_SECONDS) {
                return OptionalInt.of(s + 1);
            }
        }
        return OptionalInt.empty();
    }

    /**
     * The forged-signature flood: {@code --forged-rate} transactions per second, each carrying the
     * valid signature of another body, so that it parses and would enter a replica's batch
     * equation, which it then fails. Open loop on its own thread, paced like {@link RateGate}. By
     * default as an attacker sends them: its own connections to every replica from its own
     * address ({@code --forged-source}), one SubmitTransaction call per replica per transaction,
     * never slowed by refusals or retry hints (the SDK would back off, which an attacker does not).
     * With {@code --forged-in-honest-calls} they go through the honest clients' SDK instance, so
     * that forged and honest transactions share calls and so replicas' verification batches. Every
     * one must be refused: by a BAD_SIGNATURE rejection, or unread once its address has spent its
     * budget of bad signatures, or at the connection (UNAVAILABLE or DEADLINE_EXCEEDED: the
     * replica closed the address's connections or held a new one unanswered; the forger dials
     * again at once); anything else, or a commit, is reported.
     */
    private final class Forger {
        final Run run;
        final List<io.grpc.ManagedChannel> channels = new ArrayList<>();
        final Thread thread;
        final RateGate pace;
        final java.util.concurrent.atomic.AtomicLong sent = new java.util.concurrent.atomic.AtomicLong();
        final java.util.concurrent.atomic.AtomicLong refused = new java.util.concurrent.atomic.AtomicLong();
        final java.util.concurrent.atomic.AtomicLong refusedUnread = new java.util.concurrent.atomic.AtomicLong();
        final java.util.concurrent.atomic.AtomicLong refusedConnection = new java.util.concurrent.atomic.AtomicLong();
        final java.util.concurrent.atomic.AtomicLong committed = new java.util.concurrent.atomic.AtomicLong();
        final Map<String, AtomicInteger> otherOutcomes = new TreeMap<>();
        final java.util.concurrent.Phaser outstanding = new java.util.concurrent.Phaser(1);

        Forger(Run run) {
            this.run = run;
            if (!forgedInHonestCalls) {
                Network from = run.net.withSourceAddress(forgedSourceAddress);
                for (int i = 0; i < from.addresses().size(); i++) {
                    channels.add(bftledger.sdk.TlsChannels.builder(from, i).build());
                }
            }
            this.pace = new RateGate(forgedRate, run.startNanos);
            this.thread = new Thread(this::flood, "bench-forger");
            this.thread.setDaemon(true);
        }

        void start() {
            thread.start();
        }

        void flood() {
            SplittableRandom random = new SplittableRandom(seed * 31 - 1);
            long sequence = 0;
            while (System.nanoTime() < run.endNanos) {
                long delayNanos = pace.reserve();
                if (delayNanos > 0) {
                    java.util.concurrent.locks.LockSupport.parkNanos(delayNanos);
                }
                int id = random.nextInt(clients);
                SignedTransaction honest = run.build(id, random, sequence++);
                SignedTransaction other = run.build(id, random, sequence++);
                SignedTransaction forged = honest.toBuilder().setSignature(other.getSignature()).build();
                sent.incrementAndGet();
                if (forgedInHonestCalls) {
                    throughSdk(forged);
                } else {
                    for (io.grpc.ManagedChannel channel : channels) {
                        direct(channel, forged);
                    }
                }
            }
        }

        private void throughSdk(SignedTransaction forged) {
            outstanding.register();
            run.client.submitAsync(forged, run.txTimeout).whenComplete((c, error) -> {
                if (error == null) {
                    committed.incrementAndGet();
                } else {
                    Throwable cause = error instanceof java.util.concurrent.CompletionException && error.getCause() != null
                            ? error.getCause() : error;
                    if (cause instanceof LedgerClientException l && l.kind() == LedgerClientException.Kind.REJECTED
                            && String.valueOf(l.getMessage()).contains("BAD_SIGNATURE")) {
                        refused.incrementAndGet();
                    } else {
                        other(cause instanceof LedgerClientException l ? l.kind().name() : cause.getClass().getSimpleName());
                    }
                }
                outstanding.arriveAndDeregister();
            });
        }

        /** One call to one replica; counted per call. */
        private void direct(io.grpc.ManagedChannel channel, SignedTransaction forged) {
            outstanding.register();
            bftledger.api.proto.LedgerApiGrpc.newStub(channel).withDeadlineAfter(run.txTimeout.toMillis(), TimeUnit.MILLISECONDS)
                    .submitTransaction(bftledger.api.proto.SubmitRequest.newBuilder().setTransaction(forged).setWaitMillis(1).build(),
                            new io.grpc.stub.StreamObserver<>() {
                                @Override
                                public void onNext(bftledger.api.proto.SubmitResponse response) {
                                    try {
                                        bftledger.api.proto.Reply reply = bftledger.api.proto.Reply.parseFrom(
                                                response.getSignedReply().getReply());
                                        if (reply.getOutcome() == bftledger.api.proto.Reply.Outcome.REJECTED
                                                && reply.getRejectReason() == bftledger.api.proto.Reply.RejectReason.BAD_SIGNATURE) {
                                            refused.incrementAndGet();
                                        } else if (reply.getOutcome() == bftledger.api.proto.Reply.Outcome.COMMITTED) {
                                            committed.incrementAndGet();
                                        } else {
                                            other(reply.getOutcome() + "/" + reply.getRejectReason());
                                        }
                                    } catch (com.google.protobuf.InvalidProtocolBufferException e) {
                                        other("unparsable-reply");
                                    }
                                }

                                @Override
                                public void onError(Throwable t) {
                                    io.grpc.Status status = io.grpc.Status.fromThrowable(t);
                                    io.grpc.Metadata trailers = io.grpc.Status.trailersFromThrowable(t);
                                    String reason = trailers == null ? null : trailers.get(bftledger.api.Wire.REFUSAL_REASON);
                                    if (status.getCode() == io.grpc.Status.Code.RESOURCE_EXHAUSTED && "bad-signatures".equals(reason)) {
                                        refusedUnread.incrementAndGet();
                                    } else if (status.getCode() == io.grpc.Status.Code.UNAVAILABLE
                                            || status.getCode() == io.grpc.Status.Code.DEADLINE_EXCEEDED) {
                                        // The replica closed the address's connection, or held a new one
                                        // unanswered. An attacker dials again at once rather than backing off.
                                        refusedConnection.incrementAndGet();
                                        channel.resetConnectBackoff();
                                    } else {
                                        other(status.getCode() + (reason == null ? "" : "/" + reason));
                                    }
                                    outstanding.arriveAndDeregister();
                                }

                                @Override
                                public void onCompleted() {
                                    outstanding.arriveAndDeregister();
                                }
                            });
        }

        private void other(String key) {
            synchronized (otherOutcomes) {
                otherOutcomes.computeIfAbsent(key, k -> new AtomicInteger()).incrementAndGet();
            }
        }

        void join(Duration timeout) throws InterruptedException {
            thread.join(timeout.toMillis());
            try {
                outstanding.awaitAdvanceInterruptibly(outstanding.arrive(), timeout.toMillis(), TimeUnit.MILLISECONDS);
            } catch (java.util.concurrent.TimeoutException e) {
                // Reported below as sent but neither refused nor committed.
            }
            for (io.grpc.ManagedChannel channel : channels) {
                channel.shutdownNow();
            }
        }

        Map<String, Object> summary() {
            Map<String, Object> other = new TreeMap<>();
            synchronized (otherOutcomes) {
                otherOutcomes.forEach((k, v) -> other.put(k, v.get()));
            }
            return CommandOutput.fields("rate_per_second", forgedRate, "in_honest_calls", forgedInHonestCalls, "sent", sent.get(),
                    "calls_per_transaction", forgedInHonestCalls ? 0 : channels.size(),
                    "refused_bad_signature", refused.get(), "refused_unread", refusedUnread.get(),
                    "refused_connection", refusedConnection.get(), "committed", committed.get(),
                    "other_outcomes", other);
        }
    }

    /**
     * Spaces submissions evenly at {@code perSecond} across all clients (for the half-load
     * latency run). Slots follow one fixed schedule: a late wake-up (timer slack, a busy core)
     * is made up by the next slots instead of pushing every later one back, which would make a
     * paced run carry less than asked. A stall longer than {@link #CATCH_UP_MAX_NANOS} is not made
     * up, so it ends without a burst (BenchTest#aPacedRunKeepsItsRateWhenWakeUpsAreLate).
     */
    static final class RateGate {
        static final long CATCH_UP_MAX_NANOS = TimeUnit.MILLISECONDS.toNanos(50);
        private final long intervalNanos;
        private long nextNanos;

        RateGate(double perSecond, long startNanos) {
            this.intervalNanos = (long) (1e9 / perSecond);
            this.nextNanos = startNanos;
        }

        long reserve() {
            return reserve(System.nanoTime());
        }

        /** Nanoseconds from {@code now} until the caller's slot (zero or less: due now). */
        synchronized long reserve(long now) {
            nextNanos = Math.max(nextNanos, now - CATCH_UP_MAX_NANOS);
            long slot = nextNanos;
            nextNanos += intervalNanos;
            return slot - now;
        }
    }

    private static void sleepUntil(long nanos) throws InterruptedException {
        long left;
        while ((left = nanos - System.nanoTime()) > 0) {
            TimeUnit.NANOSECONDS.sleep(left);
        }
    }

    /** utime + stime ticks (Linux /proc, USER_HZ = 100: 10 ms each) of each --cpu-pids process still alive, by pid. */
    private Map<Long, Long> nodeCpuTicks() {
        Map<Long, Long> ticks = new LinkedHashMap<>();
        for (long pid : cpuPids) {
            try {
                String stat = Files.readString(Path.of("/proc", Long.toString(pid), "stat"));
                String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
                ticks.put(pid, Long.parseLong(f[11]) + Long.parseLong(f[12]));
            } catch (IOException | RuntimeException e) {
                // The process is gone (a killed replica).
            }
        }
        return ticks;
    }

    /**
     * CPU ticks (user + system) of every thread of {@code pids}, summed by thread family: the
     * thread name without its numbering ("grpc-submit-3" and "grpc-submit-1" are one family).
     * Read from /proc, so it covers what a sampling profiler misses (JIT compiler and GC threads,
     * native code). Empty where /proc is not readable.
     */
    static Map<String, Long> threadCpuTicks(List<Long> pids) {
        Map<String, Long> ticks = new java.util.TreeMap<>();
        for (long pid : pids) {
            try (Stream<Path> tasks = Files.list(Path.of("/proc", Long.toString(pid), "task"))) {
                for (Path task : tasks.toList()) {
                    try {
                        String stat = Files.readString(task.resolve("stat"));
                        String name = stat.substring(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
                        String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
                        ticks.merge(threadFamily(name), Long.parseLong(f[11]) + Long.parseLong(f[12]), Long::sum);
                    } catch (IOException | RuntimeException gone) {
                        // The thread ended between listing and reading.
                    }
                }
            } catch (IOException | RuntimeException gone) {
                // The process is gone.
            }
        }
        return ticks;
    }

    static String threadFamily(String threadName) {
        String family = threadName.replaceAll("[-_ ]*[0-9]+([-_ ][0-9]+)*$", "");
        return family.isEmpty() ? threadName : family;
    }

    /** Microseconds of CPU per committed transaction by thread family, largest first, the top 12. */
    private static Map<String, Double> perTransaction(Map<String, Long> start, Map<String, Long> end, long committed) {
        List<Map.Entry<String, Long>> deltas = new ArrayList<>();
        for (Map.Entry<String, Long> e : end.entrySet()) {
            long d = e.getValue() - start.getOrDefault(e.getKey(), 0L);
            if (d > 0) {
                deltas.add(Map.entry(e.getKey(), d));
            }
        }
        deltas.sort(Map.Entry.<String, Long>comparingByValue().reversed());
        Map<String, Double> out = new LinkedHashMap<>();
        for (Map.Entry<String, Long> e : deltas.subList(0, Math.min(12, deltas.size()))) {
            out.put(e.getKey(), round(e.getValue() * 10_000.0 / committed));
        }
        return out;
    }

    private static long processCpuNanos() {
        java.lang.management.OperatingSystemMXBean os = java.lang.management.ManagementFactory.getOperatingSystemMXBean();
        return os instanceof com.sun.management.OperatingSystemMXBean sun ? sun.getProcessCpuTime() : 0;
    }

    private static double ms(long nanos) {
        return round(nanos / 1e6);
    }

    private static double round(double v) {
        return Math.round(v * 100) / 100.0;
    }

    private void print(Map<String, Object> r) {
        @SuppressWarnings("unchecked")
        Map<String, Object> lat = (Map<String, Object>) r.get("latency_ms");
        StringBuilder text = new StringBuilder();
        text.append(String.format("bench: %s nodes, %s clients, mix %s, %s s measured after %s s warm-up%n", r.get("nodes"),
                r.get("clients"), r.get("mix"), r.get("duration_seconds"), r.get("warmup_seconds")));
        text.append(String.format("  committed %s tx, %s tx/s, in %s blocks (%s tx per block)%n", r.get("committed"),
                r.get("tx_per_second"), r.get("blocks"), r.get("tx_per_block")));
        text.append(String.format("  latency ms: p50 %s  p95 %s  p99 %s  max %s%n", lat.get("p50"), lat.get("p95"), lat.get("p99"),
                lat.get("max")));
        text.append(String.format("  errors %s %s, failed receipts %s, longest commit gap %s ms%n", r.get("errors"),
                r.get("errors_by_kind"), r.get("failed_receipts"), r.get("longest_commit_gap_ms")));
        text.append("  commits per second: ").append(r.get("commits_per_second_timeline"));
        text.append(String.format("%n  warm-up: %s s of load to 90%% of the steady %s commits/s (-1: never)",
                r.get("seconds_to_90_percent"), r.get("steady_commits_per_second")));
        if (r.containsKey("forged")) {
            text.append(String.format("%n  forged signatures: %s", r.get("forged")));
        }
        if (r.containsKey("ceiling_tx_per_second")) {
            text.append(String.format("%n  ceiling: %s Ed25519 verifications/s on %s cores / %s replicas = %s tx/s",
                    r.get("ceiling_verifications_per_second"), r.get("cores"), r.get("nodes"), r.get("ceiling_tx_per_second")));
        }
        CommandOutput.print(spec, json.json, r, text.toString());
    }
}
