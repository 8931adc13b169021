package bftledger.chaos;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import bftledger.chaos.FaultSchedule.Fault;
import bftledger.chaos.FaultSchedule.Kind;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * The chaos run's schedule: seeded (one seed, one sequence), every fault on one node within its
 * bounds, and every kind, strategy and storage damage within each round, over many seeds. "Never two faults at
 * once" is the runner's sequencing (fault k+1 starts after fault k is undone and healthy); what
 * the schedule owes it is one node per fault and bounded durations, checked here.
 */
class FaultScheduleTest {
    private static final long SEEDS = 200;

    private static long baseSeed() {
        String s = System.getProperty("bftledger.seed");
        return s != null ? Long.parseLong(s) : new SplittableRandom().nextLong();
    }

    @Test
    void sameSeedSameSequence() {
        long seed = baseSeed();
        FaultSchedule a = FaultSchedule.standard(seed, 4);
        FaultSchedule b = FaultSchedule.standard(seed, 4);
        for (int k = 0; k < 50; k++) {
            assertEquals(a.next(), b.next(), "seed " + seed + " (replay with -Dbftledger.seed=" + seed + "), fault " + k);
        }
    }

    @Test
    void boundedSingleNodeFaultsCoveringEveryKind() {
        long base = baseSeed();
        for (long s = 0; s < SEEDS; s++) {
            long seed = base + s;
            String why = "seed " + seed + " (replay with -Dbftledger.seed=" + seed + ")";
            FaultSchedule schedule = FaultSchedule.standard(seed, 4);
            List<Fault> faults = new ArrayList<>();
            int kinds = Kind.values().length;
            for (int k = 0; k < 6 * kinds; k++) {
                faults.add(schedule.next());
            }
            Set<String> strategies = new HashSet<>();
            List<String> damages = new ArrayList<>();
            for (int k = 0; k < faults.size(); k++) {
                Fault f = faults.get(k);
                assertEquals(k, f.index(), why);
                assertTrue(f.node() == FaultSchedule.PRIMARY || (f.node() >= 0 && f.node() < 4), why + ": node " + f.node());
                assertTrue(f.durationMillis() >= 3_000 && f.durationMillis() <= 8_000, why + ": duration " + f.durationMillis());
                assertTrue(f.gapMillis() >= 2_000 && f.gapMillis() <= 5_000, why + ": gap " + f.gapMillis());
                if (f.kind() == Kind.BYZANTINE) {
                    assertNotNull(f.strategy(), why);
                    assertTrue(FaultSchedule.STRATEGIES.contains(f.strategy()), why + ": " + f.strategy());
                    strategies.add(f.strategy());
                    if (f.strategy().equals("equivocate-primary")) {
                        assertEquals(FaultSchedule.PRIMARY, f.node(), why + ": equivocation aimed at a backup");
                    }
                } else {
                    assertNull(f.strategy(), why);
                }
                if (f.kind() == Kind.STORAGE) {
                    assertTrue(FaultSchedule.DAMAGES.contains(f.damage()), why + ": " + f.damage());
                    damages.add(f.damage());
                } else {
                    assertNull(f.damage(), why);
                }
            }
            for (int round = 0; round < faults.size() / kinds; round++) {
                EnumSet<Kind> seen = EnumSet.noneOf(Kind.class);
                faults.subList(round * kinds, round * kinds + kinds).forEach(f -> seen.add(f.kind()));
                assertEquals(EnumSet.allOf(Kind.class), seen, why + ": round " + round);
            }
            assertEquals(Set.copyOf(FaultSchedule.STRATEGIES), strategies, why + ": six Byzantine faults, each strategy twice");
            assertEquals(Set.copyOf(FaultSchedule.DAMAGES), Set.copyOf(damages.subList(0, FaultSchedule.DAMAGES.size())),
                    why + ": the first four storage faults, each damage once");
        }
    }

    @Test
    void timelineFigures() {
        CommitTimeline t = new CommitTimeline();
        long s = 1_000_000_000L;
        t.add(0, s / 2, true);          // second 0
        t.add(s, 3 * s + s / 2, true);  // second 3
        t.add(s, 2 * s, false);         // not acknowledged: no commit in second 2
        t.add(4 * s, 9 * s, true);      // second 9
        assertEquals(30.0, t.availabilityPercent(0, 10 * s), 1e-9);
        assertEquals(5_500_000_000L, t.longestGapNanos(0, 10 * s));
        assertEquals(5 * s, t.percentileNanos(99, null), 5 * s / 1000, "within 0.1%");
        assertEquals(s / 2, t.percentileNanos(1, null), s / 2 / 1000, "within 0.1%");
        List<CommitTimeline.Window> during = List.of(new CommitTimeline.Window(s, 2 * s));
        assertEquals(2_500_000_000L, t.percentileNanos(99, during), 2_500_000, "within 0.1%");
        assertEquals(1, t.acknowledgedIn(during));
        assertEquals(-1, t.percentileNanos(99, List.of(new CommitTimeline.Window(20 * s, 21 * s))));
    }
}
