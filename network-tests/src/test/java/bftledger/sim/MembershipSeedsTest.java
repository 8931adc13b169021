package bftledger.sim;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.EnumSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The simulator with validator-set changes in every run: one to three changes (add, remove,
 * replace, rotate a key; sets of 4 to 7), Byzantine replicas in every set, removed and
 * rotated-out Byzantine identities haunting the later sets, primaries cut off and replicas
 * crashed around the boundaries. A run passes only if the requests submitted after its last
 * handover commit under the last set, so every seed that passes handed over every time. Budget:
 * 300 seeds (-Dbftledger.membershipSeeds=N), strategy and faults drawn from each seed, on all
 * cores; -Dbftledger.seed=S replays one ({@code scripts/simulate.sh --seed S --membership}
 * traces it).
 */
class MembershipSeedsTest {
    private static final long FIRST_SEED = 8_000_000;
    private static final Scenario.Options OPTIONS = new Scenario.Options(null, null, false, null, true);

    @Test
    @Timeout(value = 15, unit = TimeUnit.MINUTES)
    void everyChangeHandsOverWithEveryPropertyKept() throws Exception {
        List<Long> seeds = SeedBatch.seeds(FIRST_SEED, Long.getLong("bftledger.membershipSeeds", 300));
        List<String> failures = SeedBatch.failures(seeds, seed -> OPTIONS, " --membership");
        System.out.println("MembershipSeedsTest: " + (seeds.size() - failures.size()) + " passed, " + failures.size()
                + " failed");
        assertTrue(failures.isEmpty(), failures.size() + " of " + seeds.size() + " seeds failed:\n" + String.join("\n", failures));
    }

    @Test
    void theDrawnPlansCoverEveryKindOfChangeAndBoundaryFault() {
        Set<Membership.Kind> kinds = EnumSet.noneOf(Membership.Kind.class);
        Set<Membership.At> crashes = EnumSet.noneOf(Membership.At.class);
        int ghosts = 0;
        int cutPrimaries = 0;
        int fChanges = 0;
        for (long seed = FIRST_SEED; seed < FIRST_SEED + 300; seed++) {
            Scenario s = Scenario.draw(seed, OPTIONS);
            List<Membership.Member> set = new java.util.ArrayList<>();
            for (int i = 0; i < s.n(); i++) {
                set.add(new Membership.Member(i, 0));
            }
            for (Membership.Change c : s.membership().changes()) {
                kinds.add(c.kind());
                if (c.crashAt() != null) {
                    crashes.add(c.crashAt());
                }
                cutPrimaries += c.isolatePrimaryTicks() > 0 ? 1 : 0;
                fChanges += (c.next().size() - 1) / 3 != (set.size() - 1) / 3 ? 1 : 0;
                for (Membership.Member left : set) {
                    if (!c.next().contains(left) && s.byzantine().contains(left.machine())) {
                        ghosts++;
                    }
                }
                long bad = c.next().stream().filter(m -> s.byzantine().contains(m.machine())).count();
                assertTrue(bad <= (c.next().size() - 1) / 3, "seed " + seed + ": " + bad + " Byzantine in " + c.next());
                assertTrue(c.next().size() >= 4 && c.next().size() <= 7, "seed " + seed + ": a set " + c.next());
                set = c.next();
            }
        }
        assertTrue(kinds.equals(EnumSet.allOf(Membership.Kind.class)), "kinds drawn: " + kinds);
        assertTrue(crashes.equals(EnumSet.allOf(Membership.At.class)), "crash moments drawn: " + crashes);
        assertTrue(cutPrimaries > 50 && ghosts > 50 && fChanges > 20, cutPrimaries + " cut primaries, " + ghosts
                + " Byzantine identities removed or rotated out, " + fChanges + " changes of f");
    }
}
