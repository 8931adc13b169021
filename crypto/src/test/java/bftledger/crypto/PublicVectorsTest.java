package bftledger.crypto;

import static bftledger.crypto.TestScalars.littleEndian;
import static bftledger.crypto.TestScalars.putLittleEndian;
import static bftledger.crypto.TestScalars.secretScalar;
import static bftledger.crypto.TestScalars.sha512;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.bouncycastle.crypto.params.Ed25519PrivateKeyParameters;
import org.bouncycastle.crypto.params.Ed25519PublicKeyParameters;
import org.bouncycastle.math.ec.rfc8032.Ed25519;
import org.junit.jupiter.api.Test;

/**
 * Published Ed25519 vectors (src/test/resources/ed25519-vectors, sources in its SOURCES.md) and
 * BouncyCastle, against our rule: ZIP-215, plus a key must be the canonical encoding of a point
 * of prime order ({@link PublicKey#of} refuses any other). Every vector is checked on its message
 * exactly as published, through {@link FramedCheck}, the path every {@link SignatureCheck} takes
 * after its domain prefix is put in front (DomainSeparationTest and Ed25519Test pin the prefix).
 */
class PublicVectorsTest {
    private static final HexFormat HEX = HexFormat.of();

    enum Verdict { VALID, INVALID, KEY_REJECTED }

    /** One published case and the verdict our rule must give, with the reason where that differs from the source's own. */
    record Case(String name, byte[] key, byte[] message, byte[] signature, Verdict expected, String reason) {}

    /**
     * speccheck cases 0-11 under our rule. Its ZIP-215 ("Zebra") row is V V V V V V X X X V V V
     * ({@link #specCheckZip215Row} checks our arithmetic gives exactly that); the key rule then
     * refuses every case whose key is not a canonical point of prime order.
     */
    private static final Verdict[] SPECCHECK = {
        Verdict.KEY_REJECTED, // 0: A of small order (ZIP-215 alone: valid)
        Verdict.KEY_REJECTED, // 1: A of small order (ZIP-215 alone: valid)
        Verdict.KEY_REJECTED, // 2: A of mixed order (ZIP-215 alone: valid)
        Verdict.KEY_REJECTED, // 3: A of mixed order (ZIP-215 alone: valid)
        Verdict.KEY_REJECTED, // 4: A of mixed order (ZIP-215 alone: valid; only the cofactored equation holds)
        Verdict.KEY_REJECTED, // 5: A of mixed order (ZIP-215 alone: valid; only the cofactored equation holds)
        Verdict.INVALID,      // 6: s >= L, prime-order A
        Verdict.INVALID,      // 7: s >= L, prime-order A
        Verdict.KEY_REJECTED, // 8: A of mixed order (ZIP-215 alone: invalid, R non-canonical and hashed as reduced; s < L)
        Verdict.KEY_REJECTED, // 9: A of mixed order (ZIP-215 alone: valid, non-canonical R hashed as given)
        Verdict.KEY_REJECTED, // 10: A a non-canonical encoding (y >= p) of a point of small order (ZIP-215 alone: valid)
        Verdict.KEY_REJECTED, // 11: as 10 (ZIP-215 alone: valid)
    };
    private static final boolean[] SPECCHECK_ZIP215 = {true, true, true, true, true, true, false, false, false, true, true, true};

    /** Wycheproof tcIds whose verdict under our rule is not the file's `result`, and why. */
    private static final Map<Integer, String> WYCHEPROOF_EXCEPTIONS = Map.of(
            151, "valid: R is the identity with the sign bit of x set; ZIP-215 decodes it (RFC 8032 refuses it)");

    @Test
    void rfc8032VectorsAreValidAndTheKeysComeFromTheirSeeds() {
        List<Case> cases = rfc8032();
        assertEquals(5, cases.size());
        for (String line : lines("rfc8032_7.1.txt")) {
            String[] f = line.split(" ");
            assertEquals(f[2], KeyPair.fromSeed(HEX.parseHex(f[1])).publicKey().hex(), f[0]);
        }
        assertSingleVerdicts(cases);
    }

