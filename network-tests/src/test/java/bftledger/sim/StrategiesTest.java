package bftledger.sim;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import bftledger.crypto.KeyPair;
import bftledger.crypto.PublicKey;
import bftledger.crypto.Sha256;
import bftledger.pbft.Batch;
import bftledger.pbft.Config;
import bftledger.pbft.MessageFactory;
import bftledger.pbft.MessageVerifier;
import bftledger.pbft.PrePrepare;
import bftledger.pbft.Prepare;
import bftledger.pbft.Request;
import bftledger.pbft.Signed;
import bftledger.pbft.Verdict;
import bftledger.pbft.ViewChange;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * Each strategy on its own, outside the simulator: given what replica 0 is about to send, what
 * it actually sends, checked with pbft's real verifier. This is how a Byzantine node process
 * will use them.
 */
class StrategiesTest {
    private static final KeyPair CLIENT = KeyPair.deterministic("strategies-test-client");
    private final List<KeyPair> keys = new ArrayList<>();
    private final Config config;
    private final MessageVerifier verifier;

    StrategiesTest() {
        List<PublicKey> validators = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            keys.add(KeyPair.deterministic("strategies-test-" + i));
            validators.add(keys.get(i).publicKey());
        }
        config = Config.of(validators, 0, keys.get(0)).withCheckpoints(4, 8).withBatching(4, 4096, 512, 2);
        verifier = new MessageVerifier(config, SimRequests.VALIDATOR);
    }

    private ByzantineStrategy strategy(String name, long seed) {
        return Strategies.create(name, StrategyContext.of(config, new SplittableRandom(seed)), List.of(CLIENT.publicKey()));
    }

    private Signed<PrePrepare> prePrepare(long sequence) {
        Request r = SimRequests.signed(CLIENT, "request " + sequence);
        Request s = SimRequests.signed(CLIENT, "other " + sequence);
        return new MessageFactory(0, keys.get(0)).prePrepare(0, sequence, new Batch(1000 + sequence, List.of(r, s)));
    }

    private Verdict<Signed<?>> verify(Send s) {
        return verifier.verify(s.wire());
    }

    @Test
    void everyStrategyHasAStableNameAndADescription() {
        assertEquals(List.of("equivocate-primary", "equivocate-backup", "silent", "slow-primary", "censor",
                "forge-view-change", "replay", "bad-signatures", "malformed", "flood", "twins"), Strategies.names());
        for (String name : Strategies.names()) {
            ByzantineStrategy s = strategy(name, 1);
            assertEquals(name, s.name());
            assertFalse(s.description().isBlank());
            assertEquals(s.description(), Strategies.description(name));
        }
    }

    @Test
    void equivocatingPrimarySendsDifferentValidPrePreparesToDifferentBackups() {
        ByzantineStrategy s = strategy("equivocate-primary", 2);
        Set<String> digests = new HashSet<>();
        for (long seq = 1; seq <= 6; seq++) {
            Signed<PrePrepare> pp = prePrepare(seq);
            for (int to = 1; to < 4; to++) {
                for (Send send : s.onSend(pp, to)) {
                    Verdict<Signed<?>> v = verify(send);
                    assertTrue(v.accepted(), v.toString());
                    digests.add(seq + "/" + ((PrePrepare) v.value().payload()).digest().hex());
                }
            }
        }
        assertTrue(digests.size() >= 6 + 3, "expected conflicting pre-prepares for several sequences: " + digests.size());
    }

    @Test
    void equivocatingBackupSignsConflictingVotes() {
        ByzantineStrategy s = strategy("equivocate-backup", 3);
        Signed<Prepare> p = new MessageFactory(0, keys.get(0)).prepare(1, 5, Sha256.hash(new byte[] {1}));
        Set<String> digests = new HashSet<>();
        for (int round = 0; round < 10; round++) {
            for (int to = 1; to < 4; to++) {
                for (Send send : s.onSend(p, to)) {
                    Verdict<Signed<?>> v = verify(send);
                    assertTrue(v.accepted(), v.toString());
                    digests.add(((Prepare) v.value().payload()).digest().hex());
                }
            }
        }
        assertEquals(2, digests.size());
    }

    @Test
    void silentSendsNothingAndSlowPrimaryHoldsPrePreparesBack() {
        assertEquals(List.of(), strategy("silent", 4).onSend(prePrepare(1), 2));
        Send held = strategy("slow-primary", 4).onSend(prePrepare(1), 2).get(0);
        assertEquals(config.requestTimeoutTicks() * 3 / 4, held.delayTicks());
        Signed<Prepare> p = new MessageFactory(0, keys.get(0)).prepare(1, 1, Sha256.hash(new byte[] {2}));
        assertEquals(0, strategy("slow-primary", 4).onSend(p, 2).get(0).delayTicks());
    }

    @Test
    void censorRefusesTheVictimsRequestsOnly() {
        ByzantineStrategy s = strategy("censor", 5);
        assertFalse(s.admitRequest(SimRequests.signed(CLIENT, "victim")));
        assertTrue(s.admitRequest(SimRequests.signed(KeyPair.deterministic("someone else"), "fine")));
    }

    @Test
    void badSignaturesAndMalformedFramesAreRefusedByTheVerifier() {
        for (String name : List.of("bad-signatures", "malformed")) {
            ByzantineStrategy s = strategy(name, 6);
            int refused = 0;
            int total = 0;
            for (long seq = 1; seq <= 40; seq++) {
                Signed<PrePrepare> pp = prePrepare(seq);
                for (Send send : s.onSend(pp, 1)) {
                    total++;
                    Verdict<Signed<?>> v = verify(send);
                    if (!v.accepted()) {
                        refused++;
                    } else {
                        assertTrue(java.util.Arrays.equals(pp.wire(), send.wire()), name + " let a changed message through: " + v);
                    }
                }
            }
            assertTrue(refused > total / 4, name + ": only " + refused + " of " + total + " refused");
        }
    }

    @Test
    void floodAddsValidlySignedExtraMessages() {
        ByzantineStrategy s = strategy("flood", 7);
        List<Send> sends = s.onSend(prePrepare(3), 1);
        assertTrue(sends.size() > 1);
        assertTrue(sends.stream().skip(1).anyMatch(x -> verify(x).accepted()), "flood messages are validly signed");
    }

    @Test
    void forgedViewChangesAreRefusedOrCarryNoCertificates() {
        ByzantineStrategy s = strategy("forge-view-change", 8);
        MessageFactory factory = new MessageFactory(0, keys.get(0));
        for (long view = 1; view <= 12; view++) {
            Signed<ViewChange> vc = factory.viewChange(view, 0, config.genesisDigest(), List.of(), List.of());
            Send sent = s.onSend(vc, 1).get(0);
            Verdict<Signed<?>> v = verify(sent);
            if (v.accepted()) {
                assertEquals(List.of(), ((ViewChange) v.value().payload()).prepared());
            }
        }
    }

    @Test
    void replayResendsEarlierMessages() {
        ByzantineStrategy s = strategy("replay", 9);
        Set<String> earlier = new HashSet<>();
        boolean replayed = false;
        for (long seq = 1; seq <= 30; seq++) {
            Signed<PrePrepare> pp = prePrepare(seq);
            List<Send> sends = s.onSend(pp, 1);
            for (Send x : sends.subList(1, sends.size())) {
                replayed |= earlier.contains(java.util.HexFormat.of().formatHex(x.wire()));
            }
            earlier.add(java.util.HexFormat.of().formatHex(pp.wire()));
        }
        assertTrue(replayed);
    }

    @Test
    void twinsSplitTheOtherReplicas() {
        Twins a = (Twins) strategy("twins", 10);
        Twins b = a.other();
        Set<Integer> union = new HashSet<>(a.side());
        union.addAll(b.side());
        assertEquals(Set.of(1, 2, 3), union);
        for (int r = 1; r < 4; r++) {
            assertNotEquals(a.hears(r), b.hears(r));
            assertEquals(a.hears(r), !a.onSend(prePrepare(1), r).isEmpty());
        }
    }
}
