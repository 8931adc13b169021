package bftledger.crypto;

import static bftledger.crypto.TestScalars.littleEndian;
import static bftledger.crypto.TestScalars.putLittleEndian;
import static bftledger.crypto.TestScalars.secretScalar;
import static bftledger.crypto.TestScalars.sha512;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.math.BigInteger;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.bouncycastle.crypto.params.Ed25519PublicKeyParameters;
import org.bouncycastle.math.ec.rfc8032.Ed25519;
import org.junit.jupiter.api.Test;

class SignatureBatchTest {
    private static final byte[] SEED = new byte[32];

    @Test
    void arithmeticReproducesBouncyCastlePublicKeys() {
        for (int i = 0; i < 8; i++) {
            byte[] seed = seed(i);
            seed[2] = (byte) 0xA5; // keys no other test signs with: their tables are first built here
            KeyPair key = KeyPair.fromSeed(seed);
            byte[] derived = Edwards25519.encode(Edwards25519.multiScalar(secretScalar(seed), List.of()));
            assertArrayEquals(key.publicKey().bytes(), derived, "key " + i);
            // The same point through the key's own tables, narrow (first sight) then wide: [a]A with a = 1 and a = L + 1.
            for (int sight = 1; sight <= 2; sight++) {
                SignatureBatch.KeyTable table = SignatureBatch.keyTable(key.publicKey());
                assertEquals(sight == 1 ? Edwards25519.WIDTH : Edwards25519.KEY_WIDTH, table.width(), "sight " + sight);
                for (BigInteger a : List.of(BigInteger.ONE, Edwards25519.L.add(BigInteger.ONE))) {
                    Edwards25519.Point viaTable = Edwards25519.multiScalar(BigInteger.ZERO,
                            List.of(new Edwards25519.Term(a, table.table(), table.width())));
                    assertArrayEquals(key.publicKey().bytes(), Edwards25519.encode(viaTable), "sight " + sight);
                }
            }
        }
    }

    @Test
    void affineTablesHoldTheSameMultiplesAsProjectiveOnes() {
        Seeded.run(random -> {
            KeyPair key = KeyPair.fromSeed(seed(random.nextInt(1000)));
            Edwards25519.Point point = Edwards25519.decode(key.publicKey().bytes(), 0);
            for (int width = 2; width <= Edwards25519.KEY_WIDTH; width++) {
                Edwards25519.Cached[] projective = Edwards25519.oddMultiples(point, width);
                Edwards25519.Cached[] affine = Edwards25519.affineOddMultiples(point, width);
                assertEquals(projective.length, affine.length);
                BigInteger scalar = new BigInteger(253, random);
                for (int i = 0; i < affine.length; i++) {
                    // [2i+1]P through one table entry, added to the identity.
                    BigInteger multiple = BigInteger.valueOf(2L * i + 1);
                    assertArrayEquals(
                            Edwards25519.encode(Edwards25519.multiScalar(BigInteger.ZERO,
                                    List.of(new Edwards25519.Term(multiple, projective, width)))),
                            Edwards25519.encode(Edwards25519.multiScalar(BigInteger.ZERO,
                                    List.of(new Edwards25519.Term(multiple, affine, width)))),
                            "width " + width + ", entry " + i);
                }
                // A full-length scalar, with subtractions, through each form.
                assertArrayEquals(
                        Edwards25519.encode(Edwards25519.multiScalar(BigInteger.ZERO,
                                List.of(new Edwards25519.Term(scalar, projective, width).negated()))),
                        Edwards25519.encode(Edwards25519.multiScalar(BigInteger.ZERO,
                                List.of(new Edwards25519.Term(scalar, affine, width).negated()))),
                        "width " + width);
            }
        });
    }

    @Test
    void validSignaturesPassAloneAndTogether() {
        List<SignatureCheck> checks = signed(100, 7);
        for (SignatureCheck c : checks) {
            byte[] framed = frame(c);
            assertTrue(SignatureBatch.verifyOne(c.key(), framed, c.signature()));
        }
        assertTrue(SignatureBatch.verifiesTogether(checks));
        boolean[] verdicts = SignatureBatch.verify(checks);
        for (boolean v : verdicts) {
            assertTrue(v);
        }
    }