    @Test
    void specCheckCasesUnderTheRule() {
        List<Case> cases = specCheck();
        assertEquals(12, cases.size());
        assertSingleVerdicts(cases);
    }

    /** Our ZIP-215 arithmetic, the key rule aside, gives speccheck's ZIP-215 row: decoding of non-canonical A and R included. */
    @Test
    void specCheckZip215Row() {
        List<Case> cases = specCheck();
        for (int i = 0; i < cases.size(); i++) {
            Case c = cases.get(i);
            assertEquals(SPECCHECK_ZIP215[i], zip215EquationAlone(c.key(), c.message(), c.signature()), c.name());
        }
    }

    @Test
    void wycheproofCasesUnderTheRule() {
        List<Case> cases = wycheproof();
        assertEquals(151, cases.size());
        assertSingleVerdicts(cases);
    }

    /** Every vector, mixed among valid signatures: the batch gives the single verdicts, through the equation and through halving. */
    @Test
    void batchedVerdictsEqualSingleVerdicts() {
        Seeded.run(random -> {
            List<Case> all = new ArrayList<>();
            all.addAll(rfc8032());
            all.addAll(specCheck());
            all.addAll(wycheproof());
            List<Case> parsable = all.stream().filter(c -> c.expected() != Verdict.KEY_REJECTED).toList();
            List<FramedCheck> fillers = fillers(600);
            // Each case alone among 63 valid signatures: a valid one must pass the equation, an invalid one forces the halving.
            for (Case c : parsable) {
                List<FramedCheck> batch = new ArrayList<>(fillers.subList(0, 63));
                int at = random.nextInt(batch.size() + 1);
                batch.add(at, check(c));
                long passed = SignatureBatch.batchesPassed();
                boolean[] verdicts = SignatureBatch.verifyFramed(batch);
                for (int i = 0; i < verdicts.length; i++) {
                    assertEquals(i == at ? c.expected() == Verdict.VALID : true, verdicts[i], c.name() + " at " + at + ", index " + i);
                }
                if (c.expected() == Verdict.VALID) {
                    assertEquals(passed + 1, SignatureBatch.batchesPassed(), c.name() + ": decided by the batch equation");
                }
            }
            // All of them at once, shuffled among as many valid ones: several chunks, many invalid per chunk.
            List<FramedCheck> batch = new ArrayList<>(fillers.subList(0, parsable.size()));
            List<Boolean> expected = new ArrayList<>(java.util.Collections.nCopies(batch.size(), true));
            for (Case c : parsable) {
                int at = random.nextInt(batch.size() + 1);
                batch.add(at, check(c));
                expected.add(at, c.expected() == Verdict.VALID);
            }
            boolean[] verdicts = SignatureBatch.verifyFramed(batch);
            for (int i = 0; i < verdicts.length; i++) {
                assertEquals(expected.get(i), verdicts[i], "index " + i);
                assertEquals(batch.get(i).verify(), verdicts[i], "batch and single disagree at " + i);
            }
        });
    }

    /**
     * Random keys, messages and corruptions of signatures, keys and messages: our verdict is
     * BouncyCastle's (1.86, which is cofactored), single and batched. The two places where the
     * rules differ are built on purpose and asserted as differences.
     */
    @Test
    void agreesWithBouncyCastleOnRandomInputs() {
        Seeded.run(random -> {
            List<byte[][]> inputs = new ArrayList<>(); // key, message, signature
            List<Boolean> bouncyCastle = new ArrayList<>();
            for (int trial = 0; trial < 400; trial++) {
                byte[][] in = randomInput(random, trial % 10);
                boolean bc = bouncyCastleVerdict(in[0], in[1], in[2]);
                assertEquals(bc, ourVerdict(in[0], in[1], in[2]) == Verdict.VALID, "trial " + trial + ", corruption " + trial % 10);
                inputs.add(in);
                bouncyCastle.add(bc);
            }
            // The same inputs batched (those whose key parses; BouncyCastle refuses the others too).
            List<FramedCheck> batch = new ArrayList<>();
            List<Boolean> expected = new ArrayList<>();
            for (int i = 0; i < inputs.size(); i++) {
                if (ourVerdict(inputs.get(i)[0], inputs.get(i)[1], inputs.get(i)[2]) != Verdict.KEY_REJECTED) {
                    batch.add(new FramedCheck(PublicKey.of(inputs.get(i)[0]), inputs.get(i)[1], inputs.get(i)[2]));
                    expected.add(bouncyCastle.get(i));
                }
            }
            boolean[] verdicts = SignatureBatch.verifyFramed(batch);
            for (int i = 0; i < verdicts.length; i++) {
                assertEquals(expected.get(i), verdicts[i], "batched input " + i);
            }
        });
    }

