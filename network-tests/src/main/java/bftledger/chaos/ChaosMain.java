package bftledger.chaos;

import bftledger.api.proto.GetStatusRequest;
import bftledger.api.proto.GetStatusResponse;
import bftledger.chaos.FaultSchedule.Fault;
import bftledger.ledger.BlockStore;
import bftledger.ledger.Blocks;
import bftledger.ledger.StoreCorruptedException;
import bftledger.netfault.NetnsNetwork;
import bftledger.netfault.NetnsSupport;
import bftledger.scenario.BankChecker;
import bftledger.scenario.BankWorkload;
import bftledger.scenario.OnlineAuditResult;
import bftledger.scenario.ScenarioCluster;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.ToLongFunction;

/**
 * The chaos run behind {@code scripts/chaos.sh}: a 4-node network, the bank workload through the
 * SDK for a given time, and meanwhile a seeded {@link FaultSchedule} applied one fault at a time
 * (kill -9 and restart, SIGSTOP and SIGCONT, partition and heal, Byzantine and honest again,
 * stopped with a damaged WAL or index and started again),
 * each next fault only after the previous node is healthy again, so never more than f = 1 node
 * is faulty. Then the audits: the bank checker online (progress, convergence, acknowledged
 * transactions present, balances conserved and never negative), the CLI's online audit, and the
 * bank checker offline on the stopped nodes' stores, which is also where "lost" is counted: an
 * acknowledged transaction missing (or elsewhere) in any node's ledger at the end. Every node is
 * honest again at audit time, so every node's ledger counts as an honest one.
 *
 * <p>Output: the fault timeline, the figures, the checks, and as the very last line
 * {@code availability <percent>%, longest gap <seconds> s, acked <n>, lost <m>}. Exit 0 when
 * nothing is lost and every check passed, 1 otherwise, 2 on a usage error.
 */
public final class ChaosMain {
    private static final int N = 4;
    private static final Duration HEALTHY_BOUND = Duration.ofSeconds(120);
    /**
     * How far behind the others a node may be and still count as caught up: the nodes' own
     * consensus window (pbft's default L), inside which it votes on what the others order.
     */
    static final long CAUGHT_UP_BLOCKS = 32;
    private static final long SAMPLE_MILLIS = 500;
    private static final long SAMPLE_DEADLINE_MILLIS = 300;

    private final PrintStream out;
    private final long seed;
    private final long durationSeconds;
    private final Path dir;
    private final String netnsName;
    private final List<String> timeline = new ArrayList<>();
    /** Per fault, its timeline line and window (start to healthy), for the per-fault commit gaps. */
    private final List<String> faultLines = new ArrayList<>();
    private final List<CommitTimeline.Window> faultWindows = new ArrayList<>();
    private long t0;

    private ChaosMain(PrintStream out, long seed, long durationSeconds, Path dir, String netnsName) {
        this.out = out;
        this.seed = seed;
        this.durationSeconds = durationSeconds;
        this.dir = dir;
        this.netnsName = netnsName;
    }

    public static void main(String[] args) {
        System.exit(run(args, System.out));
    }

    static int run(String[] args, PrintStream out) {
        long duration = -1;
        long seed = System.nanoTime() & 0xffffffL;
        Path dir = null;
        String netns = null;
        boolean loopback = false;
        try {
            for (int i = 0; i < args.length; i++) {
                switch (args[i]) {
                    case "--duration" -> duration = Long.parseLong(args[++i]);
                    case "--seed" -> seed = Long.parseLong(args[++i]);
                    case "--dir" -> dir = Path.of(args[++i]);
                    case "--netns-name" -> netns = args[++i];
                    case "--loopback" -> loopback = true;
                    default -> throw new IllegalArgumentException("unknown option " + args[i]);
                }
            }
            if (duration < 10 || dir == null) {
                throw new IllegalArgumentException("--duration S (at least 10) and --dir D are required");
            }
        } catch (RuntimeException e) {
            System.err.println("chaos: " + e.getMessage()
                    + "\nusage: ChaosMain --duration S --dir D [--seed N] [--netns-name NAME | --loopback]");
            return 2;
        }
        if (!loopback && netns != null) {
            Optional<String> why = NetnsSupport.check();
            if (why.isPresent()) {
                out.println("network namespaces unavailable (" + why.get() + "): running on loopback");
                netns = null;
            }
        } else {
            netns = null;
        }
        try {
            return new ChaosMain(out, seed, duration, dir.toAbsolutePath(), netns).run();
        } catch (Exception e) {
            System.err.println("chaos: the run failed: " + e);
            e.printStackTrace();
            return 1;
        }
    }

