package bftledger.node.replica;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import bftledger.crypto.KeyPair;
import bftledger.crypto.PublicKey;
import bftledger.crypto.Sha256;
import bftledger.pbft.Config;
import bftledger.pbft.MessageCodec;
import bftledger.pbft.MessageFactory;
import bftledger.pbft.MessageType;
import bftledger.pbft.Output;
import bftledger.pbft.Signed;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class EvidenceStoreTest {
    private static final List<KeyPair> KEYS = List.of(KeyPair.deterministic("e0"), KeyPair.deterministic("e1"),
            KeyPair.deterministic("e2"), KeyPair.deterministic("e3"));
    private static final List<PublicKey> VALIDATORS = KEYS.stream().map(KeyPair::publicKey).toList();
    private static final MessageCodec CODEC = new MessageCodec(Config.of(VALIDATORS, 0, KEYS.get(0)));

    @TempDir
    Path tmp;

    /** A conflicting pair of PREPAREs signed by {@code replica} for (view, sequence). */
    static Output.Evidence conflict(int replica, long view, long sequence) {
        MessageFactory f = new MessageFactory(replica, KEYS.get(replica));
        Signed<?> a = f.prepare(view, sequence, Sha256.hash(new byte[] {1}));
        Signed<?> b = f.prepare(view, sequence, Sha256.hash(new byte[] {2}));
        return new Output.Evidence(replica, MessageType.PREPARE, view, sequence, a, b);
    }

    @Test
    void keepsEvidenceAcrossRestartDeduplicatedBySlot() {
        Path dir = tmp.resolve("evidence");
        try (EvidenceStore store = EvidenceStore.open(dir, CODEC, 10, 16L << 20)) {
            assertTrue(store.add(conflict(1, 0, 5)));
            assertFalse(store.add(conflict(1, 0, 5)), "the same slot twice is one piece");
            assertTrue(store.add(conflict(2, 1, 7)));
        }
        try (EvidenceStore store = EvidenceStore.open(dir, CODEC, 10, 16L << 20)) {
            List<Output.Evidence> all = store.all();
            assertEquals(2, all.size());
            Output.Evidence first = all.get(0);
            assertEquals(1, first.replica());
            assertEquals(MessageType.PREPARE, first.type());
            assertEquals(5, first.sequence());
            assertTrue(first.first().signatureValid(VALIDATORS.get(1)) && first.second().signatureValid(VALIDATORS.get(1)),
                    "stored messages come back byte for byte, signatures intact");
            assertEquals(conflict(1, 0, 5).first(), first.first());
            assertEquals(2, all.get(1).replica());
            assertFalse(store.add(conflict(2, 1, 7)), "dedup survives the restart");
        }
    }

    @Test
    void atTheBoundEveryAccusedReplicaStaysProven() {
        try (EvidenceStore store = EvidenceStore.open(tmp.resolve("bounded"), CODEC, 4, 16L << 20)) {
            for (long s = 1; s <= 4; s++) {
                assertTrue(store.add(conflict(1, 0, s)));
            }
            assertFalse(store.add(conflict(1, 0, 99)), "full, and replica 1 is already proven: dropped");
            assertTrue(store.add(conflict(3, 0, 1)), "a replica not yet proven gets room");
            assertEquals(4, store.size());
            List<Integer> accused = new ArrayList<>();
            store.all().forEach(e -> accused.add(e.replica()));
            assertTrue(accused.contains(1) && accused.contains(3), accused.toString());
            assertFalse(store.all().stream().anyMatch(e -> e.replica() == 1 && e.sequence() == 1), "the oldest of replica 1 went");
        }
        try (EvidenceStore store = EvidenceStore.open(tmp.resolve("bounded"), CODEC, 4, 16L << 20)) {
            assertEquals(4, store.size(), "the eviction was durable too");
        }
    }

    @Test
    void inMemoryStoreAppliesTheSameRules() {
        EvidenceStore store = EvidenceStore.inMemory(2);
        assertTrue(store.add(conflict(0, 0, 1)));
        assertFalse(store.add(conflict(0, 0, 1)));
        assertTrue(store.add(conflict(0, 0, 2)));
        assertFalse(store.add(conflict(0, 0, 3)));
        assertEquals(2, store.size());
    }
}