    @Test
    void oneBadSignatureFailsTheBatchAndOnlyItself() {
        Seeded.run(random -> {
            List<SignatureCheck> checks = new ArrayList<>(signed(40, 5));
            int bad = random.nextInt(checks.size());
            checks.set(bad, corrupt(checks.get(bad), random));
            assertFalse(SignatureBatch.verifiesTogether(checks), "bad index " + bad);
            boolean[] verdicts = SignatureBatch.verify(checks);
            for (int i = 0; i < verdicts.length; i++) {
                assertEquals(i != bad, verdicts[i], "index " + i + ", bad " + bad);
                assertEquals(checks.get(i).verify(), verdicts[i], "batch and single disagree at " + i);
            }
        });
    }

    @Test
    void scalarAtOrAboveTheGroupOrderIsRejected() {
        SignatureCheck c = signed(1, 1).get(0);
        byte[] sig = c.signature().clone();
        BigInteger s = littleEndian(sig, 32).add(Edwards25519.L); // same point equation, non-canonical s
        putLittleEndian(s, sig, 32);
        SignatureCheck high = new SignatureCheck(c.key(), c.domain(), c.message(), sig);
        assertFalse(high.verify());
        List<SignatureCheck> batch = new ArrayList<>(signed(8, 2));
        batch.add(high);
        assertFalse(SignatureBatch.verifiesTogether(batch));
    }

    /**
     * A signature whose R carries a component of order 8 (which no honest signer makes): the
     * cofactorless equation rejects it, the rule's cofactored one accepts it, and single and batch
     * verification agree. Under a cofactorless rule a batch could disagree with single checks.
     */
    @Test
    void torsionInRIsValidUnderTheRuleBothWays() {
        byte[] seed = seed(42);
        KeyPair key = KeyPair.fromSeed(seed);
        byte[] message = "pay 5 to bob".getBytes(java.nio.charset.StandardCharsets.US_ASCII);
        byte[] framed = Domain.TRANSACTION.framed(message, 0, message.length);
        Edwards25519.Point torsion = pointOfOrderEight();
        BigInteger nonce = new BigInteger("123456789123456789123456789");
        Edwards25519.Point r = Edwards25519.add(Edwards25519.multiScalar(nonce, List.of()), torsion);
        byte[] rBytes = Edwards25519.encode(r);
        BigInteger k = challenge(rBytes, key.publicKey().bytes(), framed);
        BigInteger s = nonce.add(k.multiply(secretScalar(seed))).mod(Edwards25519.L);
        byte[] sig = new byte[64];
        System.arraycopy(rBytes, 0, sig, 0, 32);
        putLittleEndian(s, sig, 32);

        assertTrue(SignatureBatch.verifyOne(key.publicKey(), framed, sig));
        warmKey(key);
        assertTrue(SignatureBatch.verifyOne(key.publicKey(), framed, sig), "the split-scalar check of a warm key accepts torsion too");
        SignatureCheck check = new SignatureCheck(key.publicKey(), Domain.TRANSACTION, message, sig);
        assertTrue(check.verify());
        List<SignatureCheck> batch = new ArrayList<>(signed(10, 3));
        batch.add(5, check);
        assertTrue(SignatureBatch.verifiesTogether(batch));

        // The same signature without the torsion is the honest one; R off by a non-torsion point is not valid.
        Edwards25519.Point wrong = Edwards25519.add(Edwards25519.multiScalar(nonce, List.of()),
                Edwards25519.multiScalar(BigInteger.TWO, List.of()));
        byte[] wrongSig = sig.clone();
        System.arraycopy(Edwards25519.encode(wrong), 0, wrongSig, 0, 32);
        assertFalse(new SignatureCheck(key.publicKey(), Domain.TRANSACTION, message, wrongSig).verify());
    }