    private int run() throws Exception {
        Files.createDirectories(dir);
        ScenarioCluster.Options options = ScenarioCluster.Options.defaults(seed);
        out.printf("chaos run: seed %d, duration %d s, directory %s%n", seed, durationSeconds, dir);
        out.println(netnsName != null
                ? "network: namespaces (" + netnsName + "), partitions are iptables cuts"
                : "network: loopback; PARTITION faults use SIGSTOP as the partition stand-in (no namespaces here)");
        AtomicReference<ScenarioCluster> holder = new AtomicReference<>();
        // Backstop for SIGTERM/SIGINT (chaos.sh's trap): close() kills the nodes it started by
        // their handles, resumes paused ones and removes the namespace network by name.
        Thread hook = new Thread(() -> closeQuietly(holder.getAndSet(null)), "chaos-teardown");
        Runtime.getRuntime().addShutdownHook(hook);
        ScenarioCluster cluster = netnsName != null ? ScenarioCluster.netns(dir, netnsName, options)
                : ScenarioCluster.loopback(dir, options);
        holder.set(cluster);
        Result result;
        try {
            result = chaos(cluster);
        } finally {
            closeQuietly(holder.getAndSet(null));
        }
        out.println(result.checks.isEmpty() ? "checks: all passed" : "checks FAILED:");
        result.checks.forEach(c -> out.println("  " + c));
        out.printf(Locale.ROOT, "availability %.2f%%, longest gap %.1f s, acked %d, lost %d%n", result.availability,
                result.longestGapSeconds, result.acked, result.lost);
        return result.lost == 0 && result.checks.isEmpty() ? 0 : 1;
    }

    private record Result(double availability, double longestGapSeconds, long acked, long lost, List<String> checks) {}