    /** Where the rules differ, by design: a non-canonical R (we accept, BouncyCastle refuses) and a mixed-order key (the reverse). */
    @Test
    void differsFromBouncyCastleExactlyWhereTheRuleSays() {
        Seeded.run(random -> {
            byte[] seed = new byte[32];
            random.nextBytes(seed);
            BigInteger a = secretScalar(seed);
            byte[] key = KeyPair.fromSeed(seed).publicKey().bytes();
            byte[] message = new byte[1 + random.nextInt(100)];
            random.nextBytes(message);

            // R = the identity, encoded with x's sign bit set (as Wycheproof tcId 151): ZIP-215 decodes it, RFC 8032 does not.
            byte[] identityWithSign = new byte[32];
            identityWithSign[0] = 1;
            identityWithSign[31] = (byte) 0x80;
            byte[] sig = signWithR(identityWithSign, BigInteger.ZERO, a, key, message);
            assertFalse(bouncyCastleVerdict(key, message, sig), "BouncyCastle refuses a non-canonical R");
            assertEquals(Verdict.VALID, ourVerdict(key, message, sig), "ZIP-215 accepts a non-canonical R");
            assertTrue(SignatureBatch.verifyFramed(withFillers(new FramedCheck(PublicKey.of(key), message, sig)))[0]);

            // R with a component of order 8: both cofactored, so both accept (no difference).
            BigInteger nonce = new BigInteger(250, random);
            Edwards25519.Point torsionR = Edwards25519.add(Edwards25519.multiScalar(nonce, List.of()), orderEight());
            byte[] torsionSig = signWithR(Edwards25519.encode(torsionR), nonce, a, key, message);
            assertTrue(bouncyCastleVerdict(key, message, torsionSig), "BouncyCastle 1.86 is cofactored");
            assertEquals(Verdict.VALID, ourVerdict(key, message, torsionSig));

            // A' = A + T, T of order 8, signed honestly with a: BouncyCastle takes the key and the cofactored equation holds; our key rule refuses A'.
            byte[] mixedKey = Edwards25519.encode(Edwards25519.add(Edwards25519.decode(key, 0), orderEight()));
            byte[] mixedSig = signWithR(Edwards25519.encode(Edwards25519.multiScalar(nonce, List.of())), nonce, a, mixedKey, message);
            assertTrue(bouncyCastleVerdict(mixedKey, message, mixedSig), "BouncyCastle accepts a mixed-order key");
            assertEquals(Verdict.KEY_REJECTED, ourVerdict(mixedKey, message, mixedSig), "the key rule refuses a mixed-order key");
        });
    }

    private static void assertSingleVerdicts(List<Case> cases) {
        for (Case c : cases) {
            // Three times: a key's first, second and later checks use different tables (narrow, wide, split scalars).
            for (int sighting = 1; sighting <= 3; sighting++) {
                assertEquals(c.expected(), ourVerdict(c.key(), c.message(), c.signature()),
                        c.name() + " (sighting " + sighting + ")" + (c.reason().isEmpty() ? "" : ": " + c.reason()));
            }
        }
    }

    /** Our verdict: the key parsed by {@link PublicKey#of} (the key rule), then the single check on the raw message. */
    private static Verdict ourVerdict(byte[] key, byte[] message, byte[] signature) {
        PublicKey parsed;
        try {
            parsed = PublicKey.of(key);
        } catch (IllegalArgumentException refused) {
            return Verdict.KEY_REJECTED;
        }
        return new FramedCheck(parsed, message, signature).verify() ? Verdict.VALID : Verdict.INVALID;
    }

