package bftledger.sim;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.function.LongFunction;

/**
 * The suite's seeded simulator runs: the seeds (the one {@code -Dbftledger.seed} names, else a
 * budget from a first seed), run on all cores, and every failure with how to replay it.
 */
final class SeedBatch {
    private SeedBatch() {}

    static List<Long> seeds(long first, long budget) {
        return seeds(first, budget, first, 0);
    }

    /** Two ranges of seeds in one batch, or the one to replay. */
    static List<Long> seeds(long first, long budget, long secondFirst, long secondBudget) {
        String replay = System.getProperty("bftledger.seed");
        if (replay != null) {
            return List.of(Long.parseLong(replay));
        }
        List<Long> seeds = new ArrayList<>();
        for (long s = first; s < first + budget; s++) {
            seeds.add(s);
        }
        for (long s = secondFirst; s < secondFirst + secondBudget; s++) {
            seeds.add(s);
        }
        return seeds;
    }

    /** Each failing seed's line, printed as found; {@code simulateFlags} go into the replay command after the strategy. */
    static List<String> failures(List<Long> seeds, LongFunction<Scenario.Options> options, String simulateFlags)
            throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(Math.max(1, Runtime.getRuntime().availableProcessors()));
        List<String> failures = new ArrayList<>();
        try {
            List<Future<SimResult>> futures = new ArrayList<>();
            for (long seed : seeds) {
                futures.add(pool.submit(() -> SimulateMain.runOne(seed, options.apply(seed))));
            }
            for (Future<SimResult> f : futures) {
                SimResult r = f.get();
                if (!r.passed()) {
                    Scenario.Options o = options.apply(r.scenario().seed());
                    Integer nodes = o.nodes();
                    // A strategy given on the command line is not drawn: name it only when the options did.
                    String line = r.failureLine() + "\n    replay: scripts/simulate.sh --seed " + r.scenario().seed()
                            + (o.strategy() == null ? "" : " --strategy " + o.strategy()) + simulateFlags
                            + (nodes == null ? "" : " --nodes " + nodes) + "   or   -Dbftledger.seed=" + r.scenario().seed();
                    failures.add(line);
                    System.out.println(line);
                }
            }
        } finally {
            pool.shutdownNow();
        }
        return failures;
    }
}