    private Result chaos(ScenarioCluster cluster) throws Exception {
        cluster.startAll();
        cluster.awaitReady(Duration.ofSeconds(180));
        out.println("network ready: " + cluster.describe());
        CommitTimeline commits = new CommitTimeline();
        BankWorkload workload = new BankWorkload(cluster.accounts(), 3_000, 8, Duration.ofSeconds(10), seed);
        workload.listener((id, submitted, completed, acked) -> commits.add(submitted, completed, acked));
        FaultSchedule schedule = FaultSchedule.standard(seed, N);
        t0 = System.nanoTime();
        long end = t0 + durationSeconds * 1_000_000_000L;
        workload.start(cluster.client());
        Thread sampler = startStatusSampler(cluster, dir.resolve("statuses.log"));
        List<String> checks = new ArrayList<>();
        // A short fault-free start, so the figures include the network's normal pace.
        sleepUntil(Math.min(end, t0 + 3_000_000_000L));
        while (true) {
            Fault fault = schedule.next();
            if (System.nanoTime() + fault.durationMillis() * 1_000_000L > end) {
                break;
            }
            if (!inject(cluster, fault, workload)) {
                checks.add("fault " + fault.index() + " (" + fault.describe() + ") could not be undone: node not healthy within "
                        + HEALTHY_BOUND);
                break;
            }
            sleepUntil(Math.min(end, System.nanoTime() + fault.gapMillis() * 1_000_000L));
            if (System.nanoTime() >= end) {
                break;
            }
        }
        sleepUntil(end);
        workload.stop();
        sampler.interrupt();
        long stopped = System.nanoTime();
        note("workload stopped: " + workload.summary());

        int[] perSecond = commits.perSecond(t0, end);
        double availability = commits.availabilityPercent(t0, end);
        long gap = commits.longestGapNanos(t0, end);
        out.println("fault timeline (seconds from workload start; a fault's window is from its start until healthy again):");
        for (int k = 0; k < faultLines.size(); k++) {
            CommitTimeline.Window w = faultWindows.get(k);
            int from = (int) Math.max(0, (w.fromNanos() - t0) / 1_000_000_000L);
            int to = (int) Math.min(perSecond.length - 1, (w.toNanos() - t0) / 1_000_000_000L);
            int without = 0;
            for (int sec = from; sec <= to; sec++) {
                without += perSecond[sec] == 0 ? 1 : 0;
            }
            out.println("  " + faultLines.get(k) + "; " + without + " s without commits in its window");
        }
        timeline.forEach(l -> out.println("  " + l));
        out.println("acknowledged commits per second: " + compact(perSecond));
        out.printf(Locale.ROOT, "commit latency: p50 %s, p99 %s overall; p99 %s during faults (%d acknowledged submitted during %d faults)%n",
                millis(commits.percentileNanos(50, null)), millis(commits.percentileNanos(99, null)),
                millis(commits.percentileNanos(99, faultWindows)), commits.acknowledgedIn(faultWindows), faultWindows.size());
        out.printf(Locale.ROOT, "workload: %s; drained %.1f s after the run's end%n", workload.summary(),
                (stopped - end) / 1e9);

        long auditStart = System.nanoTime();
        List<Integer> all = List.of(0, 1, 2, 3);
        BankChecker checker = new BankChecker(cluster, workload, all);
        checker.progress(3, Duration.ofSeconds(30)).converged(Duration.ofSeconds(60)).acknowledgedPresent().balances();
        String audit = onlineAudit(cluster);
        out.println("online audit: " + audit);
        if (!audit.startsWith("passed")) {
            checks.add("online audit: " + audit);
        }
        cluster.stopAll();
        checker.offline();
        checker.violations().forEach(v -> checks.add(v.toString()));
        long acked = workload.acks().size();
        long lost = lost(cluster, workload, all, checks);
        out.printf(Locale.ROOT, "audits took %.0f s (online checker, online audit, offline checker on %d acknowledged)%n",
                (System.nanoTime() - auditStart) / 1e9, acked);
        return new Result(availability, gap / 1e9, acked, lost, checks);
    }