    /**
     * R given as a non-canonical encoding of a point of small order (the identity as y = 1 with
     * the sign bit set and as y = p + 1; (0, -1) with the sign bit set): RFC 8032 decoding
     * refuses them, the rule (ZIP-215) accepts them, and a signature with such an R made with the
     * secret key is valid alone and in a batch.
     */
    @Test
    void nonCanonicalEncodingsOfRAreAccepted() {
        byte[] seed = seed(9);
        KeyPair key = KeyPair.fromSeed(seed);
        byte[] signBitSet = new byte[32];
        signBitSet[0] = 1;
        signBitSet[31] = (byte) 0x80;
        byte[] yIsPPlusOne = new byte[32];
        putLittleEndian(Edwards25519.P.add(BigInteger.ONE), yIsPPlusOne, 0);
        byte[] minusOneWithSignBit = new byte[32]; // (0, -1), a point of order 2, with the sign of x set
        putLittleEndian(Edwards25519.P.subtract(BigInteger.ONE), minusOneWithSignBit, 0);
        minusOneWithSignBit[31] |= (byte) 0x80;
        warmKey(key);
        for (byte[] rBytes : List.of(signBitSet, yIsPPlusOne, minusOneWithSignBit)) {
            byte[] message = "record".getBytes(java.nio.charset.StandardCharsets.US_ASCII);
            byte[] framed = Domain.TRANSACTION.framed(message, 0, message.length);
            // R is the identity, so [s]B = [k]A: s = k * a.
            BigInteger s = challenge(rBytes, key.publicKey().bytes(), framed).multiply(secretScalar(seed)).mod(Edwards25519.L);
            byte[] sig = new byte[64];
            System.arraycopy(rBytes, 0, sig, 0, 32);
            putLittleEndian(s, sig, 32);
            assertFalse(new Ed25519PublicKeyParameters(key.publicKey().bytes(), 0)
                    .verify(Ed25519.Algorithm.Ed25519, null, framed, 0, framed.length, sig, 0));
            assertTrue(SignatureBatch.verifyOne(key.publicKey(), framed, sig), "non-canonical R, warm key");
            SignatureCheck check = new SignatureCheck(key.publicKey(), Domain.TRANSACTION, message, sig);
            assertTrue(check.verify());
            List<SignatureCheck> batch = new ArrayList<>(signed(6, 2));
            batch.add(check);
            assertTrue(SignatureBatch.verifiesTogether(batch));
            byte[] forged = sig.clone();
            forged[40] ^= 1;
            assertFalse(new SignatureCheck(key.publicKey(), Domain.TRANSACTION, message, forged).verify());
        }
    }

    /** Random corruptions of valid signatures: the batch verdicts equal the single verdicts, always. */
    @Test
    void batchVerdictsEqualSingleVerdicts() {
        Seeded.run(random -> {
            for (int round = 0; round < 20; round++) {
                List<SignatureCheck> checks = new ArrayList<>(signed(1 + random.nextInt(30), 1 + random.nextInt(6)));
                for (int i = 0; i < checks.size(); i++) {
                    if (random.nextInt(8) == 0) {
                        checks.set(i, corrupt(checks.get(i), random));
                    }
                }
                boolean[] batch = SignatureBatch.verify(checks);
                for (int i = 0; i < checks.size(); i++) {
                    SignatureCheck c = checks.get(i);
                    assertEquals(c.verify(), batch[i], "round " + round + " index " + i);
                    // The rule's own check agrees with the single path (BouncyCastle first), so
                    // whatever BouncyCastle accepts the rule accepts.
                    assertEquals(c.verify(), SignatureBatch.verifyOne(c.key(), frame(c), c.signature()), "round " + round + " index " + i);
                }
            }
        });
    }

