package bftledger.pbft;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import bftledger.crypto.CommitVote;
import bftledger.crypto.Digest;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** Fixed layouts: round trips keep the bytes; bad bytes are refused with the right reason, never an exception. */
class MessageCodecTest {
    final Fixtures fx = new Fixtures();

    private List<Signed<?>> samples() {
        Batch batch = fx.batch("a", "b");
        PreparedCertificate cert = fx.certificate(0, 5, batch, 1, 2);
        Signed<ViewChange> vc = fx.as(2).viewChange(1, 4, Fixtures.digest(4), fx.checkpointProof(4, Fixtures.digest(4), 0, 1, 2),
                List.of(cert));
        Signed<ViewChange> vc3 = fx.as(3).viewChange(1, 0, Digest.ZERO, List.of(), List.of());
        Signed<ViewChange> vc1 = fx.as(1).viewChange(1, 0, Digest.ZERO, List.of(), List.of());
        Signed<PrePrepare> o = fx.as(1).prePrepare(1, 5, batch);
        return List.of(
                fx.as(0).prePrepare(0, 1, batch),
                fx.as(0).prePrepare(0, 2, Batch.NULL),
                fx.as(1).prepare(0, 1, batch.digest()),
                fx.as(2).commit(0, 1, batch.digest()),
                fx.as(3).checkpoint(8, Fixtures.digest(8)),
                fx.as(2).status(3, false, 8, 11),
                vc,
                fx.as(1).newView(1, List.of(vc1, vc, vc3), List.of(o)));
    }

    @Test
    void everyTypeRoundTripsToTheSameBytesAndPayload() throws Exception {
        for (Signed<?> m : samples()) {
            Signed<?> back = fx.codec.decode(m.wire());
            assertArrayEquals(m.wire(), back.wire(), m.toString());
            assertEquals(m.signer(), back.signer());
            assertEquals(m.type(), back.type());
            assertArrayEquals(MessageCodec.encodePayload(back.payload()), back.payloadBytes());
            assertTrue(fx.verifier.verify(back).accepted(), () -> m + ": " + fx.verifier.verify(back));
        }
    }

    @Test
    void aCommitSignsExactlyTheLedgerCommitVote() {
        Digest d = Fixtures.digest(9);
        Signed<Commit> c = fx.as(2).commit(3, 17, d);
        CommitVote vote = new CommitVote(3, 17, d, 2);
        assertArrayEquals(vote.encode(), c.payloadBytes());
        assertTrue(vote.verify(fx.keys.get(2).publicKey(), c.signature()));
    }

    @Test
    void aPrePrepareDigestIsTheLedgerBatchDigest() {
        Batch b = fx.batch("x", "y", "z");
        assertEquals(bftledger.crypto.BatchDigest.of(1234, b.requestIds(), b.anchor()), fx.as(0).prePrepare(0, 1, b).payload().digest());
    }

    private RejectReason reason(byte[] wire) {
        try {
            fx.codec.decode(wire);
            return null;
        } catch (MalformedMessageException e) {
            return e.reason();
        }
    }

    @Test
    void truncatedTrailingAndMisframedBytesAreMalformed() {
        byte[] w = fx.as(1).prepare(0, 1, Fixtures.digest(1)).wire();
        assertEquals(RejectReason.MALFORMED, reason(java.util.Arrays.copyOf(w, w.length - 1)));
        assertEquals(RejectReason.MALFORMED, reason(java.util.Arrays.copyOf(w, 10)));
        byte[] longer = java.util.Arrays.copyOf(w, w.length + 1);
        assertEquals(RejectReason.OVERSIZE, reason(longer), "a vote has a fixed size");
        Signed<PrePrepare> pp = fx.as(0).prePrepare(0, 1, fx.batch("t"));
        byte[] body = java.util.Arrays.copyOf(pp.payloadBytes(), pp.payloadBytes().length + 1);
        assertEquals(RejectReason.MALFORMED,
                reason(MessageCodec.envelope(MessageType.PRE_PREPARE, 0, body, pp.signature())), "trailing byte");
        byte[] badLength = w.clone();
        badLength[8] ^= 1;
        assertEquals(RejectReason.MALFORMED, reason(badLength));
        assertEquals(RejectReason.MALFORMED, reason(new byte[3]));
    }

    @Test
    void unknownTypeIsRefused() {
        byte[] w = fx.as(1).prepare(0, 1, Fixtures.digest(1)).wire();
        w[0] = 42;
        assertEquals(RejectReason.UNKNOWN_TYPE, reason(w));
    }

    @Test
    void oversizeIsRefusedBeforeParsing() {
        byte[] huge = new byte[(int) Math.min(fx.config.messageBytesMax() + 1, Integer.MAX_VALUE - 8)];
        huge[0] = (byte) MessageType.PREPARE.code();
        assertEquals(RejectReason.OVERSIZE, reason(huge));
        byte[] w = fx.as(1).prepare(0, 1, Fixtures.digest(1)).wire();
        byte[] biggerPrepare = new byte[(int) fx.config.voteBytesMax() + 1];
        System.arraycopy(w, 0, biggerPrepare, 0, w.length);
        assertEquals(RejectReason.OVERSIZE, reason(biggerPrepare), "per-type bound");
    }

    @Test
    void aBatchCountAboveTheBoundIsRefused() {
        Batch tooMany = fx.batch("1", "2", "3", "4", "5");
        byte[] w = MessageCodec.sign(new PrePrepare(0, 1, tooMany), 0, fx.keys.get(0)).wire();
        assertEquals(RejectReason.OVERSIZE, reason(w));
    }

    @Test
    void randomCorruptionNeverThrows() {
        long seed = Long.getLong("bftledger.seed", System.nanoTime());
        Random random = new Random(seed);
        List<Signed<?>> samples = samples();
        for (int k = 0; k < 3000; k++) {
            byte[] w = samples.get(random.nextInt(samples.size())).wire();
            int flips = 1 + random.nextInt(4);
            for (int j = 0; j < flips; j++) {
                w[random.nextInt(w.length)] = (byte) random.nextInt(256);
            }
            if (random.nextInt(4) == 0) {
                w = java.util.Arrays.copyOf(w, random.nextInt(w.length + 1));
            }
            byte[] input = w;
            Verdict<Signed<?>> v = assertDoesNotThrowVerdict(input, seed);
            if (v.accepted()) {
                // Only a flip that left the signed bytes and signer intact can pass.
                assertTrue(fx.verifier.verify(v.value()).accepted(), "seed " + seed);
            }
        }
    }

    private Verdict<Signed<?>> assertDoesNotThrowVerdict(byte[] wire, long seed) {
        try {
            return fx.verifier.verify(wire);
        } catch (RuntimeException e) {
            throw new AssertionError("seed " + seed + ": verifier threw on corrupt input", e);
        }
    }

    @Test
    void withSignatureRequiresTheSignatureLength() {
        assertThrows(IllegalArgumentException.class,
                () -> MessageCodec.withSignature(new Checkpoint(4, Digest.ZERO, 1), 1, new byte[3]));
    }
}