    private static boolean bouncyCastleVerdict(byte[] key, byte[] message, byte[] signature) {
        Ed25519PublicKeyParameters params;
        try {
            params = new Ed25519PublicKeyParameters(key, 0);
        } catch (IllegalArgumentException refused) {
            return false;
        }
        return signature.length == Signature.LENGTH
                && params.verify(Ed25519.Algorithm.Ed25519, null, message, 0, message.length, signature, 0);
    }

    /** {@code [8]([s]B - [k]A - R) = O} with A and R decoded under ZIP-215 and s below L: the rule without the key rule. */
    private static boolean zip215EquationAlone(byte[] key, byte[] message, byte[] signature) {
        Edwards25519.Point a = Edwards25519.decode(key, 0);
        Edwards25519.Point r = Edwards25519.decode(signature, 0);
        BigInteger s = littleEndian(signature, 32);
        if (a == null || r == null || s.compareTo(Edwards25519.L) >= 0) {
            return false;
        }
        BigInteger k = littleEndian(sha512(java.util.Arrays.copyOf(signature, 32), key, message), 0, 64).mod(Edwards25519.L);
        return Edwards25519.isSmallOrder(Edwards25519.multiScalar(s, List.of(
                new Edwards25519.Term(k, Edwards25519.oddMultiples(a, 5), 5).negated(),
                new Edwards25519.Term(BigInteger.ONE, Edwards25519.oddMultiples(r, 2), 2).negated())));
    }

    /** A valid RFC 8032 signature by a random key, corrupted in one of ten ways (0: not at all). */
    private static byte[][] randomInput(Random random, int corruption) {
        byte[] seed = new byte[32];
        random.nextBytes(seed);
        Ed25519PrivateKeyParameters secret = new Ed25519PrivateKeyParameters(seed, 0);
        byte[] key = secret.generatePublicKey().getEncoded();
        byte[] message = new byte[random.nextInt(300)];
        random.nextBytes(message);
        byte[] sig = new byte[Signature.LENGTH];
        secret.sign(Ed25519.Algorithm.Ed25519, null, message, 0, message.length, sig, 0);
        switch (corruption) {
            case 1 -> sig[random.nextInt(32)] ^= (byte) (1 << random.nextInt(8)); // R
            case 2 -> sig[32 + random.nextInt(32)] ^= (byte) (1 << random.nextInt(8)); // s, possibly to s >= L
            case 3 -> message = message.length == 0 ? new byte[] {0} : flipBit(message, random);
            case 4 -> key = flipBit(key, random); // usually not a point, or not of prime order
            case 5 -> key = new Ed25519PrivateKeyParameters(random(random, 32), 0).generatePublicKey().getEncoded();
            case 6 -> sig = java.util.Arrays.copyOf(sig, random.nextBoolean() ? 63 : 65);
            case 7 -> putLittleEndian(littleEndian(sig, 32).add(Edwards25519.L), sig, 32); // s + L: malleated
            case 8 -> sig = random(random, Signature.LENGTH);
            case 9 -> key = random(random, 32);
            default -> { }
        }
        return new byte[][] {key, message, sig};
    }

    private static List<Case> rfc8032() {
        List<Case> cases = new ArrayList<>();
        for (String line : lines("rfc8032_7.1.txt")) {
            String[] f = line.split(" ");
            cases.add(new Case("RFC 8032 " + f[0], HEX.parseHex(f[2]), f[3].equals("-") ? new byte[0] : HEX.parseHex(f[3]),
                    HEX.parseHex(f[4]), Verdict.VALID, ""));
        }
        return cases;
    }

    private static List<Case> specCheck() {
        List<Case> cases = new ArrayList<>();
        JsonNode all = json("speccheck_cases.json");
        for (int i = 0; i < all.size(); i++) {
            JsonNode c = all.get(i);
            cases.add(new Case("speccheck " + i, HEX.parseHex(c.get("pub_key").asText()), HEX.parseHex(c.get("message").asText()),
                    HEX.parseHex(c.get("signature").asText()), SPECCHECK[i], "see SPECCHECK"));
        }
        return cases;
    }

