package bftledger.sim;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The harness must be able to fail: with two Byzantine replicas out of four (beyond f = 1), a
 * colluding primary and backup show each half of the honest replicas a different batch for
 * every slot; each half then has its 2f+1 votes and commits its own batch, and the agreement
 * check must catch it. The same attack by the primary alone (within f) must be survived.
 */
class BeyondFaultThresholdTest {
    private static Scenario collusion(long seed, List<Integer> byzantine) {
        return new Scenario(seed, 1, Collusion.NAME, byzantine, 2, 8, 20, 50, 0, 0, 1, List.of(), List.of(),
                40, 4, 8, 2, 2, 40, 40, 3, 20);
    }

    @Test
    void twoColludingEquivocatorsBreakAgreementAndTheCheckerSaysSo() {
        for (long seed = 1; seed <= 5; seed++) {
            SimResult r = Simulation.run(collusion(seed, List.of(0, 1)), false);
            assertTrue(r.violations().stream().anyMatch(v -> v.check().equals("agreement")
                            && v.replicas().containsAll(List.of(2, 3))),
                    "seed " + seed + ": expected an agreement violation between replicas 2 and 3, got " + r.violations());
        }
    }

    @Test
    void theSameAttackWithinTheThresholdIsSurvived() {
        for (long seed = 1; seed <= 5; seed++) {
            SimResult r = Simulation.run(collusion(seed, List.of(0)), false);
            assertTrue(r.passed(), () -> r.failureLine());
        }
    }
}
