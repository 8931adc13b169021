package bftledger.sim;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.TreeSet;

/**
 * Everything one simulation run is made of, drawn from its seed (or built by hand in tests):
 * the network size, which replicas are Byzantine and how, the client load, the network faults
 * until {@code faultEndTick} (after which the network heals and crashed replicas are back), and
 * the core's configuration. A value: the same scenario always gives the same run.
 *
 * @param strategy a {@link Strategies} name, {@value #HONEST} for none, {@value #MIXED} for a
 *     strategy per Byzantine replica drawn by the simulation, or {@link Collusion#NAME}
 * @param storageFaults crashed replicas whose WAL is damaged by the time they restart; each is one
 *     of the f faulty replicas, with the Byzantine ones
 * @param n the number of replicas, any n >= 4 with f = floor((n-1)/3)
 */
public record Scenario(
        long seed,
        int f,
        String strategy,
        List<Integer> byzantine,
        int clients,
        int requests,
        int submitWindowTicks,
        int resubmitTicks,
        double dropProbability,
        double duplicateProbability,
        int delayMaxTicks,
        List<Partition> partitions,
        List<Crash> crashes,
        int faultEndTick,
        int checkpointInterval,
        int watermarkWindow,
        int batchCountMax,
        int pipelineDepthMax,
        int requestTimeoutTicks,
        int viewChangeTimeoutTicks,
        int timeoutDoublingsMax,
        int statusTicks,
        List<StorageFault> storageFaults,
        int n) {

    public static final String HONEST = "honest";
    public static final String MIXED = "mixed";

    /** Replicas in {@code sideA} can talk only among themselves, the rest only among themselves, in [start, end). */
    public record Partition(int startTick, int endTick, Set<Integer> sideA) {
        public Partition {
            sideA = Set.copyOf(sideA);
        }
    }

    /** An honest replica crashes at {@code crashTick} and restarts from its WAL at {@code restartTick}. */
    public record Crash(int replica, int crashTick, int restartTick) {}

    /** The crashed {@code replica}'s WAL is damaged by {@code kind} when it restarts (see {@link SimWal}). */
    public record StorageFault(int replica, Kind kind) {
        public enum Kind {
            /** A flipped bit in a stored record. */
            CORRUPT,
            /** The last writes lost though reported durable, the one before them landed in part. */
            TORN,
            /** The WAL gone; the node starts a new one. */
            LOST,
            /** An older copy of the WAL put back. */
            OLDER_COPY
        }
    }

    /** Without storage faults: the shape before they existed, kept for callers written against it. */
    public Scenario(long seed, int f, String strategy, List<Integer> byzantine, int clients, int requests,
                    int submitWindowTicks, int resubmitTicks, double dropProbability, double duplicateProbability,
                    int delayMaxTicks, List<Partition> partitions, List<Crash> crashes, int faultEndTick,
                    int checkpointInterval, int watermarkWindow, int batchCountMax, int pipelineDepthMax,
                    int requestTimeoutTicks, int viewChangeTimeoutTicks, int timeoutDoublingsMax, int statusTicks) {
        this(seed, f, strategy, byzantine, clients, requests, submitWindowTicks, resubmitTicks, dropProbability,
                duplicateProbability, delayMaxTicks, partitions, crashes, faultEndTick, checkpointInterval, watermarkWindow,
                batchCountMax, pipelineDepthMax, requestTimeoutTicks, viewChangeTimeoutTicks, timeoutDoublingsMax, statusTicks,
                List.of());
    }

    /** With n = 3f+1: the shape before other sizes, kept for callers written against it. */
    public Scenario(long seed, int f, String strategy, List<Integer> byzantine, int clients, int requests,
                    int submitWindowTicks, int resubmitTicks, double dropProbability, double duplicateProbability,
                    int delayMaxTicks, List<Partition> partitions, List<Crash> crashes, int faultEndTick,
                    int checkpointInterval, int watermarkWindow, int batchCountMax, int pipelineDepthMax,
                    int requestTimeoutTicks, int viewChangeTimeoutTicks, int timeoutDoublingsMax, int statusTicks,
                    List<StorageFault> storageFaults) {
        this(seed, f, strategy, byzantine, clients, requests, submitWindowTicks, resubmitTicks, dropProbability,
                duplicateProbability, delayMaxTicks, partitions, crashes, faultEndTick, checkpointInterval, watermarkWindow,
                batchCountMax, pipelineDepthMax, requestTimeoutTicks, viewChangeTimeoutTicks, timeoutDoublingsMax, statusTicks,
                storageFaults, 3 * f + 1);
    }

    /**
     * What the command line fixes; null fields are drawn from the seed. {@code storageFaults}:
     * every crashed honest replica the fault budget allows (f, with the Byzantine ones) gets a
     * storage fault, and a run with room in the budget gets a crash if it drew none.
     * {@code nodes}: the number of replicas, any n >= 4, f following from it (null: n = 3f+1);
     * nodes = 3f+1 draws exactly what f alone does.
     */
    public record Options(String strategy, Integer f, boolean storageFaults, Integer nodes) {
        public static final Options NONE = new Options(null, null);

        public Options {
            if (nodes != null && (nodes < 4 || (f != null && f != (nodes - 1) / 3))) {
                throw new IllegalArgumentException("nodes " + nodes + " with f " + f + ": need n >= 4 and f = (n-1)/3");
            }
        }

        public Options(String strategy, Integer f) {
            this(strategy, f, false);
        }

        public Options(String strategy, Integer f, boolean storageFaults) {
            this(strategy, f, storageFaults, null);
        }
    }

    public Scenario {
        byzantine = List.copyOf(byzantine);
        partitions = List.copyOf(partitions);
        crashes = List.copyOf(crashes);
        storageFaults = List.copyOf(storageFaults);
        if (n < 4 || f != (n - 1) / 3 || byzantine.size() > n) {
            throw new IllegalArgumentException("bad scenario: n=" + n + " f=" + f + " byzantine=" + byzantine);
        }
        for (StorageFault s : storageFaults) {
            if (byzantine.contains(s.replica()) || crashes.stream().noneMatch(c -> c.replica() == s.replica())) {
                throw new IllegalArgumentException("a storage fault needs an honest replica that crashes: " + s);
            }
        }
    }

    /**
     * The virtual time by which every request must have executed at every honest replica: the
     * fault phase, then for each Byzantine replica that may be primary a request timeout and a
     * fully backed-off view change, plus time for a slow primary to order each request.
     */
    public long deadlineTick() {
        long viewChange = requestTimeoutTicks + ((long) viewChangeTimeoutTicks << timeoutDoublingsMax);
        return faultEndTick + (byzantine.size() + 2L) * viewChange + (long) requests * requestTimeoutTicks
                + 40L * delayMaxTicks + 200;
    }

    public static Scenario draw(long seed, Options options) {
        SplittableRandom r = new SplittableRandom(seed);
        int f = options.nodes() != null ? (options.nodes() - 1) / 3 : options.f() != null ? options.f() : pickF(r);
        int n = options.nodes() != null ? options.nodes() : 3 * f + 1;
        String strategy = options.strategy();
        if (strategy == null) {
            List<String> names = Strategies.names();
            int k = r.nextInt(names.size() + 2);
            strategy = k == names.size() ? HONEST : k == names.size() + 1 ? MIXED : names.get(k);
        }
        List<Integer> byzantine = new ArrayList<>();
        if (!strategy.equals(HONEST)) {
            int count = 1 + r.nextInt(f);
            TreeSet<Integer> chosen = new TreeSet<>();
            // The initial primary is the interesting victim for most strategies: usually include it.
            if (r.nextInt(4) != 0) {
                chosen.add(0);
            }
            while (chosen.size() < count) {
                chosen.add(r.nextInt(n));
            }
            byzantine.addAll(chosen);
        }
        int clients = 1 + r.nextInt(4);
        int requests = 6 + r.nextInt(f == 1 ? 19 : 11);
        int faultEnd = 60 + r.nextInt(240);
        int delayMax = new int[] {1, 2, 3, 5}[r.nextInt(4)];
        double drop = new double[] {0, 0, 0.02, 0.05, 0.1}[r.nextInt(5)];
        double duplicate = new double[] {0, 0, 0.02, 0.1}[r.nextInt(4)];
        List<Partition> partitions = new ArrayList<>();
        int partitionCount = new int[] {0, 0, 0, 1, 1, 2}[r.nextInt(6)];
        for (int i = 0; i < partitionCount; i++) {
            int start = r.nextInt(faultEnd - 10);
            int end = start + 1 + r.nextInt(faultEnd - start);
            Set<Integer> side = new TreeSet<>();
            while (side.isEmpty() || side.size() == n) {
                side.clear();
                for (int j = 0; j < n; j++) {
                    if (r.nextBoolean()) {
                        side.add(j);
                    }
                }
            }
            partitions.add(new Partition(start, end, side));
        }
        List<Crash> crashes = new ArrayList<>();
        int crashCount = new int[] {0, 0, 1, 1, f}[r.nextInt(5)];
        for (int i = 0; i < crashCount; i++) {
            int replica = r.nextInt(n);
            if (byzantine.contains(replica) || crashes.stream().anyMatch(c -> c.replica() == replica)) {
                continue;
            }
            int at = r.nextInt(faultEnd - 5);
            crashes.add(new Crash(replica, at, at + 1 + r.nextInt(faultEnd - at)));
        }
        int k = new int[] {2, 4, 4, 8}[r.nextInt(4)];
        int window = k * (2 + r.nextInt(3));
        int batch = new int[] {1, 2, 4, 8}[r.nextInt(4)];
        int pipeline = 1 + r.nextInt(Math.min(4, window));
        int requestTimeout = Math.max(6 * delayMax + 10, new int[] {30, 40, 60}[r.nextInt(3)]);
        int viewChangeTimeout = Math.max(6 * delayMax + 10, new int[] {30, 40, 60}[r.nextInt(3)]);
        int statusTicks = new int[] {10, 20, 40}[r.nextInt(3)];
        // Drawn last, so every other choice of a seed is what it was before storage faults existed.
        if (options.storageFaults() && crashes.isEmpty() && byzantine.size() < f) {
            int replica = r.nextInt(n);
            while (byzantine.contains(replica)) {
                replica = (replica + 1) % n;
            }
            int at = r.nextInt(faultEnd - 5);
            crashes.add(new Crash(replica, at, at + 1 + r.nextInt(faultEnd - at)));
        }
        List<StorageFault> storageFaults = new ArrayList<>();
        for (Crash c : crashes) {
            if (byzantine.size() + storageFaults.size() < f && (options.storageFaults() || r.nextInt(2) == 0)) {
                StorageFault.Kind[] kinds = StorageFault.Kind.values();
                storageFaults.add(new StorageFault(c.replica(), kinds[r.nextInt(kinds.length)]));
            }
        }
        return new Scenario(seed, f, strategy, byzantine, clients, requests, Math.max(10, faultEnd * 2 / 3), 50,
                drop, duplicate, delayMax, partitions, crashes, faultEnd, k, window, batch, pipeline,
                requestTimeout, viewChangeTimeout, 3, statusTicks, storageFaults, n);
    }

    private static int pickF(SplittableRandom r) {
        int x = r.nextInt(100);
        return x < 72 ? 1 : x < 90 ? 2 : x < 97 ? 3 : 4;
    }

    /** One line: what this run is. */
    public String describe() {
        StringBuilder b = new StringBuilder();
        b.append("f=").append(f).append(" n=").append(n()).append(" strategy=").append(strategy);
        if (!byzantine.isEmpty()) {
            b.append(" byzantine=").append(byzantine);
        }
        b.append(" requests=").append(requests).append(" clients=").append(clients)
                .append(" drop=").append(dropProbability).append(" dup=").append(duplicateProbability)
                .append(" delay<=").append(delayMaxTicks);
        for (Partition p : partitions) {
            b.append(" partition").append(new TreeSet<>(p.sideA())).append("@").append(p.startTick()).append("-").append(p.endTick());
        }
        for (Crash c : crashes) {
            b.append(" crash(").append(c.replica()).append(")@").append(c.crashTick()).append("-").append(c.restartTick());
        }
        for (StorageFault s : storageFaults) {
            b.append(" storage(").append(s.replica()).append(")=").append(s.kind());
        }
        b.append(" faultsEnd=").append(faultEndTick).append(" K=").append(checkpointInterval).append(" L=")
                .append(watermarkWindow).append(" batch=").append(batchCountMax).append(" pipeline=")
                .append(pipelineDepthMax).append(" timeouts=").append(requestTimeoutTicks).append("/")
                .append(viewChangeTimeoutTicks).append(" status=").append(statusTicks);
        return b.toString();
    }
}
