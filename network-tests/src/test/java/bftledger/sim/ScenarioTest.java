package bftledger.sim;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.HashSet;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * What a seed draws: within f Byzantine replicas (in every validator set), valid configurations,
 * faults only before they end.
 */
class ScenarioTest {
    @Test
    void drawsStayWithinTheFaultModel() {
        Set<String> strategies = new HashSet<>();
        Set<Integer> fs = new HashSet<>();
        for (long seed = 0; seed < 3000; seed++) {
            Scenario s = Scenario.draw(seed, Scenario.Options.NONE);
            strategies.add(s.strategy());
            fs.add(s.f());
            assertTrue(s.byzantine().stream().filter(r -> r < s.n()).count() <= s.f(), "seed " + seed + ": " + s.describe());
            if (s.membership() != null) {
                for (Membership.Change c : s.membership().changes()) {
                    long bad = c.next().stream().filter(m -> s.byzantine().contains(m.machine())).count();
                    assertTrue(bad <= (c.next().size() - 1) / 3, "seed " + seed + ": " + s.describe());
                }
            } else {
                assertTrue(s.byzantine().size() <= s.f(), "seed " + seed + ": " + s.describe());
            }
            assertEquals(s.strategy().equals(Scenario.HONEST), s.byzantine().isEmpty(), "seed " + seed);
            assertEquals(s.byzantine().size(), new HashSet<>(s.byzantine()).size());
            assertTrue(s.watermarkWindow() % s.checkpointInterval() == 0 && s.pipelineDepthMax() <= s.watermarkWindow());
            for (Scenario.Crash c : s.crashes()) {
                assertTrue(!s.byzantine().contains(c.replica()), "only honest replicas crash: seed " + seed);
                assertTrue(c.crashTick() < c.restartTick() && c.crashTick() < s.faultEndTick());
            }
            for (Scenario.Partition p : s.partitions()) {
                assertTrue(!p.sideA().isEmpty() && p.sideA().size() < s.n() && p.startTick() < p.endTick());
            }
            assertTrue(s.submitWindowTicks() <= s.faultEndTick() && s.deadlineTick() > s.faultEndTick());
        }
        assertEquals(Strategies.names().size() + 2, strategies.size(), "every strategy, honest and mixed runs get drawn");
        assertEquals(Set.of(1, 2, 3, 4), fs);
    }

    /** Storage faults count toward f with the Byzantine replicas, hit only crashed honest ones, and keep the other draws. */
    @Test
    void storageFaultsStayWithinTheFaultBudget() {
        Set<Scenario.StorageFault.Kind> kinds = new HashSet<>();
        for (long seed = 0; seed < 3000; seed++) {
            Scenario forced = Scenario.draw(seed, new Scenario.Options(Scenario.HONEST, null, true));
            Scenario plain = Scenario.draw(seed, new Scenario.Options(Scenario.HONEST, null));
            assertTrue(forced.byzantine().size() + forced.storageFaults().size() <= forced.f(), "seed " + seed);
            assertTrue(!forced.storageFaults().isEmpty(), "an honest run with storage faults forced has one: seed " + seed);
            for (Scenario.StorageFault f : forced.storageFaults()) {
                kinds.add(f.kind());
                assertTrue(forced.crashes().stream().anyMatch(c -> c.replica() == f.replica()), "seed " + seed);
            }
            if (plain.membership() == null) { // a run with changes draws its size first
                assertEquals(plain.faultEndTick(), forced.faultEndTick(), "drawn after everything else: seed " + seed);
                assertEquals(plain.statusTicks(), forced.statusTicks(), "seed " + seed);
            }
        }
        assertEquals(Set.of(Scenario.StorageFault.Kind.values()), kinds);
    }

    /** Any n >= 4, with f = floor((n-1)/3); n = 3f+1 draws exactly what f alone does. */
    @Test
    void anyNodeCountDrawsThatSizeWithinItsFaultBudget() {
        for (int nodes = 4; nodes <= 8; nodes++) {
            int n = nodes;
            for (long seed = 0; seed < 200; seed++) {
                Scenario s = Scenario.draw(seed, new Scenario.Options(null, null, seed % 2 == 0, n));
                assertEquals(n, s.n());
                assertEquals((n - 1) / 3, s.f());
                assertTrue(s.byzantine().size() + s.storageFaults().size() <= s.f(), "seed " + seed + ": " + s.describe());
                assertTrue(s.byzantine().stream().allMatch(r -> r < n) && s.crashes().stream().allMatch(c -> c.replica() < n));
                for (Scenario.Partition p : s.partitions()) {
                    assertTrue(p.sideA().size() < n && p.sideA().stream().allMatch(r -> r < n));
                }
            }
        }
        for (long seed = 0; seed < 50; seed++) {
            assertEquals(Scenario.draw(seed, new Scenario.Options("twins", 2)),
                    Scenario.draw(seed, new Scenario.Options("twins", null, false, 7)));
        }
    }

    /** A quarter of the default runs change their set, all with the option; the other draws of a run without changes stay. */
    @Test
    void membershipIsDrawnForAQuarterOfTheDefaultRunsAndForcedByItsOption() {
        int drawn = 0;
        for (long seed = 0; seed < 2000; seed++) {
            Scenario s = Scenario.draw(seed, Scenario.Options.NONE);
            drawn += s.membership() != null ? 1 : 0;
            Scenario forced = Scenario.draw(seed, new Scenario.Options(null, null, false, null, true));
            assertTrue(forced.membership() != null && !forced.membership().changes().isEmpty(), "seed " + seed);
            assertTrue(forced.n() >= 4 && forced.n() <= 7, "seed " + seed);
            assertTrue(Scenario.draw(seed, new Scenario.Options(null, 1)).membership() == null, "a fixed f: no changes");
        }
        assertTrue(drawn > 400 && drawn < 600, drawn + " of 2000");
    }

    @Test
    void optionsFixStrategyAndSize() {
        for (long seed = 0; seed < 50; seed++) {
            Scenario s = Scenario.draw(seed, new Scenario.Options("twins", 2));
            assertEquals("twins", s.strategy());
            assertEquals(7, s.n());
            assertEquals(s, Scenario.draw(seed, new Scenario.Options("twins", 2)));
        }
    }
}
