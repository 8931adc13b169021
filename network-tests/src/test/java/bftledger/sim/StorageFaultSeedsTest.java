package bftledger.sim;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
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
        List<Long> seeds = SeedBatch.seeds(FIRST_SEED, Long.getLong("bftledger.storageSeeds", 1_000));
        long faulted = seeds.stream().filter(seed -> !Scenario.draw(seed, optionsFor(seed)).storageFaults().isEmpty()).count();
        List<String> failures = SeedBatch.failures(seeds, StorageFaultSeedsTest::optionsFor, " --storage-faults");
        System.out.println("StorageFaultSeedsTest: " + (seeds.size() - failures.size()) + " passed, " + failures.size()
                + " failed; " + faulted + " runs with storage faults");
        assertTrue(seeds.size() == 1 || faulted >= seeds.size() / 2, "only " + faulted + " of " + seeds.size()
                + " runs had storage faults");
        assertTrue(failures.isEmpty(), failures.size() + " of " + seeds.size() + " seeds failed:\n" + String.join("\n", failures));
    }
}