    /** Applies one fault, undoes it after its duration, waits until the node is healthy; false if it never gets there. */
    private boolean inject(ScenarioCluster cluster, Fault fault, BankWorkload workload) throws Exception {
        List<Optional<GetStatusResponse>> before = cluster.statuses();
        int primary = primary(before);
        int node = fault.node() == FaultSchedule.PRIMARY ? primary : fault.node();
        long start = System.nanoTime();
        String what = fault.node() == FaultSchedule.PRIMARY
                ? fault.describe().replace("the primary", "node" + node + " (the primary)") : fault.describe();
        what += " [view " + view(before) + ", primary node" + primary + (node == primary ? ": primary hit" : "") + "]";
        switch (fault.kind()) {
            case KILL -> cluster.kill9(node);
            case PAUSE -> cluster.pause(node);
            case PARTITION -> {
                Optional<NetnsNetwork> net = cluster.netns();
                if (net.isPresent()) {
                    net.get().isolate(node);
                } else {
                    what += " [stand-in: SIGSTOP, no namespaces]";
                    cluster.pause(node);
                }
            }
            case BYZANTINE -> {
                cluster.stop(node);
                cluster.startByzantine(node, fault.strategy());
            }
            case STORAGE -> what += " [" + damage(cluster, node, fault, workload) + "]";
        }
        sleepUntil(start + fault.durationMillis() * 1_000_000L);
        long logFrom = Files.exists(cluster.log(node)) ? Files.size(cluster.log(node)) : 0;
        long heightBefore = maxHeight(cluster);
        switch (fault.kind()) {
            case KILL -> cluster.start(node);
            case PAUSE -> cluster.resume(node);
            case PARTITION -> {
                if (cluster.netns().isPresent()) {
                    cluster.netns().get().heal();
                } else {
                    cluster.resume(node);
                }
            }
            case BYZANTINE -> {
                cluster.stop(node);
                cluster.start(node);
            }
            case STORAGE -> cluster.start(node);
        }
        long undone = System.nanoTime();
        boolean healthy = awaitHealthy(cluster, node, heightBefore);
        if (healthy && fault.kind() == FaultSchedule.Kind.STORAGE && awaitLogged(cluster, node, logFrom, "event=non-voting",
                Duration.ZERO)) {
            // Healthy is not enough here: until it votes again the node is one of the f faulty ones.
            healthy = awaitLogged(cluster, node, logFrom, "event=voting-again", HEALTHY_BOUND);
        }
        long done = System.nanoTime();
        faultWindows.add(new CommitTimeline.Window(start, done));
        faultLines.add(String.format(Locale.ROOT, "%6.1f  #%d %s; undone at %.1f; %s at %.1f", (start - t0) / 1e9, fault.index(), what,
                (undone - t0) / 1e9, healthy ? "healthy (caught up to " + heightBefore + ")" : "NOT healthy", (done - t0) / 1e9));
        return healthy;
    }

