package bftledger.sim;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The strategies bite: a silent or censoring primary forces the honest replicas to change view
 * (and they still execute everything), and a slow primary stretches a run well beyond an honest
 * one on the same quiet network. A strategy that did nothing would pass the seed budget too, so
 * this is what shows the budget tests something.
 */
class StrategyEffectTest {
    private static Scenario quiet(long seed, String strategy) {
        return new Scenario(seed, 1, strategy, strategy.equals(Scenario.HONEST) ? List.of() : List.of(0), 1, 8, 20, 50,
                0, 0, 1, List.of(), List.of(), 40, 4, 8, 2, 2, 40, 40, 3, 20);
    }

    @Test
    void silentAndCensoringPrimariesAreReplaced() {
        for (String strategy : List.of("silent", "censor")) {
            SimResult r = Simulation.run(quiet(1, strategy), false);
            assertTrue(r.passed(), r::failureLine);
            assertTrue(r.viewChanges() > 0, strategy + ": honest replicas never changed view");
        }
        SimResult honest = Simulation.run(quiet(1, Scenario.HONEST), false);
        assertTrue(honest.passed() && honest.viewChanges() == 0, "an honest quiet run changes no view: " + honest.viewChanges());
    }

    @Test
    void aSlowPrimaryDragsTheRunOut() {
        SimResult honest = Simulation.run(quiet(2, Scenario.HONEST), false);
        SimResult slow = Simulation.run(quiet(2, "slow-primary"), false);
        assertTrue(slow.passed(), slow::failureLine);
        assertTrue(slow.ticks() > honest.ticks() + 20, "slow " + slow.ticks() + " vs honest " + honest.ticks());
    }
}
