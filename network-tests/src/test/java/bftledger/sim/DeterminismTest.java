package bftledger.sim;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** A seed is a complete description of a run: the same seed twice gives the same trace and outcome. */
class DeterminismTest {
    @Test
    void sameSeedGivesTheIdenticalTrace() {
        for (long seed : new long[] {11, 23, 57}) {
            Scenario scenario = Scenario.draw(seed, Scenario.Options.NONE);
            SimResult first = Simulation.run(scenario, true);
            SimResult second = Simulation.run(scenario, true);
            assertTrue(first.trace().length() > 1000, "trace too short to mean anything for seed " + seed);
            assertEquals(first.trace(), second.trace(), "trace differs for seed " + seed);
            assertEquals(first.fingerprint(), second.fingerprint(), "outcome differs for seed " + seed);
            assertEquals(first.violations(), second.violations());
        }
    }

    @Test
    void tracingDoesNotChangeTheRun() {
        Scenario scenario = Scenario.draw(5, new Scenario.Options("equivocate-primary", 1));
        assertEquals(Simulation.run(scenario, true).fingerprint(), Simulation.run(scenario, false).fingerprint());
    }

    @Test
    void everyStrategyIsDeterministic() {
        long seed = 100;
        for (String name : Strategies.names()) {
            Scenario scenario = Scenario.draw(seed++, new Scenario.Options(name, 1));
            assertEquals(Simulation.run(scenario, false).fingerprint(), Simulation.run(scenario, false).fingerprint(),
                    "strategy " + name + " seed " + scenario.seed());
        }
    }

    @Test
    void differentSeedsGiveDifferentRuns() {
        Scenario.Options options = new Scenario.Options(Scenario.HONEST, 1);
        assertNotEquals(Simulation.run(Scenario.draw(1, options), false).fingerprint(),
                Simulation.run(Scenario.draw(2, options), false).fingerprint());
    }
}
