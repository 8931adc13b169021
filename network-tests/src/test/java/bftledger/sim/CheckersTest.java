package bftledger.sim;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import bftledger.crypto.Digest;
import bftledger.crypto.KeyPair;
import bftledger.crypto.Signature;
import bftledger.pbft.MessageType;
import bftledger.pbft.Request;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** Each checker, fed a hand-made history that violates it, must say so (and stay quiet on a good one). */
class CheckersTest {
    private static final KeyPair CLIENT = KeyPair.deterministic("checkers-test-client");
    private static final Request A = SimRequests.signed(CLIENT, "a");
    private static final Request B = SimRequests.signed(CLIENT, "b");
    private static final Request C = SimRequests.signed(CLIENT, "c");

    /** A history built through the real application, so digests chain as in a run. */
    private static List<App.Executed> history(List<List<Request>> batches) {
        App app = new App(Digest.ZERO);
        long sequence = 1;
        for (List<Request> batch : batches) {
            app.execute(new bftledger.pbft.Output.CommittedBatch(sequence, 0, sequence,
                    batch, bftledger.crypto.HeaderAnchor.NONE, new bftledger.pbft.Batch(sequence, batch).digest(), List.of()));
            sequence++;
        }
        return app.history();
    }

    @Test
    void agreementHoldsForPrefixes() {
        var longer = history(List.of(List.of(A), List.of(B), List.of(C)));
        var shorter = history(List.of(List.of(A), List.of(B)));
        assertEquals(List.of(), Checkers.agreement(Map.of(1, longer, 2, shorter, 3, List.of())));
    }

    @Test
    void agreementCatchesDivergentBatches() {
        var x = history(List.of(List.of(A), List.of(B)));
        var y = history(List.of(List.of(A), List.of(C)));
        List<Violation> v = Checkers.agreement(Map.of(1, x, 3, y));
        assertTrue(!v.isEmpty() && v.get(0).check().equals("agreement"), v.toString());
        assertEquals(List.of(1, 3), v.get(0).replicas());
        assertTrue(v.get(0).detail().contains("sequence 2"), v.get(0).detail());
    }

    @Test
    void agreementCatchesSameBatchesDifferentOrderOfRequests() {
        var x = history(List.of(List.of(A, B)));
        var y = history(List.of(List.of(B, A)));
        assertTrue(!Checkers.agreement(Map.of(0, x, 1, y)).isEmpty());
    }

    @Test
    void validityCatchesUnsubmittedAndUnsignedRequests() {
        Request forged = SimRequests.build(CLIENT.publicKey(), new byte[Signature.LENGTH],
                "forged".getBytes(StandardCharsets.UTF_8));
        var h = history(List.of(List.of(A), List.of(forged)));
        Set<Digest> submittedOnlyA = Set.of(A.id());
        List<Violation> v = Checkers.validity(Map.of(2, h), submittedOnlyA, SimRequests.VALIDATOR);
        assertEquals(1, v.size(), v.toString());
        assertEquals("validity", v.get(0).check());
        assertTrue(v.get(0).detail().contains("no client submitted"));
        List<Violation> v2 = Checkers.validity(Map.of(2, h), Set.of(A.id(), forged.id()), SimRequests.VALIDATOR);
        assertEquals(1, v2.size(), v2.toString());
        assertTrue(v2.get(0).detail().contains("bad client signature"), v2.get(0).detail());
        assertEquals(List.of(), Checkers.validity(Map.of(2, history(List.of(List.of(A)))), submittedOnlyA, SimRequests.VALIDATOR));
    }

    @Test
    void integrityCatchesARequestExecutedTwice() {
        // The real application refuses to execute an id twice, so build the bad history by hand.
        var good = history(List.of(List.of(A), List.of(B)));
        List<App.Executed> bad = new ArrayList<>(good);
        App.Executed second = good.get(1);
        bad.set(1, new App.Executed(second.sequence(), second.batchDigest(), List.of(A), List.of(A.id()), second.state(), null));
        List<Violation> v = Checkers.integrity(Map.of(0, bad));
        assertEquals(1, v.size(), v.toString());
        assertTrue(v.get(0).detail().contains("sequence 1 and again at 2"), v.get(0).detail());
        assertEquals(List.of(), Checkers.integrity(Map.of(0, good)));
    }

