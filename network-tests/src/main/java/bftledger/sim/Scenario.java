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
 * @param membership the validator-set changes of the run, or null for none; then {@code byzantine}
 *     names machines (replicas 0..n-1 of the genesis set and the machines changes add after them)
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
        int n,
        Membership.Plan membership) {

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

    /** Without validator-set changes: the shape before they existed, kept for callers written against it. */
    public Scenario(long seed, int f, String strategy, List<Integer> byzantine, int clients, int requests,
                    int submitWindowTicks, int resubmitTicks, double dropProbability, double duplicateProbability,
                    int delayMaxTicks, List<Partition> partitions, List<Crash> crashes, int faultEndTick,
                    int checkpointInterval, int watermarkWindow, int batchCountMax, int pipelineDepthMax,
                    int requestTimeoutTicks, int viewChangeTimeoutTicks, int timeoutDoublingsMax, int statusTicks,
                    List<StorageFault> storageFaults, int n) {
        this(seed, f, strategy, byzantine, clients, requests, submitWindowTicks, resubmitTicks, dropProbability,
                duplicateProbability, delayMaxTicks, partitions, crashes, faultEndTick, checkpointInterval, watermarkWindow,
                batchCountMax, pipelineDepthMax, requestTimeoutTicks, viewChangeTimeoutTicks, timeoutDoublingsMax, statusTicks,
                storageFaults, n, null);
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
     * nodes = 3f+1 draws exactly what f alone does. {@code membership}: every run changes its
     * validator set (otherwise a quarter of the runs that fix neither f, nodes nor storage faults
     * do), starting from {@code nodes} replicas or a drawn 4..7.
     */
    public record Options(String strategy, Integer f, boolean storageFaults, Integer nodes, boolean membership) {
        public static final Options NONE = new Options(null, null);

        public Options {
            if (nodes != null && (nodes < 4 || (f != null && f != (nodes - 1) / 3))) {
                throw new IllegalArgumentException("nodes " + nodes + " with f " + f + ": need n >= 4 and f = (n-1)/3");
            }
        }

        public Options(String strategy, Integer f, boolean storageFaults, Integer nodes) {
            this(strategy, f, storageFaults, nodes, false);
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
        if (n < 4 || f != (n - 1) / 3 || byzantine.size() > machines(n, membership)) {
            throw new IllegalArgumentException("bad scenario: n=" + n + " f=" + f + " byzantine=" + byzantine);
        }
        for (StorageFault s : storageFaults) {
            if (byzantine.contains(s.replica()) || crashes.stream().noneMatch(c -> c.replica() == s.replica())) {
                throw new IllegalArgumentException("a storage fault needs an honest replica that crashes: " + s);
            }
        }
    }

    /** The machines of a run: the genesis set's, then one for each replica a change adds. */
    public int machines() {
        return machines(n, membership);
    }

    private static int machines(int n, Membership.Plan membership) {
        int machines = n;
        if (membership != null) {
            for (Membership.Change c : membership.changes()) {
                for (Membership.Member m : c.next()) {
                    machines = Math.max(machines, m.machine() + 1);
                }
            }
        }
        return machines;
    }

    /**
     * The virtual time by which every request must have executed at every honest replica: the
     * fault phase, then for each Byzantine replica that may be primary a request timeout and a
     * fully backed-off view change, plus time for a slow primary to order each request; and for
     * each validator-set change as much again, the blocks up to its end (at most 2L) and the
     * faults around its boundary.
     */
    public long deadlineTick() {
        long viewChange = requestTimeoutTicks + ((long) viewChangeTimeoutTicks << timeoutDoublingsMax);
        long deadline = faultEndTick + (byzantine.size() + 2L) * viewChange + (long) requests * requestTimeoutTicks
                + 40L * delayMaxTicks + 200;
        if (membership != null) {
            for (Membership.Change c : membership.changes()) {
                deadline += (byzantine.size() + 2L) * viewChange + 4L * watermarkWindow * (3L * delayMaxTicks + 2)
                        + 4L * requestTimeoutTicks + 2L * resubmitTicks + c.isolatePrimaryTicks() + c.crashTicks()
                        + membership.gapTicks();
            }
            deadline += (long) membership.requestsAfter() * requestTimeoutTicks + 2L * resubmitTicks;
        }
        return deadline;
    }

    public static Scenario draw(long seed, Options options) {
        SplittableRandom r = new SplittableRandom(seed);
        // Changes are drawn from a generator of their own, so a run without them is what it was before they existed.
        SplittableRandom m = new SplittableRandom(seed ^ 0x6d656d6265727368L);
        boolean membership = options.membership()
                || (options.f() == null && options.nodes() == null && !options.storageFaults() && m.nextInt(4) == 0);
        Integer nodes = options.nodes();
        if (membership && nodes == null) {
            // Mostly small sets, as in the default mix: the cost of a run grows with n squared.
            nodes = options.f() != null ? 3 * options.f() + 1 : new int[] {4, 4, 4, 5, 5, 6, 7}[m.nextInt(7)];
        }
        int f = nodes != null ? (nodes - 1) / 3 : options.f() != null ? options.f() : pickF(r);
        int n = nodes != null ? nodes : 3 * f + 1;
        String strategy = options.strategy();
        if (strategy == null) {
            List<String> names = Strategies.names();
            int k = r.nextInt(names.size() + 2);
            strategy = k == names.size() ? HONEST : k == names.size() + 1 ? MIXED : names.get(k);
            if (membership && strategy.equals(HONEST)) {
                strategy = MIXED; // Byzantine replicas in every set, unless asked for none
            }
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
        Membership.Plan plan = membership ? drawPlan(m, n, byzantine, !strategy.equals(HONEST), faultEnd, requestTimeout)
                : null;
        return new Scenario(seed, f, strategy, byzantine, clients, requests, Math.max(10, faultEnd * 2 / 3), 50,
                drop, duplicate, delayMax, partitions, crashes, faultEnd, k, window, batch, pipeline,
                requestTimeout, viewChangeTimeout, 3, statusTicks, storageFaults, n, plan);
    }

    /**
     * One to three changes, each drawn from what the set allows (sizes 4..7): add a replica,
     * remove one, replace one by a new machine, rotate one's key. Adds {@code byzantine} machines
     * so that every set has at most its f of them (and one at least where it can); a removed
     * or rotated-out Byzantine identity is often the victim, so that it lingers as a ghost.
     */
    private static Membership.Plan drawPlan(SplittableRandom m, int n, List<Integer> byzantine, boolean adversaries,
            int faultEnd, int requestTimeout) {
        List<Membership.Member> set = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            set.add(new Membership.Member(i, 0));
        }
        int nextMachine = n;
        List<Membership.Change> changes = new ArrayList<>();
        int count = 1 + m.nextInt(3);
        for (int c = 0; c < count; c++) {
            List<Membership.Kind> kinds = new ArrayList<>();
            if (set.size() < 7) {
                kinds.add(Membership.Kind.ADD);
            }
            if (set.size() > 4) {
                kinds.add(Membership.Kind.REMOVE);
            }
            kinds.add(Membership.Kind.REPLACE);
            kinds.add(Membership.Kind.ROTATE);
            Membership.Kind kind = kinds.get(m.nextInt(kinds.size()));
            List<Membership.Member> next = new ArrayList<>(set);
            int fNext = (set.size() + (kind == Membership.Kind.ADD ? 1 : kind == Membership.Kind.REMOVE ? -1 : 0) - 1) / 3;
            switch (kind) {
                case ADD -> {
                    int machine = nextMachine++;
                    addByzantine(m, byzantine, adversaries, machine, byzantineIn(next, byzantine), fNext);
                    next.add(m.nextInt(next.size() + 1), new Membership.Member(machine, 0));
                }
                case REMOVE -> next.remove(victim(m, next, byzantine, byzantineIn(next, byzantine) > fNext));
                case REPLACE -> {
                    int at = victim(m, next, byzantine, false);
                    next.remove(at);
                    int machine = nextMachine++;
                    addByzantine(m, byzantine, adversaries, machine, byzantineIn(next, byzantine), fNext);
                    next.add(at, new Membership.Member(machine, 0));
                }
                case ROTATE -> {
                    int at = victim(m, next, byzantine, false);
                    next.set(at, new Membership.Member(next.get(at).machine(), next.get(at).generation() + 1));
                }
            }
            int isolate = m.nextInt(2) == 0 ? requestTimeout + m.nextInt(2 * requestTimeout) : 0;
            Membership.At crashAt = m.nextInt(3) != 0 ? null : m.nextBoolean() ? Membership.At.TOLD : Membership.At.HANDOVER;
            changes.add(new Membership.Change(kind, next, isolate, crashAt, m.nextInt(1000), 1 + m.nextInt(2 * requestTimeout)));
            set = next;
        }
        return new Membership.Plan(changes, m.nextInt(faultEnd + 1), m.nextInt(60), 1 + m.nextInt(4));
    }

    private static int byzantineIn(List<Membership.Member> set, List<Integer> byzantine) {
        return (int) set.stream().filter(x -> byzantine.contains(x.machine())).count();
    }

    private static void addByzantine(SplittableRandom m, List<Integer> byzantine, boolean adversaries, int machine,
            int already, int f) {
        if (adversaries && already < f && (already == 0 || m.nextBoolean())) {
            byzantine.add(machine);
        }
    }

    /** The position of the member a change removes or rotates: a Byzantine one when {@code mustBeByzantine}, often anyway. */
    private static int victim(SplittableRandom m, List<Membership.Member> set, List<Integer> byzantine,
            boolean mustBeByzantine) {
        List<Integer> bad = new ArrayList<>();
        for (int i = 0; i < set.size(); i++) {
            if (byzantine.contains(set.get(i).machine())) {
                bad.add(i);
            }
        }
        if (!bad.isEmpty() && (mustBeByzantine || m.nextBoolean())) {
            return bad.get(m.nextInt(bad.size()));
        }
        return m.nextInt(set.size());
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
        if (membership != null) {
            b.append(" changes from t").append(membership.firstChangeTick()).append(" gap ").append(membership.gapTicks())
                    .append(":");
            for (Membership.Change c : membership.changes()) {
                b.append(" ").append(c.kind()).append(c.next());
                if (c.isolatePrimaryTicks() > 0) {
                    b.append("+primary-cut-").append(c.isolatePrimaryTicks());
                }
                if (c.crashAt() != null) {
                    b.append("+crash@").append(c.crashAt()).append("-").append(c.crashTicks());
                }
            }
            b.append(" then ").append(membership.requestsAfter()).append(" requests");
        }
        return b.toString();
    }
}