    /**
     * Stops the node and damages its store as the fault says; a damaged WAL also sets
     * {@code rejoin.non.voting=true} for its next start. Returns what was done.
     */
    static String damage(ScenarioCluster cluster, int node, Fault fault, BankWorkload workload) throws Exception {
        Path data = cluster.data(node);
        cluster.stop(node);
        if (StoreDamage.walDamage(fault.damage())) {
            cluster.configure(node, "rejoin.non.voting", "true");
        }
        return switch (fault.damage()) {
            case StoreDamage.WAL_EMPTIED -> StoreDamage.emptyWal(data);
            case StoreDamage.WAL_FLIPPED_BYTE -> StoreDamage.flipWalRecord(data, bftledger.pbft.Config.of(
                    cluster.genesis().validatorKeys(), node, null));
            case StoreDamage.WAL_OLDER_COPY -> {
                // A copy now, a run in which the node votes (and so appends to its WAL), then the copy put back.
                Path copy = cluster.dir().resolve("node" + node + "-wal-copy");
                Files.copy(StoreDamage.walFile(data), copy, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
                long height = maxHeight(cluster);
                cluster.start(node);
                awaitHealthy(cluster, node, height);
                Thread.sleep(1_000);
                cluster.stop(node);
                String done = StoreDamage.restoreWal(data, copy);
                Files.delete(copy);
                yield done;
            }
            case StoreDamage.INDEX_FLIPPED_BYTE -> StoreDamage.flipIndexEntry(data, workload.acks().get(0).txId());
            default -> throw new IllegalArgumentException("unknown storage damage " + fault.damage());
        };
    }

    /** Polls node's log, from byte {@code from} on, for {@code line} until {@code bound} has passed (once at least). */
    static boolean awaitLogged(ScenarioCluster cluster, int node, long from, String line, Duration bound) throws Exception {
        long deadline = System.nanoTime() + bound.toNanos();
        while (true) {
            try (java.io.RandomAccessFile log = new java.io.RandomAccessFile(cluster.log(node).toFile(), "r")) {
                byte[] tail = new byte[(int) Math.max(0, log.length() - from)];
                log.seek(from);
                log.readFully(tail);
                if (new String(tail, java.nio.charset.StandardCharsets.UTF_8).contains(line)) {
                    return true;
                }
            }
            if (System.nanoTime() >= deadline) {
                return false;
            }
            Thread.sleep(250);
        }
    }

    /**
     * Every {@link #SAMPLE_MILLIS}, each node's height, view and pending count into {@code file}:
     * what a gap in the commit timeline is explained from (which node lagged, who changed view
     * when). Asks each node on its own channel with a short deadline, not through the workload's
     * client, so a paused node costs the sample a little time and the workload nothing.
     */
    private Thread startStatusSampler(ScenarioCluster cluster, Path file) throws IOException {
        PrintStream log = new PrintStream(Files.newOutputStream(file), true, java.nio.charset.StandardCharsets.UTF_8);
        Thread t = new Thread(() -> {
            try (log) {
                while (!Thread.currentThread().isInterrupted()) {
                    long at = System.nanoTime();
                    StringBuilder line = new StringBuilder(String.format(Locale.ROOT, "%7.1f", (at - t0) / 1e9));
                    for (int i = 0; i < N; i++) {
                        line.append("  n").append(i).append('=');
                        try {
                            GetStatusResponse s = cluster.stub(i, Duration.ofMillis(SAMPLE_DEADLINE_MILLIS))
                                    .getStatus(GetStatusRequest.getDefaultInstance());
                            line.append('h').append(s.getHeight()).append("/v").append(s.getView())
                                    .append(s.getViewChanging() ? "*" : "").append("/p").append(s.getPendingTransactions());
                        } catch (RuntimeException e) {
                            line.append('-');
                        }
                    }
                    log.println(line);
                    sleepUntil(at + SAMPLE_MILLIS * 1_000_000L);
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }, "chaos-status-sampler");
        t.setDaemon(true);
        t.start();
        return t;
    }

    private void note(String line) {
        timeline.add(line);
    }

    /** The primary most answering nodes report (node 0 if none answers). */
    private static int primary(List<Optional<GetStatusResponse>> statuses) {
        return (int) mostCommon(statuses, s -> (long) s.getPrimary() % N, 0);
    }

    private static long view(List<Optional<GetStatusResponse>> statuses) {
        return mostCommon(statuses, GetStatusResponse::getView, -1);
    }

    private static long mostCommon(List<Optional<GetStatusResponse>> statuses,
                                   ToLongFunction<GetStatusResponse> field, long none) {
        TreeMap<Long, Integer> votes = new TreeMap<>();
        statuses.stream().flatMap(Optional::stream).forEach(s -> votes.merge(field.applyAsLong(s), 1, Integer::sum));
        return votes.entrySet().stream().max(Map.Entry.comparingByValue()).map(Map.Entry::getKey).orElse(none);
    }

    private static long maxHeight(ScenarioCluster cluster) {
        return cluster.statuses().stream().flatMap(Optional::stream).mapToLong(GetStatusResponse::getHeight).max().orElse(0);
    }

    /**
     * Healthy: every node answers and sees every other, all are in one view and none is changing
     * view, and the faulted node has caught up with the network as it is now, not merely to the
     * height it had when the fault was undone: within {@link #CAUGHT_UP_BLOCKS} of the lowest of
     * the others. A node still fetching blocks cannot vote (its window is behind), so a next
     * fault while it catches up would make two faulty nodes out of four, more than f. Polled
     * under {@link #HEALTHY_BOUND}.
     */
    static boolean awaitHealthy(ScenarioCluster cluster, int node, long height) throws InterruptedException {
        long deadline = System.nanoTime() + HEALTHY_BOUND.toNanos();
        while (System.nanoTime() < deadline) {
            if (healthy(cluster.statuses(), node, height)) {
                return true;
            }
            Thread.sleep(250);
        }
        return false;
    }

    static boolean healthy(List<Optional<GetStatusResponse>> statuses, int node, long height) {
        if (statuses.stream().anyMatch(Optional::isEmpty)) {
            return false;
        }
        List<GetStatusResponse> all = statuses.stream().map(Optional::get).toList();
        long view = all.get(node).getView();
        long othersLowest = Long.MAX_VALUE;
        for (int i = 0; i < all.size(); i++) {
            GetStatusResponse s = all.get(i);
            int self = i;
            if (s.getView() != view || s.getViewChanging() || !s.getPeersConnectedList().containsAll(
                    java.util.stream.IntStream.range(0, all.size()).filter(j -> j != self).boxed().toList())) {
                return false;
            }
            if (i != node) {
                othersLowest = Math.min(othersLowest, s.getHeight());
            }
        }
        long own = all.get(node).getHeight();
        return own >= height && own + CAUGHT_UP_BLOCKS >= othersLowest;
    }

    private String onlineAudit(ScenarioCluster cluster) throws IOException, InterruptedException {
        OnlineAuditResult audit;
        try {
            if (cluster.netns().isPresent()) {
                // The audit reads every block of every node: its time grows with the run (a 600 s run
                // has some 50,000 blocks, more than 120 s of auditing on this machine).
                String printed = cluster.runInClientHost(Duration.ofSeconds(Math.max(120, 2 * durationSeconds)), "audit",
                        "--online", "--genesis", cluster.genesisPath().toString(), "--timeout", "10s", "--json", "--plaintext");
                audit = OnlineAuditResult.parse(0, printed);
            } else {
                audit = OnlineAuditResult.run(cluster.genesisPath());
            }
        } catch (IllegalArgumentException e) {
            return "FAILED: " + e.getMessage();
        }
        return (audit.passed() ? "passed" : "FAILED") + ", replicas proven faulty by evidence: " + audit.culprits();
    }

    /** Acknowledged transactions missing from, or elsewhere in, at least one stopped node's store. */
    private static long lost(ScenarioCluster cluster, BankWorkload workload, List<Integer> nodes, List<String> checks) {
        List<BlockStore> stores = new ArrayList<>();
        try {
            for (int i : nodes) {
                try {
                    stores.add(BlockStore.open(cluster.data(i).resolve("ledger"), cluster.genesis(), 256L << 20));
                } catch (StoreCorruptedException e) {
                    checks.add("node" + i + "'s store does not open: " + e.getMessage());
                    return workload.acks().size();
                }
            }
            long lost = 0;
            for (BankWorkload.Ack ack : workload.acks()) {
                for (BlockStore s : stores) {
                    Optional<BlockStore.TxRecord> r = s.transaction(ack.txId());
                    if (r.isEmpty() || r.get().height() != ack.height() || !Blocks.hash(r.get().block()).equals(ack.blockHash())) {
                        lost++;
                        break;
                    }
                }
            }
            return lost;
        } finally {
            stores.forEach(BlockStore::close);
        }
    }

    private static String millis(long nanos) {
        return nanos < 0 ? "n/a" : String.format(Locale.ROOT, "%.0f ms", nanos / 1e6);
    }

    /** Per-second counts, with runs of zero seconds marked so gaps stand out. */
    private static String compact(int[] perSecond) {
        StringBuilder s = new StringBuilder();
        for (int i = 0; i < perSecond.length; i++) {
            if (i > 0) {
                s.append(i % 20 == 0 ? "\n    " : " ");
            }
            s.append(perSecond[i] == 0 ? "_" : Integer.toString(perSecond[i]));
        }
        return s.toString();
    }

    private static void sleepUntil(long nanos) throws InterruptedException {
        long left;
        while ((left = nanos - System.nanoTime()) > 0) {
            Thread.sleep(Math.max(1, Math.min(left / 1_000_000L, 500)));
        }
    }

    private static void closeQuietly(ScenarioCluster cluster) {
        if (cluster == null) {
            return;
        }
        try {
            cluster.close();
        } catch (IOException | RuntimeException e) {
            System.err.println("chaos: teardown: " + e);
        }
    }
}