    @Test
    void theApplicationExecutesAnIdAtMostOnce() {
        var h = history(List.of(List.of(A), List.of(A, B)));
        assertEquals(List.of(B.id()), h.get(1).effective());
        assertEquals(List.of(), Checkers.integrity(Map.of(0, h)));
    }

    @Test
    void livenessNamesEachReplicaMissingARequest() {
        var all = history(List.of(List.of(A, B, C)));
        var some = history(List.of(List.of(A)));
        List<Violation> v = Checkers.liveness(Map.of(0, all, 1, some), List.of(A.id(), B.id(), C.id()), 500);
        assertEquals(1, v.size(), v.toString());
        assertEquals(List.of(1), v.get(0).replicas());
        assertTrue(v.get(0).detail().startsWith("2 of 3 requests"), v.get(0).detail());
    }

    @Test
    void evidenceCatchesAnUnrecordedEquivocation() {
        var q = new Checkers.Equivocation(0, MessageType.PRE_PREPARE, 0, 5, 2);
        List<Violation> v = Checkers.evidence(List.of(q), Set.of());
        assertEquals(1, v.size());
        assertEquals(List.of(2, 0), v.get(0).replicas());
        var other = new Checkers.EvidenceKey(0, MessageType.PRE_PREPARE, 0, 6);
        assertEquals(1, Checkers.evidence(List.of(q), Set.of(other)).size(), "evidence for another slot does not count");
        var right = new Checkers.EvidenceKey(0, MessageType.PRE_PREPARE, 0, 5);
        assertEquals(List.of(), Checkers.evidence(List.of(q), Set.of(right)));
    }

    @Test
    void logBoundCatchesALogLargerThanTheWindow() {
        assertEquals(List.of(), Checkers.logBound(1, 8, 8, 10));
        List<Violation> v = Checkers.logBound(1, 9, 8, 10);
        assertEquals(1, v.size());
        assertEquals("log-bound", v.get(0).check());
    }

    @Test
    void falseEvidenceCatchesFramingAndForgedPairs() {
        List<bftledger.crypto.PublicKey> validators = new ArrayList<>();
        List<KeyPair> keys = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            keys.add(KeyPair.deterministic("checkers-test-replica-" + i));
            validators.add(keys.get(i).publicKey());
        }
        bftledger.pbft.Config config = bftledger.pbft.Config.of(validators, 0, keys.get(0));
        bftledger.pbft.MessageVerifier verifier = new bftledger.pbft.MessageVerifier(config, SimRequests.VALIDATOR);
        bftledger.pbft.MessageFactory two = new bftledger.pbft.MessageFactory(2, keys.get(2));
        var first = two.prepare(0, 3, bftledger.crypto.Sha256.hash(new byte[] {1}));
        var second = two.prepare(0, 3, bftledger.crypto.Sha256.hash(new byte[] {2}));
        var evidence = new bftledger.pbft.Output.Evidence(2, MessageType.PREPARE, 0, 3, first, second);
        assertEquals(List.of(), Checkers.falseEvidence(1, evidence, Set.of(2), verifier));
        List<Violation> framed = Checkers.falseEvidence(1, evidence, Set.of(3), verifier);
        assertEquals(1, framed.size());
        assertTrue(framed.get(0).detail().contains("accuses honest replica 2"), framed.get(0).detail());
        var forged = bftledger.pbft.MessageCodec.withSignature(second.payload(), 2, new byte[Signature.LENGTH]);
        var badPair = new bftledger.pbft.Output.Evidence(2, MessageType.PREPARE, 0, 3, first, forged);
        assertTrue(Checkers.falseEvidence(1, badPair, Set.of(2), verifier).get(0).detail().contains("not a valid PREPARE"));
        var same = new bftledger.pbft.Output.Evidence(2, MessageType.PREPARE, 0, 3, first, first);
        assertEquals(1, Checkers.falseEvidence(1, same, Set.of(2), verifier).size());
    }
}
