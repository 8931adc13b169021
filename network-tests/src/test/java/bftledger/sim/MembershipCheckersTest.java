package bftledger.sim;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import bftledger.crypto.Digest;
import bftledger.crypto.KeyPair;
import bftledger.crypto.PublicKey;
import bftledger.pbft.Batch;
import bftledger.pbft.MessageFactory;
import bftledger.pbft.Output;
import bftledger.pbft.Request;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The checks that validator-set changes add can fail: a certificate counted from a key outside
 * the set in force, a request meant for the last set ordered before it, and, in whole runs, a
 * deliberately broken verification rule that lets removed and rotated-out keys count.
 */
class MembershipCheckersTest {
    private static final KeyPair CLIENT = KeyPair.deterministic("membership-checkers-test-client");
    private static final Request A = SimRequests.signed(CLIENT, "a");

    private static List<KeyPair> keys(String prefix) {
        List<KeyPair> keys = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            keys.add(KeyPair.deterministic(prefix + i));
        }
        return keys;
    }

    private static List<PublicKey> publicKeys(List<KeyPair> keys) {
        return keys.stream().map(KeyPair::publicKey).toList();
    }

    /** One block at sequence 1 whose COMMITs are signed by {@code signers}' keys, as replicas 0..2. */
    private static List<App.Executed> blockSignedBy(List<KeyPair> signers) {
        Batch batch = new Batch(1, List.of(A));
        List<Output.CommitSignature> certificate = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            var commit = new MessageFactory(i, signers.get(i)).commit(0, 1, batch.digest());
            certificate.add(new Output.CommitSignature(i, commit.signature()));
        }
        App app = new App(Digest.ZERO);
        app.execute(new Output.CommittedBatch(1, 0, 1, List.of(A), bftledger.crypto.HeaderAnchor.NONE, batch.digest(),
                certificate));
        return app.history();
    }

    @Test
    void aCertificateCountsOnlyKeysOfTheSetInForce() {
        List<KeyPair> old = keys("membership-old-");
        List<KeyPair> rotated = new ArrayList<>(old);
        rotated.set(1, KeyPair.deterministic("membership-rotated-1"));
        List<App.Executed> history = blockSignedBy(old);
        assertEquals(List.of(), Checkers.certificates(7, history, s -> publicKeys(old), Checkers.CommitSignatures.VERIFY));
        List<Violation> v = Checkers.certificates(7, history, s -> publicKeys(rotated), Checkers.CommitSignatures.VERIFY);
        assertEquals(1, v.size(), v.toString());
        assertEquals("certificate", v.get(0).check());
        assertTrue(v.get(0).detail().contains("replica 1 is not by its key"), v.get(0).detail());
        List<Violation> smaller = Checkers.certificates(7, history, s -> publicKeys(old).subList(0, 2),
                Checkers.CommitSignatures.VERIFY);
        assertTrue(smaller.get(0).detail().contains("not a replica"), smaller.toString());
    }

    @Test
    void aRequestSubmittedAfterTheLastHandoverMustExecuteAfterItsStart() {
        List<App.Executed> history = blockSignedBy(keys("membership-old-"));
        assertEquals(List.of(), Checkers.afterHandover(Map.of(2, history), List.of(A.id()), 0));
        List<Violation> v = Checkers.afterHandover(Map.of(2, history), List.of(A.id()), 8);
        assertEquals(1, v.size(), v.toString());
        assertEquals("after-handover", v.get(0).check());
    }

    @Test
    void theSetOfTheApplicationChangesOnlyByTheOperatorsNextEpochWhileNoneIsPending() {
        Membership.Rules rules = new Membership.Rules(List.of(new Membership.Member(0, 0), new Membership.Member(1, 0),
                new Membership.Member(2, 0), new Membership.Member(3, 0)), Membership.operatorKey().publicKey(), 4, 8);
        List<Membership.Member> next = List.of(new Membership.Member(0, 1), new Membership.Member(1, 0),
                new Membership.Member(2, 0), new Membership.Member(3, 0));
        Request change = SimRequests.signed(Membership.operatorKey(), Membership.body(1, next));
        Request notOperator = SimRequests.signed(CLIENT, Membership.body(1, next));
        Request skipsAnEpoch = SimRequests.signed(Membership.operatorKey(), Membership.body(2, next));
        App app = new App(Digest.ZERO, rules);
        long s = 1;
        for (Request r : List.of(notOperator, skipsAnEpoch, change, SimRequests.signed(Membership.operatorKey(),
                Membership.body(2, rules.genesis())))) {
            Batch batch = new Batch(s, List.of(r));
            app.execute(new Output.CommittedBatch(s, 0, s, List.of(r), bftledger.crypto.HeaderAnchor.NONE, batch.digest(),
                    List.of()));
            s++;
        }
        // The change at 3 ends epoch 0 at K*floor(3/K) + L + K = 12, more than L above it; the
        // one at 4 comes while that change is pending and is refused.
        assertEquals(2, app.epochs().size(), app.epochs().toString());
        assertEquals(new Membership.Epoch(1, 12, next), app.epochs().get(1));
        assertEquals(0, app.epochInForce(12).number());
        assertEquals(1, app.epochInForce(13).number());
    }

    /**
     * The whole simulation with a broken rule: a message the set in force rejects still counts
     * when the previous set's key at its index signed it. Ghosts (removed or rotated-out
     * Byzantine identities) then get forged votes accepted, and the run fails; the same seeds
     * pass under the real rule.
     */
    @Test
    void acceptingRetiredKeysIsCaught() {
        int flagged = 0;
        int tried = 0;
        List<String> passedWithFlaw = new ArrayList<>();
        for (long seed = 1; tried < 6; seed++) {
            Scenario scenario = Scenario.draw(seed, new Scenario.Options(null, null, false, null, true));
            if (!retiresAByzantineIdentity(scenario)) {
                continue;
            }
            tried++;
            SimResult sound = Simulation.run(scenario, false);
            assertTrue(sound.passed(), sound.failureLine());
            SimResult broken = new Simulation(scenario, false, true).run();
            if (broken.violations().stream().anyMatch(v -> v.check().equals("retired-key") || v.check().equals("certificate"))) {
                flagged++;
            } else {
                passedWithFlaw.add(scenario.describe() + " -> " + broken.violations());
            }
        }
        assertTrue(flagged >= 4, flagged + " of " + tried + " runs caught the broken rule; not caught: " + passedWithFlaw);
    }

    private static boolean retiresAByzantineIdentity(Scenario s) {
        List<Membership.Member> set = new ArrayList<>();
        for (int i = 0; i < s.n(); i++) {
            set.add(new Membership.Member(i, 0));
        }
        for (Membership.Change c : s.membership().changes()) {
            for (Membership.Member left : set) {
                if (!c.next().contains(left) && s.byzantine().contains(left.machine())) {
                    return true;
                }
            }
            set = c.next();
        }
        return false;
    }
}
