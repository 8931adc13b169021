package bftledger.pbft;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import bftledger.crypto.Digest;
import bftledger.crypto.KeyPair;
import bftledger.crypto.PublicKey;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Quorum sizes for any n >= 3f+1, and the epoch start a config carries. */
class QuorumTest {
    private static final List<PublicKey> KEYS = new ArrayList<>();

    static {
        for (int i = 0; i < 100; i++) {
            KEYS.add(KeyPair.deterministic("quorum-" + i).publicKey());
        }
    }

    private static Config config(int n) {
        return Config.of(KEYS.subList(0, n), 0, null);
    }

    @Test
    void anyTwoQuorumsShareACorrectReplicaAndTheCorrectOnesAloneFormOne() {
        for (int n = 4; n <= 100; n++) {
            Config c = config(n);
            int f = c.f();
            int q = c.quorum();
            assertEquals((n - 1) / 3, f, "n=" + n);
            assertTrue(2 * q - n >= f + 1, "n=" + n + ": two quorums of " + q + " share fewer than f+1");
            assertTrue(q <= n - f, "n=" + n + ": the n-f correct replicas cannot form a quorum of " + q);
            assertTrue(2 * (q - 1) - n < f + 1, "n=" + n + ": " + q + " is not the smallest such quorum");
            assertEquals(q - 1, c.preparedQuorum(), "n=" + n);
            assertEquals(f + 1, c.weakQuorum(), "n=" + n);
            if (n == 3 * f + 1) {
                assertEquals(2 * f + 1, q, "n=" + n);
            }
        }
    }

    @Test
    void quorumsOfSmallClusters() {
        assertEquals(List.of(3, 4, 4, 5, 6, 7), List.of(config(4).quorum(), config(5).quorum(), config(6).quorum(),
                config(7).quorum(), config(8).quorum(), config(10).quorum()));
    }

    @Test
    void fewerThanFourReplicasAreRefused() {
        assertThrows(IllegalArgumentException.class, () -> Config.of(KEYS.subList(0, 3), 0, null));
    }

    @Test
    void theStartIsACheckpointSequenceAndSurvivesEveryCopy() {
        Digest d = Fixtures.digest(7);
        Config started = config(5).withStart(64, 1L << 32, d);
        assertEquals(0, config(5).startSequence());
        assertEquals(0, config(5).startView());
        Config copied = started.withReplica(3, null).withTimeouts(9, 9, 2).withBatching(8, 4096, 512, 2)
                .withBuffers(8, 8, 2, 2).withStatusTicks(7).withPrimarySilence(3).withAnchorIdle(2).withCheckpoints(32, 64);
        assertEquals(64, copied.startSequence());
        assertEquals(1L << 32, copied.startView());
        assertEquals(d, copied.genesisDigest());
        assertThrows(IllegalArgumentException.class, () -> config(5).withStart(60, 0, d), "not a multiple of K");
        assertThrows(IllegalArgumentException.class, () -> started.withCheckpoints(24, 48), "64 is no multiple of 24");
        assertThrows(IllegalArgumentException.class, () -> config(5).withStart(-16, 0, d));
    }
}