    /** Two forged signatures whose errors cancel in a plain sum: the random weights keep them apart. */
    @Test
    void errorsThatCancelInASumDoNotCancelInTheBatch() {
        List<SignatureCheck> checks = new ArrayList<>(signed(6, 3));
        BigInteger delta = BigInteger.valueOf(1_000_003);
        SignatureCheck a = checks.get(1);
        SignatureCheck b = checks.get(4);
        checks.set(1, withScalar(a, littleEndian(a.signature(), 32).add(delta).mod(Edwards25519.L)));
        checks.set(4, withScalar(b, littleEndian(b.signature(), 32).subtract(delta).mod(Edwards25519.L)));
        assertFalse(checks.get(1).verify());
        assertFalse(checks.get(4).verify());
        assertFalse(SignatureBatch.verifiesTogether(checks));
        assertFalse(SignatureBatch.verifiesTogether(List.of(checks.get(1), checks.get(4))));
    }

    /** More than one chunk: verdicts land at the right indexes across the chunk boundary, and good chunks pass as one equation. */
    @Test
    void manyChecksAreSplitIntoChunksWithVerdictsInPlace() {
        List<SignatureCheck> checks = new ArrayList<>(signed(SignatureBatch.MAX_BATCH + 44, 40));
        int bad = SignatureBatch.MAX_BATCH + 24;
        checks.set(bad, withScalar(checks.get(bad), BigInteger.valueOf(12345)));
        byte[] tooShort = new byte[10];
        checks.set(7, new SignatureCheck(checks.get(7).key(), Domain.TRANSACTION, checks.get(7).message(), tooShort));
        long passedBefore = SignatureBatch.batchesPassed();
        long failedBefore = SignatureBatch.batchesFailed();
        boolean[] verdicts = SignatureBatch.verify(checks);
        for (int i = 0; i < verdicts.length; i++) {
            assertEquals(i != bad && i != 7, verdicts[i], "index " + i);
        }
        // The first chunk (with a signature that does not even parse) still passes as one equation; the second falls back.
        assertTrue(SignatureBatch.batchesPassed() >= passedBefore + 1);
        assertTrue(SignatureBatch.batchesFailed() >= failedBefore + 1);
    }

    /** A non-canonical y (at least p) names the same point as y - p. */
    @Test
    void nonCanonicalYDecodesToTheSamePointAsItsReduction() {
        int found = 0;
        for (int y = 0; y <= 18; y++) {
            byte[] canonical = new byte[32];
            canonical[0] = (byte) y;
            Edwards25519.Point p = Edwards25519.decode(canonical, 0);
            byte[] high = new byte[32];
            putLittleEndian(Edwards25519.P.add(BigInteger.valueOf(y)), high, 0);
            Edwards25519.Point q = Edwards25519.decode(high, 0);
            assertEquals(p == null, q == null, "y = " + y);
            if (p != null) {
                found++;
                assertArrayEquals(Edwards25519.encode(p), Edwards25519.encode(q), "y = " + y);
            }
        }
        assertTrue(found >= 2, "some small y are on the curve");
    }

    @Test
    void multiScalarEqualsTermByTermDoubleAndAdd() {
        Seeded.run(random -> {
            byte[] baseEncoding = new byte[32];
            java.util.Arrays.fill(baseEncoding, (byte) 0x66); // RFC 8032's base point: y = 4/5
            baseEncoding[0] = 0x58;
            Edwards25519.Point base = Edwards25519.decode(baseEncoding, 0);
            for (int round = 0; round < 4; round++) {
                BigInteger baseScalar = new BigInteger(253, random);
                Edwards25519.Point expected = naiveMultiple(base, baseScalar);
                List<Edwards25519.Term> terms = new ArrayList<>();
                for (int i = 0; i < 12; i++) {
                    Edwards25519.Point point = Edwards25519.decode(KeyPair.fromSeed(seed(random.nextInt(1000))).publicKey().bytes(), 0);
                    int width = 2 + random.nextInt(Edwards25519.KEY_WIDTH - 1);
                    // Mixed lengths, as in a batch (128-bit R scalars, 253-bit key scalars), and a zero.
                    BigInteger scalar = i == 0 ? BigInteger.ZERO : new BigInteger(i % 2 == 0 ? 128 : 253, random);
                    boolean negative = random.nextBoolean();
                    Edwards25519.Cached[] table = i % 3 == 0 ? Edwards25519.affineOddMultiples(point, width)
                            : Edwards25519.oddMultiples(point, width);
                    Edwards25519.Term term = new Edwards25519.Term(scalar, table, width);
                    terms.add(negative ? term.negated() : term);
                    Edwards25519.Point multiple = naiveMultiple(point, scalar);
                    if (negative) {
                        multiple = naiveMultiple(multiple, Edwards25519.L.subtract(BigInteger.ONE));
                    }
                    expected = Edwards25519.add(expected, multiple);
                }
                assertArrayEquals(Edwards25519.encode(expected), Edwards25519.encode(Edwards25519.multiScalar(baseScalar, terms)),
                        "round " + round);
            }
        });
    }