    private static List<Case> wycheproof() {
        List<Case> cases = new ArrayList<>();
        for (JsonNode group : json("wycheproof_ed25519_test.json").get("testGroups")) {
            byte[] key = HEX.parseHex(group.get("publicKey").get("pk").asText());
            for (JsonNode t : group.get("tests")) {
                int id = t.get("tcId").asInt();
                String result = t.get("result").asText();
                Verdict expected = result.equals("valid") ? Verdict.VALID : Verdict.INVALID;
                String reason = WYCHEPROOF_EXCEPTIONS.getOrDefault(id, "");
                if (!reason.isEmpty()) {
                    expected = expected == Verdict.VALID ? Verdict.INVALID : Verdict.VALID;
                }
                cases.add(new Case("Wycheproof tcId " + id + " (" + result + ", " + t.get("comment").asText() + ")", key,
                        HEX.parseHex(t.get("msg").asText()), HEX.parseHex(t.get("sig").asText()), expected, reason));
            }
        }
        return cases;
    }

    private static FramedCheck check(Case c) {
        return new FramedCheck(PublicKey.of(c.key()), c.message(), c.signature());
    }

    private static List<FramedCheck> withFillers(FramedCheck first) {
        List<FramedCheck> batch = new ArrayList<>(fillers(15));
        batch.add(0, first);
        return batch;
    }

    /** Valid signatures by 40 keys over raw messages. */
    private static List<FramedCheck> fillers(int count) {
        List<FramedCheck> fillers = new ArrayList<>(count);
        for (int i = 0; i < count; i++) {
            byte[] seed = new byte[32];
            seed[0] = (byte) (i % 40);
            seed[1] = (byte) 0xF1;
            Ed25519PrivateKeyParameters secret = new Ed25519PrivateKeyParameters(seed, 0);
            byte[] message = ("filler " + i).getBytes(StandardCharsets.US_ASCII);
            byte[] sig = new byte[Signature.LENGTH];
            secret.sign(Ed25519.Algorithm.Ed25519, null, message, 0, message.length, sig, 0);
            fillers.add(new FramedCheck(PublicKey.of(secret.generatePublicKey().getEncoded()), message, sig));
        }
        return fillers;
    }

    /** (R, s) with s = nonce + k a, k = SHA-512(R || A || M): valid for any R whose difference from [nonce]B is of small order. */
    private static byte[] signWithR(byte[] rBytes, BigInteger nonce, BigInteger a, byte[] key, byte[] message) {
        BigInteger k = littleEndian(sha512(rBytes, key, message), 0, 64).mod(Edwards25519.L);
        byte[] sig = new byte[Signature.LENGTH];
        System.arraycopy(rBytes, 0, sig, 0, 32);
        putLittleEndian(nonce.add(k.multiply(a)).mod(Edwards25519.L), sig, 32);
        return sig;
    }

    /** A point of order 8 (Ed25519Test#publicKeyRejectsInvalidPoints lists it). */
    private static Edwards25519.Point orderEight() {
        return Edwards25519.decode(HEX.parseHex("c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a"), 0);
    }

    private static byte[] flipBit(byte[] bytes, Random random) {
        byte[] out = bytes.clone();
        out[random.nextInt(out.length)] ^= (byte) (1 << random.nextInt(8));
        return out;
    }

    private static byte[] random(Random random, int length) {
        byte[] out = new byte[length];
        random.nextBytes(out);
        return out;
    }



    private static List<String> lines(String file) {
        try (InputStream in = resource(file)) {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8).lines()
                    .filter(l -> !l.isBlank() && !l.startsWith("#")).toList();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static JsonNode json(String file) {
        try (InputStream in = resource(file)) {
            return new ObjectMapper().readTree(in);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static InputStream resource(String file) {
        InputStream in = PublicVectorsTest.class.getResourceAsStream("/ed25519-vectors/" + file);
        if (in == null) {
            throw new IllegalStateException("missing test resource ed25519-vectors/" + file);
        }
        return in;
    }
}
