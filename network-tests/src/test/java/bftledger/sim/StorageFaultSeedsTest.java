package bftledger.sim;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The simulator with storage faults: every crashed replica the fault budget allows (f, counting
 * the Byzantine ones) restarts with its WAL corrupted, torn, lost or replaced by an older copy,
 * detects it as the node does and rejoins without voting under its signing floor. Every check
 * holds, {@link SecondVotes} among them: no honest replica, damaged or not, signs two different
 * messages for one slot. Budget: 1,000 seeds (-Dbftledger.storageSeeds=N), honest runs every
 * other seed and each Byzantine strategy in turn between them, on all cores; -Dbftledger.seed=S
 * replays one ({@code scripts/simulate.sh --seed S --strategy NAME --storage-faults} traces it).
 */
class StorageFaultSeedsTest {
    private static final long FIRST_SEED = 3_000_000;

    /** Honest runs every other seed (the whole budget for storage faults), each strategy in turn between them. */
    static Scenario.Options optionsFor(long seed) {
        List<String> names = new ArrayList<>(Strategies.names());
        names.add(Scenario.MIXED);
        String strategy = seed % 2 == 0 ? Scenario.HONEST : names.get((int) Math.floorMod(seed / 2, (long) names.size()));
        return new Scenario.Options(strategy, null, true);
    }

    @Test
    @Timeout(value = 15, unit = TimeUnit.MINUTES)
    void damagedWalsNeverLeadToASecondVote() throws Exception {
        String replay = System.getProperty("bftledger.seed");
        List<Long> seeds = new ArrayList<>();
        if (replay != null) {
            seeds.add(Long.parseLong(replay));
        } else {
            long budget = Long.getLong("bftledger.storageSeeds", 1_000);
            for (long s = FIRST_SEED; s < FIRST_SEED + budget; s++) {
                seeds.add(s);
            }
        }
        int faulted = 0;
        for (long seed : seeds) {
            faulted += Scenario.draw(seed, optionsFor(seed)).storageFaults().isEmpty() ? 0 : 1;
        }
        ExecutorService pool = Executors.newFixedThreadPool(Math.max(1, Runtime.getRuntime().availableProcessors()));
        List<String> failures = new ArrayList<>();
        try {
            List<Future<SimResult>> futures = new ArrayList<>();
            for (long seed : seeds) {
                futures.add(pool.submit(() -> SimulateMain.runOne(seed, optionsFor(seed))));
            }
            for (Future<SimResult> f : futures) {
                SimResult r = f.get();
                if (!r.passed()) {
                    String line = r.failureLine() + "\n    replay: scripts/simulate.sh --seed " + r.scenario().seed()
                            + " --strategy " + r.scenario().strategy() + " --storage-faults   or   -Dbftledger.seed="
                            + r.scenario().seed();
                    failures.add(line);
                    System.out.println(line);
                }
            }
        } finally {
            pool.shutdownNow();
        }
        System.out.println("StorageFaultSeedsTest: " + (seeds.size() - failures.size()) + " passed, " + failures.size()
                + " failed; " + faulted + " runs with storage faults");
        assertTrue(replay != null || faulted >= seeds.size() / 2, "only " + faulted + " of " + seeds.size()
                + " runs had storage faults");
        assertTrue(failures.isEmpty(), failures.size() + " of " + seeds.size() + " seeds failed:\n" + String.join("\n", failures));
    }
}