    /** [k]P by plain double-and-add over k's binary digits: a reference that shares no table or NAF with the code under test. */
    private static Edwards25519.Point naiveMultiple(Edwards25519.Point p, BigInteger k) {
        Edwards25519.Point acc = Edwards25519.decode(identityEncoding(), 0);
        for (int bit = k.bitLength() - 1; bit >= 0; bit--) {
            acc = Edwards25519.dbl(acc);
            if (k.testBit(bit)) {
                acc = Edwards25519.add(acc, p);
            }
        }
        return acc;
    }

    private static byte[] identityEncoding() {
        byte[] enc = new byte[32];
        enc[0] = 1; // y = 1, x = 0
        return enc;
    }

    /** The single check decides both ways from a key's first sighting on, with whichever tables the key has by then. */
    @Test
    void theSingleCheckDecidesAtEverySightingOfAKey() {
        Seeded.run(random -> {
            byte[] seed = seed(random.nextInt(1000));
            seed[3] = (byte) 0x5C; // a key no other test signs with: its sightings start here
            KeyPair key = KeyPair.fromSeed(seed);
            byte[] message = new byte[100];
            for (int i = 0; i < 20; i++) {
                random.nextBytes(message);
                byte[] m = message.clone();
                byte[] sig = key.sign(Domain.COMMIT, m);
                byte[] f = Domain.COMMIT.framed(m, 0, m.length);
                byte[] tampered = sig.clone();
                tampered[32 + random.nextInt(31)] ^= (byte) (1 << random.nextInt(8));
                byte[] otherMessage = f.clone();
                otherMessage[f.length - 1] ^= 1;
                // s + L: the same point equation, but s out of range is invalid under both rules.
                byte[] wrapped = sig.clone();
                putLittleEndian(new BigInteger(1, reversed(sig, 32)).add(Edwards25519.L), wrapped, 32);
                // Sightings 1 and 2 of each kind of input use the narrow, then the wide tables; later ones the split scalars.
                assertFalse(SignatureBatch.verifyOne(key.publicKey(), f, tampered), "tampered s " + i);
                assertTrue(SignatureBatch.verifyOne(key.publicKey(), f, sig), "valid signature " + i);
                assertFalse(SignatureBatch.verifyOne(key.publicKey(), otherMessage, sig), "other message " + i);
                assertFalse(SignatureBatch.verifyOne(key.publicKey(), f, wrapped), "s + L " + i);
                assertTrue(key.publicKey().verify(Domain.COMMIT, m, sig));
                assertFalse(key.publicKey().verify(Domain.COMMIT, m, tampered), "tampered s " + i);
                assertFalse(key.publicKey().verify(Domain.COMMIT, m, wrapped), "s + L " + i);
            }
            SignatureBatch.KeyTable table = SignatureBatch.keyTable(key.publicKey());
            assertEquals(Edwards25519.KEY_WIDTH, table.width());
            assertTrue(table.high() != null, "a key checked again and again has its [2^128] table");
        });
    }

