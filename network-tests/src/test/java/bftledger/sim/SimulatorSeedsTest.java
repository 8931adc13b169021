package bftledger.sim;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The simulator in the suite: a fixed budget of seeds (default 2,000; -Dbftledger.seeds=N),
 * strategies round-robin over every Byzantine strategy, honest runs with network faults, and
 * mixed runs (a strategy per Byzantine replica),
 * f and the fault mix drawn from each seed, on all cores; then seeds with n = 5 and n = 7
 * alternately (default 240; -Dbftledger.largerSeeds=N), so quorums of n > 3f+1 run too. Every
 * failing seed is printed with what broke; -Dbftledger.seed=S replays one seed (as its
 * round-robin strategy and size). {@code scripts/simulate.sh --seed S --strategy NAME} shows its
 * trace.
 */
class SimulatorSeedsTest {
    private static final long FIRST_SEED = 1_000_000;
    private static final long LARGER_FIRST_SEED = 6_000_000;

    /** Seed {@code seed}'s strategy: round robin over the strategies, honest and mixed runs; n = 5 or 7 from the larger range. */
    static Scenario.Options optionsFor(long seed) {
        List<String> names = new ArrayList<>(Strategies.names());
        names.add(Scenario.HONEST);
        names.add(Scenario.MIXED);
        if (seed >= LARGER_FIRST_SEED) {
            String strategy = names.get((int) Math.floorMod(seed / 2, (long) names.size()));
            return new Scenario.Options(strategy, null, false, seed % 2 == 0 ? 5 : 7);
        }
        return new Scenario.Options(names.get((int) Math.floorMod(seed, (long) names.size())), null);
    }

    // About 90 s of CPU per core on 2 cores; the build machine is shared by several builds, so
    // allow more than the suite's 5-minute default before calling it hung.
    @Test
    @Timeout(value = 20, unit = TimeUnit.MINUTES)
    void everySeedKeepsEveryProperty() throws Exception {
        List<Long> seeds = SeedBatch.seeds(FIRST_SEED, Long.getLong("bftledger.seeds", 2_000), LARGER_FIRST_SEED,
                Long.getLong("bftledger.largerSeeds", 240));
        List<String> failures = SeedBatch.failures(seeds, SimulatorSeedsTest::optionsFor, "");
        System.out.println("SimulatorSeedsTest: " + (seeds.size() - failures.size()) + " passed, " + failures.size() + " failed");
        assertTrue(failures.isEmpty(), failures.size() + " of " + seeds.size() + " seeds failed:\n" + String.join("\n", failures));
    }
}
