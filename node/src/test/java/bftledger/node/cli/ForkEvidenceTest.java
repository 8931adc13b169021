package bftledger.node.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import bftledger.crypto.CommitVote;
import bftledger.crypto.Digest;
import bftledger.crypto.KeyPair;
import bftledger.crypto.PublicKey;
import bftledger.crypto.Sha256;
import bftledger.ledger.ChainGenesis;
import bftledger.ledger.CommitCertificates;
import bftledger.ledger.proto.CommitCertificate;
import bftledger.ledger.proto.Validator;
import bftledger.sdk.Network;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.SortedMap;
import java.util.SplittableRandom;
import java.util.TreeMap;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;

class ForkEvidenceTest {
    private static final long SEED = Long.getLong("bftledger.seed", System.nanoTime());

    private static List<KeyPair> keys(int n) {
        List<KeyPair> out = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            out.add(KeyPair.deterministic("fork" + i));
        }
        return out;
    }

    /** The validator keys exactly as the audit gets them: from the genesis bytes alone. */
    private static List<PublicKey> genesisKeys(List<KeyPair> keys) {
        List<Validator> validators = new ArrayList<>();
        for (int i = 0; i < keys.size(); i++) {
            validators.add(ChainGenesis.validator(keys.get(i).publicKey(), "127.0.0.1:" + (7000 + i), "node" + i));
        }
        ChainGenesis genesis = ChainGenesis.build("fork-test", validators, new TreeMap<>(), 1L);
        return Network.fromGenesisBytes(genesis.bytes()).validatorKeys();
    }

    private static Digest digest(String label) {
        return Sha256.hash(label.getBytes(StandardCharsets.UTF_8));
    }

    private static CommitCertificate cert(List<KeyPair> keys, long view, long seq, Digest d, Iterable<Integer> signers) {
        SortedMap<Integer, byte[]> sigs = new TreeMap<>();
        for (int r : signers) {
            sigs.put(r, new CommitVote(view, seq, d, r).sign(keys.get(r)));
        }
        return CommitCertificates.of(view, seq, d, sigs);
    }

    @Test
    void sameViewAndSequenceDifferentDigestsProveExactlyTheOverlap() {
        List<KeyPair> keys = keys(4);
        ForkEvidence forks = new ForkEvidence(genesisKeys(keys));
        CommitCertificate a = cert(keys, 0, 1, digest("side x"), List.of(0, 1, 2));
        CommitCertificate b = cert(keys, 0, 1, digest("side y"), List.of(0, 1, 3));
        forks.compare(1, a, List.of(0, 1, 2), b, List.of(3));
        assertEquals(List.of(0, 1), forks.culprits());
        assertEquals(List.of(), forks.suspectReplicas());
        assertEquals(2, forks.pieces().size());
        ForkEvidence.Piece p = forks.pieces().get(0);
        assertEquals(1, p.height());
        assertEquals(0, p.view());
        assertEquals(1, p.sequence());
        // The reported signatures are the signer's own votes on both digests, checkable by anyone.
        assertTrue(new CommitVote(0, 1, p.firstDigest(), p.signer()).verify(keys.get(p.signer()).publicKey(),
                HexFormat.of().parseHex(p.firstSignature())));
        assertTrue(new CommitVote(0, 1, p.secondDigest(), p.signer()).verify(keys.get(p.signer()).publicKey(),
                HexFormat.of().parseHex(p.secondSignature())));
        String json = CommandOutput.toJson(Map.of("fork_evidence", forks.json()));
        assertTrue(json.contains("conflicting-commit-certificates"), json);
        assertTrue(json.contains(p.firstSignature()) && json.contains(p.secondSignature()), json);
        assertTrue(forks.text().contains("CULPRIT: replica 0") && forks.text().contains("CULPRIT: replica 1"), forks.text());

        // The same contradiction found again, from the other side, is not counted twice.
        forks.compare(1, b, List.of(3), a, List.of(0, 1, 2));
        assertEquals(2, forks.pieces().size());
    }

    @Test
    void differentViewsMakeSuspectsNeverCulprits() {
        List<KeyPair> keys = keys(4);
        ForkEvidence forks = new ForkEvidence(genesisKeys(keys));
        CommitCertificate a = cert(keys, 0, 5, digest("view 0"), List.of(0, 1, 2));
        CommitCertificate b = cert(keys, 1, 5, digest("view 1"), List.of(1, 2, 3));
        forks.compare(5, a, List.of(0), b, List.of(1, 2, 3));
        assertEquals(List.of(), forks.culprits());
        assertEquals(List.of(1, 2), forks.suspectReplicas());
        assertTrue(forks.text().contains("not proof"), forks.text());
        assertEquals(2, forks.suspectsJson().size());
    }

    @Test
    void aForgedSignatureAccusesNoOne() {
        List<KeyPair> keys = keys(4);
        ForkEvidence forks = new ForkEvidence(genesisKeys(keys));
        Digest dx = digest("x");
        Digest dy = digest("y");
        CommitCertificate a = cert(keys, 2, 3, dx, List.of(0, 1, 2));
        // Replica 2's slot in b carries a signature made by replica 3's key (a forgery of 2's vote),
        // and replica 0's carries 0's signature over the other digest: neither verifies for b.
        SortedMap<Integer, byte[]> sigs = new TreeMap<>();
        sigs.put(0, new CommitVote(2, 3, dx, 0).sign(keys.get(0)));
        sigs.put(1, new CommitVote(2, 3, dy, 1).sign(keys.get(1)));
        sigs.put(2, new CommitVote(2, 3, dy, 2).sign(keys.get(3)));
        sigs.put(3, new CommitVote(2, 3, dy, 3).sign(keys.get(3)));
        CommitCertificate b = CommitCertificates.of(2, 3, dy, sigs);
        forks.compare(3, a, List.of(0, 1, 2), b, List.of(3));
        assertEquals(List.of(1), forks.culprits());
    }

    @Test
    void sameDigestOrDifferentSequencesAreNoConflict() {
        List<KeyPair> keys = keys(4);
        ForkEvidence forks = new ForkEvidence(genesisKeys(keys));
        Digest d = digest("same");
        forks.compare(1, cert(keys, 0, 1, d, List.of(0, 1, 2)), List.of(0), cert(keys, 0, 1, d, List.of(1, 2, 3)), List.of(1));
        forks.compare(1, cert(keys, 0, 1, digest("a"), List.of(0, 1, 2)), List.of(0),
                cert(keys, 0, 2, digest("b"), List.of(0, 1, 2)), List.of(1));
        assertEquals(List.of(), forks.culprits());
        assertEquals(List.of(), forks.suspectReplicas());
        assertEquals("", forks.text());
    }

    @Test
    void randomQuorumsCulpritsAreExactlyTheValidOverlap() {
        SplittableRandom random = new SplittableRandom(SEED);
        String why = "seed " + SEED + " (replay with -Dbftledger.seed=" + SEED + ")";
        List<KeyPair> keys = keys(7);
        List<PublicKey> validators = genesisKeys(keys);
        for (int round = 0; round < 20; round++) {
            TreeSet<Integer> sa = quorum(random, 7, 5);
            TreeSet<Integer> sb = quorum(random, 7, 5);
            long view = random.nextInt(4);
            long seq = 1 + random.nextInt(100);
            CommitCertificate a = cert(keys, view, seq, digest("a" + round), sa);
            CommitCertificate b = cert(keys, view, seq, digest("b" + round), sb);
            ForkEvidence forks = new ForkEvidence(validators);
            forks.compare(seq, a, List.of(0), b, List.of(1));
            TreeSet<Integer> expected = new TreeSet<>(sa);
            expected.retainAll(sb);
            assertEquals(List.copyOf(expected), forks.culprits(), "round " + round + " " + sa + " vs " + sb + "; " + why);
        }
    }

    private static TreeSet<Integer> quorum(SplittableRandom random, int n, int size) {
        TreeSet<Integer> out = new TreeSet<>();
        while (out.size() < size) {
            out.add(random.nextInt(n));
        }
        return out;
    }

    @Test
    void afterAChangeCertificatesAreJudgedUnderTheSetInForceAtTheirSequence() {
        List<KeyPair> keys = keys(4);
        KeyPair rotated = KeyPair.deterministic("fork0-rotated");
        List<KeyPair> nextKeys = new ArrayList<>(keys);
        nextKeys.set(0, rotated);
        var sets = EvidenceCheckTest.rotatingReplica0(genesisKeys(keys), rotated.publicKey());
        long view = 1L << 32;
        CommitCertificate a = cert(nextKeys, view, 200, digest("side x"), List.of(0, 1, 2));
        CommitCertificate b = cert(nextKeys, view, 200, digest("side y"), List.of(0, 1, 3));
        ForkEvidence following = ForkEvidence.following(sets);
        following.compare(200, a, List.of(0), b, List.of(1));
        assertEquals(List.of(0, 1), following.culprits(), "replica 0 proven under its rotated key");
        ForkEvidence genesisOnly = new ForkEvidence(genesisKeys(keys));
        genesisOnly.compare(200, a, List.of(0), b, List.of(1));
        assertEquals(List.of(1), genesisOnly.culprits(), "genesis's key 0 did not sign these");
    }
}