    /** Sightings enough for the key's tables, [2^128] one included, so single checks use split scalars from now on. */
    private static void warmKey(KeyPair key) {
        byte[] message = {1, 2, 3};
        byte[] framed = Domain.COMMIT.framed(message, 0, message.length);
        byte[] signature = key.sign(Domain.COMMIT, message);
        for (int i = 0; i < 3; i++) {
            assertTrue(SignatureBatch.verifyOne(key.publicKey(), framed, signature), "warm");
        }
        assertTrue(SignatureBatch.keyTable(key.publicKey()).high() != null, "warm");
    }

    private static byte[] reversed(byte[] bytes, int offset) {
        byte[] out = new byte[32];
        for (int i = 0; i < 32; i++) {
            out[i] = bytes[offset + 31 - i];
        }
        return out;
    }

    /**
     * One forged signature among 256: exactly its verdict is false, and finding it costs at most
     * two half-batch equations per level of halving, not a check of every signature.
     */
    @Test
    void oneForgedSignatureInAFullBatchIsTheOnlyInvalidVerdict() {
        Seeded.run(random -> {
            List<SignatureCheck> checks = new ArrayList<>(signed(SignatureBatch.MAX_BATCH, 64));
            int bad = random.nextInt(checks.size());
            // A bit of s flipped (below bit 248, so s stays below L): it parses, so it enters the equation.
            byte[] forged = checks.get(bad).signature().clone();
            forged[32 + random.nextInt(31)] ^= (byte) (1 << random.nextInt(8));
            checks.set(bad, new SignatureCheck(checks.get(bad).key(), Domain.TRANSACTION, checks.get(bad).message(), forged));
            long failedBefore = SignatureBatch.batchesFailed();
            long splitsBefore = SignatureBatch.splitEquations();
            boolean[] verdicts = SignatureBatch.verify(checks);
            for (int i = 0; i < verdicts.length; i++) {
                assertEquals(i != bad, verdicts[i], "index " + i + ", forged " + bad);
            }
            assertEquals(failedBefore + 1, SignatureBatch.batchesFailed());
            long splits = SignatureBatch.splitEquations() - splitsBefore;
            int levels = Integer.numberOfTrailingZeros(SignatureBatch.MAX_BATCH / SignatureBatch.ALONE_MAX) - 1;
            assertTrue(splits >= levels && splits <= 2L * levels, splits + " split equations for one forged signature, forged " + bad);
        });
    }

    /** Forged signatures at random places in batches of every size up to two chunks: verdicts exactly those of single checks. */
    @Test
    void forgedSignaturesAmongManyAreFoundExactly() {
        Seeded.run(random -> {
            for (int round = 0; round < 6; round++) {
                int size = 1 + random.nextInt(2 * SignatureBatch.MAX_BATCH);
                List<SignatureCheck> checks = new ArrayList<>(signed(size, 1 + random.nextInt(80)));
                boolean[] expected = new boolean[size];
                java.util.Arrays.fill(expected, true);
                int forged = random.nextInt(1 + Math.min(size, 40));
                for (int f = 0; f < forged; ) {
                    int at = random.nextInt(size);
                    if (expected[at]) { // distinct places: a second flip of the same bit would undo the first
                        checks.set(at, corrupt(checks.get(at), random));
                        expected[at] = false;
                        f++;
                    }
                }
                boolean[] verdicts = SignatureBatch.verify(checks);
                for (int i = 0; i < size; i++) {
                    assertEquals(expected[i], verdicts[i], "round " + round + ", size " + size + ", index " + i);
                    assertEquals(checks.get(i).verify(), verdicts[i], "batch and single disagree, round " + round + ", index " + i);
                }
            }
        });
    }

    @Test
    void aBatchOfOnlyForgedSignaturesIsAllInvalid() {
        Seeded.run(random -> {
            List<SignatureCheck> checks = new ArrayList<>(signed(SignatureBatch.MAX_BATCH, 32));
            checks.replaceAll(c -> corrupt(c, random));
            for (boolean verdict : SignatureBatch.verify(checks)) {
                assertFalse(verdict);
            }
        });
    }

