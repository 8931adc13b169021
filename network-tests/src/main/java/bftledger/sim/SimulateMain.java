package bftledger.sim;

import java.io.PrintStream;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * {@code simulate --seeds N [--first-seed S] [--strategy NAME] [--nodes N] [--threads T]
 * [--storage-faults] [--membership]} runs N seeded simulations on all cores and ends with
 * {@code N passed, M failed}; {@code --storage-faults} damages the WAL of every crashed replica
 * the fault budget allows; {@code --membership} changes the validator set in every run (see
 * {@link Scenario.Options});
 * {@code simulate --seed S [...]} replays one run with its per-step trace;
 * {@code simulate --list-strategies} lists the Byzantine strategies. Exit status 1 when any run
 * fails, 2 on bad usage.
 */
public final class SimulateMain {
    private SimulateMain() {}

    public static void main(String[] args) throws Exception {
        System.exit(run(args, System.out, System.err));
    }

    static int run(String[] args, PrintStream out, PrintStream err) throws Exception {
        Long seeds = null;
        long firstSeed = 1;
        Long single = null;
        String strategy = null;
        Integer nodes = null;
        boolean storageFaults = false;
        boolean membership = false;
        int threads = Runtime.getRuntime().availableProcessors();
        try {
            for (int i = 0; i < args.length; i++) {
                switch (args[i]) {
                    case "--seeds" -> seeds = Long.parseLong(args[++i]);
                    case "--first-seed" -> firstSeed = Long.parseLong(args[++i]);
                    case "--seed" -> single = Long.parseLong(args[++i]);
                    case "--strategy" -> strategy = args[++i];
                    case "--nodes" -> {
                        nodes = Integer.parseInt(args[++i]);
                        if (nodes < 4) {
                            throw new IllegalArgumentException("--nodes must be at least 4, got " + nodes);
                        }
                    }
                    case "--threads" -> threads = Math.max(1, Integer.parseInt(args[++i]));
                    case "--storage-faults" -> storageFaults = true;
                    case "--membership" -> membership = true;
                    case "--list-strategies" -> {
                        for (String name : Strategies.names()) {
                            out.printf("%-20s %s%n", name, Strategies.description(name));
                        }
                        out.printf("%-20s %s%n", Scenario.MIXED, "(run option) each Byzantine replica draws its own strategy");
                        out.printf("%-20s %s%n", Scenario.HONEST, "(run option) no Byzantine replica, network faults only");
                        return 0;
                    }
                    case "-h", "--help" -> {
                        out.println(usage());
                        return 0;
                    }
                    default -> throw new IllegalArgumentException("unknown argument " + args[i]);
                }
            }
            if (strategy != null && !strategy.equals(Scenario.HONEST) && !strategy.equals(Scenario.MIXED)
                    && !Strategies.exists(strategy)) {
                throw new IllegalArgumentException("unknown strategy " + strategy + "; see --list-strategies");
            }
            if ((seeds == null) == (single == null)) {
                throw new IllegalArgumentException("give exactly one of --seeds N and --seed S");
            }
            if (seeds != null && seeds < 1) {
                throw new IllegalArgumentException("--seeds must be positive");
            }
        } catch (RuntimeException e) {
            err.println("simulate: " + e.getMessage());
            err.println(usage());
            return 2;
        }
        Scenario.Options options = new Scenario.Options(strategy, null, storageFaults, nodes, membership);
        if (single != null) {
            SimResult r = Simulation.run(Scenario.draw(single, options), true);
            out.print(r.trace());
            out.println(r.passed() ? "PASS seed=" + single + " at tick " + r.ticks() + " (" + r.deliveries()
                    + " deliveries, " + r.viewChanges() + " view changes at honest replicas, " + r.evidenceRecorded()
                    + " slots with evidence)" : r.failureLine());
            out.println(r.passed() ? "1 passed, 0 failed" : "0 passed, 1 failed");
            return r.passed() ? 0 : 1;
        }
        List<SimResult> failed = runMany(firstSeed, seeds, options, threads, out);
        out.println((seeds - failed.size()) + " passed, " + failed.size() + " failed");
        return failed.isEmpty() ? 0 : 1;
    }

    /** Runs seeds [first, first+count) on {@code threads} threads, printing each failure as it is found (in seed order). */
    public static List<SimResult> runMany(long first, long count, Scenario.Options options, int threads, PrintStream out)
            throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(threads, r -> {
            Thread t = new Thread(r, "simulate");
            t.setDaemon(true);
            return t;
        });
        try {
            List<Future<SimResult>> futures = new ArrayList<>();
            for (long s = first; s < first + count; s++) {
                long seed = s;
                futures.add(pool.submit(() -> runOne(seed, options)));
            }
            List<SimResult> failed = new ArrayList<>();
            for (Future<SimResult> fu : futures) {
                SimResult r = fu.get();
                if (!r.passed()) {
                    failed.add(r);
                    out.println(r.failureLine());
                    out.flush();
                }
            }
            return failed;
        } finally {
            pool.shutdownNow();
        }
    }

    /** One seeded run; a harness exception becomes a failure of that seed, not of the batch. */
    static SimResult runOne(long seed, Scenario.Options options) {
        Scenario scenario = Scenario.draw(seed, options);
        try {
            return Simulation.run(scenario, false);
        } catch (RuntimeException | AssertionError e) {
            return new SimResult(scenario, List.of(new Violation("harness", List.of(), e.toString())), 0, 0, 0, 0, 0, 0, "",
                    "");
        }
    }

    private static String usage() {
        return "usage: simulate.sh --seeds N [--first-seed S] [--strategy NAME] [--nodes N] [--threads T] [--storage-faults]"
                + " [--membership]\n"
                + "       simulate.sh --seed S [--strategy NAME] [--nodes N] [--storage-faults] [--membership]"
                + "   (replay one run with a trace)\n"
                + "       simulate.sh --list-strategies";
    }
}