    @Test
    void nafDigitsRecomposeTheScalar() {
        Seeded.run(random -> {
            for (int width : new int[] {2, 5, 7, 8}) {
                for (int i = 0; i < 200; i++) {
                    BigInteger k = new BigInteger(253, random);
                    byte[] naf = Edwards25519.naf(k, width);
                    BigInteger sum = BigInteger.ZERO;
                    for (int bit = naf.length - 1; bit >= 0; bit--) {
                        sum = sum.shiftLeft(1).add(BigInteger.valueOf(naf[bit]));
                        if (naf[bit] != 0) {
                            assertEquals(1, naf[bit] & 1, "digits are odd");
                            assertTrue(Math.abs(naf[bit]) < (1 << (width - 1)));
                        }
                    }
                    assertEquals(k, sum, "width " + width);
                }
            }
        });
    }

    private static SignatureCheck withScalar(SignatureCheck c, BigInteger s) {
        byte[] sig = c.signature().clone();
        putLittleEndian(s, sig, 32);
        return new SignatureCheck(c.key(), c.domain(), c.message(), sig);
    }

    private static Edwards25519.Point pointOfOrderEight() {
        // [L]P for an arbitrary curve point P lies in the torsion subgroup; keep one of order 8.
        for (int y = 2; ; y++) {
            byte[] enc = new byte[32];
            enc[0] = (byte) y;
            Edwards25519.Point p = Edwards25519.decode(enc, 0);
            if (p == null) {
                continue;
            }
            Edwards25519.Point t = Edwards25519.multiScalar(BigInteger.ZERO,
                    List.of(new Edwards25519.Term(Edwards25519.L, Edwards25519.oddMultiples(p, 5), 5)));
            assertTrue(Edwards25519.isSmallOrder(t));
            if (isIdentityAfter(t, 2)) {
                continue; // order 1, 2 or 4
            }
            return t;
        }
    }

    private static boolean isIdentityAfter(Edwards25519.Point p, int doublings) {
        Edwards25519.Point q = p;
        for (int i = 0; i < doublings; i++) {
            q = Edwards25519.dbl(q);
        }
        byte[] identity = new byte[32];
        identity[0] = 1;
        return java.util.Arrays.equals(identity, Edwards25519.encode(q));
    }

    private static SignatureCheck corrupt(SignatureCheck c, Random random) {
        byte[] sig = c.signature().clone();
        byte[] message = c.message().clone();
        switch (random.nextInt(3)) {
            case 0 -> sig[random.nextInt(32)] ^= (byte) (1 << random.nextInt(8)); // R
            case 1 -> sig[32 + random.nextInt(31)] ^= (byte) (1 << random.nextInt(8)); // s, kept below 2^253
            default -> message[random.nextInt(message.length)] ^= 1;
        }
        return new SignatureCheck(c.key(), c.domain(), message, sig);
    }

    private static List<SignatureCheck> signed(int count, int keys) {
        List<SignatureCheck> checks = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            KeyPair key = KeyPair.fromSeed(seed(i % keys));
            byte[] message = ("transaction number " + i).getBytes(java.nio.charset.StandardCharsets.US_ASCII);
            checks.add(new SignatureCheck(key.publicKey(), Domain.TRANSACTION, message, key.sign(Domain.TRANSACTION, message)));
        }
        return checks;
    }

    private static byte[] seed(int i) {
        byte[] seed = SEED.clone();
        seed[0] = (byte) i;
        seed[1] = 7;
        return seed;
    }

    private static byte[] frame(SignatureCheck c) {
        return c.domain().framed(c.message(), 0, c.message().length);
    }

    private static BigInteger challenge(byte[] r, byte[] a, byte[] framed) {
        try {
            MessageDigest sha = MessageDigest.getInstance("SHA-512");
            sha.update(r);
            sha.update(a);
            sha.update(framed);
            return littleEndian(sha.digest(), 0, 64).mod(Edwards25519.L);
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new AssertionError(e);
        }
    }
}
