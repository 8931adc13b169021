package bftledger.crypto;

import java.math.BigInteger;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Ed25519 verification under the ZIP-215 validity rule, one signature at a time or many at once.
 *
 * <p><b>The rule.</b> A signature (R, s) by key A over M is valid when s is below the group
 * order L, A and R decode (non-canonical y accepted), and
 * {@code [8]([s]B - R - [k]A)} is the identity, with {@code k = SHA-512(R || A || M) mod L}.
 * Every signature RFC 8032 accepts is valid under this rule; the rule also accepts the few that
 * differ from a valid one only by a point of order dividing 8, which no honest signer produces.
 * The point of the rule: it is the one under which verifying many signatures together gives
 * exactly the same verdicts as verifying them one by one, so a replica that batches and an
 * auditor that does not always agree on what is valid. (RFC 8032's cofactorless equation does
 * not have that property, which is why ZIP-215 exists.) Keys are {@link PublicKey}s, which are
 * already fully validated: points of prime order.
 *
 * <p><b>Batches.</b> n signatures are checked with one multi-scalar multiplication,
 * {@code [8]([sum z_i s_i]B - sum [z_i]R_i - sum [z_i k_i]A_i) = O} with fresh random 128-bit
 * odd z_i, which costs far less than n verifications: the doublings are shared, the R_i terms
 * need only 128-bit scalars, and the terms of one key are summed into one. If any signature is
 * invalid the equation fails (except with probability about 2^-127) and each signature is then
 * checked alone, so the verdicts are always per signature.
 */
public final class SignatureBatch {
    /** Below this many signatures a batch saves nothing over single verifications. */
    static final int MIN_BATCH = 4;
    /** Above this many, a batch is split: the fallback after a failure re-checks the whole batch. */
    static final int MAX_BATCH = 256;

    private static final ThreadLocal<MessageDigest> SHA512 = ThreadLocal.withInitial(() -> {
        try {
            return MessageDigest.getInstance("SHA-512");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-512 is part of every Java runtime", e);
        }
    });
    private static final ThreadLocal<SecureRandom> RANDOM = ThreadLocal.withInitial(SecureRandom::new);

    private SignatureBatch() {}

    /**
     * The verdict on each check, in order; identical to {@link SignatureCheck#verify()} on each.
     * A signature that does not even parse (wrong length, s not below L, R not a point) is
     * invalid without touching the others; the rest are checked as one equation. Only when that
     * fails is each of them checked alone: an attacker who slips one forged signature into a
     * batch costs the verifier the batch plus one verification per signature in it (at most
     * {@value #MAX_BATCH}), which is what those signatures would have cost without batching.
     */
    public static boolean[] verify(List<SignatureCheck> checks) {
        boolean[] verdicts = new boolean[checks.size()];
        for (int from = 0; from < checks.size(); from += MAX_BATCH) {
            int to = Math.min(checks.size(), from + MAX_BATCH);
            verifyChunk(checks.subList(from, to), verdicts, from);
        }
        return verdicts;
    }

    /** Batches whose equation held (every signature valid at once), since this JVM started; for metrics. */
    public static long batchesPassed() {
        return BATCHES_PASSED.get();
    }

    /** Batches whose equation failed, so that each signature was then checked alone; for metrics. */
    public static long batchesFailed() {
        return BATCHES_FAILED.get();
    }

    private static final java.util.concurrent.atomic.AtomicLong BATCHES_PASSED = new java.util.concurrent.atomic.AtomicLong();
    private static final java.util.concurrent.atomic.AtomicLong BATCHES_FAILED = new java.util.concurrent.atomic.AtomicLong();

    private static void verifyChunk(List<SignatureCheck> checks, boolean[] verdicts, int offset) {
        if (checks.size() < MIN_BATCH) {
            // Too few to batch: each alone, without first decoding R for a batch that will not be.
            for (int i = 0; i < checks.size(); i++) {
                verdicts[offset + i] = checks.get(i).verify();
            }
            return;
        }
        List<Integer> parsedAt = new ArrayList<>(checks.size());
        List<SignatureCheck> parsedChecks = new ArrayList<>(checks.size());
        List<Parsed> parsed = new ArrayList<>(checks.size());
        for (int i = 0; i < checks.size(); i++) {
            SignatureCheck c = checks.get(i);
            Parsed p = parse(c);
            if (p != null) {
                parsedAt.add(i);
                parsedChecks.add(c);
                parsed.add(p);
            }
        }
        if (parsed.size() >= MIN_BATCH) {
            if (equationHolds(parsedChecks, parsed)) {
                BATCHES_PASSED.incrementAndGet();
                for (int i : parsedAt) {
                    verdicts[offset + i] = true;
                }
                return;
            }
            BATCHES_FAILED.incrementAndGet();
        }
        for (int k = 0; k < parsedAt.size(); k++) {
            verdicts[offset + parsedAt.get(k)] = parsedChecks.get(k).verify();
        }
    }

    /** One signature, slowly: only reached when RFC 8032 verification has rejected it. */
    static boolean verifyOne(PublicKey key, byte[] framed, byte[] signature) {
        Parsed p = parse(key, framed, signature);
        if (p == null) {
            return false;
        }
        KeyTable keyTable = keyTable(key);
        List<Edwards25519.Term> terms = List.of(
                new Edwards25519.Term(p.k, keyTable.table(), keyTable.width()).negated(),
                new Edwards25519.Term(BigInteger.ONE, Edwards25519.oddMultiples(p.r, 2), 2).negated());
        return Edwards25519.isSmallOrder(Edwards25519.multiScalar(p.s, terms));
    }

    /** True when every signature is valid (up to ~2^-127); false when at least one is not, or one does not parse. */
    static boolean verifiesTogether(List<SignatureCheck> checks) {
        List<Parsed> parsed = new ArrayList<>(checks.size());
        for (SignatureCheck c : checks) {
            Parsed p = parse(c);
            if (p == null) {
                return false;
            }
            parsed.add(p);
        }
        return equationHolds(checks, parsed);
    }

    /** The batch equation over parsed signatures (same order as their checks). */
    private static boolean equationHolds(List<SignatureCheck> checks, List<Parsed> parsed) {
        byte[] seed = new byte[16 * checks.size()];
        RANDOM.get().nextBytes(seed);
        BigInteger baseScalar = BigInteger.ZERO;
        Map<PublicKey, BigInteger> keyScalars = new LinkedHashMap<>();
        List<Edwards25519.Term> terms = new ArrayList<>(checks.size() + 16);
        for (int i = 0; i < checks.size(); i++) {
            Parsed p = parsed.get(i);
            byte[] zBytes = new byte[17]; // leading zero: positive
            System.arraycopy(seed, 16 * i, zBytes, 1, 16);
            zBytes[16] |= 1; // never zero
            BigInteger z = new BigInteger(zBytes);
            baseScalar = baseScalar.add(z.multiply(p.s));
            keyScalars.merge(checks.get(i).key(), z.multiply(p.k), BigInteger::add);
            terms.add(new Edwards25519.Term(z, Edwards25519.oddMultiples(p.r, Edwards25519.WIDTH), Edwards25519.WIDTH).negated());
        }
        for (Map.Entry<PublicKey, BigInteger> e : keyScalars.entrySet()) {
            KeyTable key = keyTable(e.getKey());
            terms.add(new Edwards25519.Term(e.getValue().mod(Edwards25519.L), key.table(), key.width()).negated());
        }
        return Edwards25519.isSmallOrder(Edwards25519.multiScalar(baseScalar.mod(Edwards25519.L), terms));
    }

    /**
     * Bound on keys whose tables are kept. A wide table is ~12 KB (64 affine points), a key
     * verified one signature at a time also keeps its [2^128] table (another ~12 KB), so this
     * caps them at ~25 MB whatever keys clients invent.
     */
    static final int KEY_TABLES_MAX = 1024;
    private static final Map<PublicKey, KeyTable> KEY_TABLES = new LinkedHashMap<>(256, 0.75f, true) {
        @Override
        protected boolean removeEldestEntry(Map.Entry<PublicKey, KeyTable> eldest) {
            return size() > KEY_TABLES_MAX;
        }
    };

    /**
     * A key's odd multiples for its terms, the width they were built for, the key's point, and
     * (null until a single verification wants it) the wide table of [2^128]A.
     */
    record KeyTable(Edwards25519.Cached[] table, int width, Edwards25519.Point point, Edwards25519.Cached[] high) {}

    /**
     * The key's table: on first sight a narrow one ({@link Edwards25519#WIDTH}, 8 points, a
     * fraction of a verification to build), and once the key comes back while remembered the
     * wide affine one ({@link Edwards25519#KEY_WIDTH}: 64 points, one inversion; about one
     * verification to build, 14 additions fewer in every later signature). A key that signs
     * once, or one of many fresh keys sent to make replicas tabulate, never pays for the wide
     * table; a client that keeps signing pays for it once.
     */
    static KeyTable keyTable(PublicKey key) {
        KeyTable known;
        synchronized (KEY_TABLES) {
            known = KEY_TABLES.get(key);
        }
        if (known != null && known.width() == Edwards25519.KEY_WIDTH) {
            return known;
        }
        Edwards25519.Point point = known != null ? known.point() : Edwards25519.decode(key.encodedView(), 0);
        if (point == null) {
            throw new IllegalStateException("a validated key does not decode: " + key.hex());
        }
        KeyTable made = known == null
                ? new KeyTable(Edwards25519.oddMultiples(point, Edwards25519.WIDTH), Edwards25519.WIDTH, point, null)
                : new KeyTable(Edwards25519.affineOddMultiples(point, Edwards25519.KEY_WIDTH), Edwards25519.KEY_WIDTH, point, null);
        synchronized (KEY_TABLES) {
            KEY_TABLES.put(key, made);
        }
        return made;
    }

    /**
     * True when {@code signature} is shown valid the fast way: [s]B - [k]A computed with the
     * scalars split at 2^128 (128 doublings instead of 253, over the kept tables of B, [2^128]B,
     * A and [2^128]A), then compared, encoded, with R's bytes. Equal means [s]B = R + [k]A
     * exactly, which both RFC 8032 and ZIP-215 accept. False means only "not shown here": a key
     * seen for the first or second time (its tables are built on these sightings, as for
     * batches), an R encoded non-canonically, or an invalid signature; the caller then decides
     * with the full check. For the signatures a node checks one at a time: its peers' consensus
     * messages, which arrive one by one, and clients' replies from the replicas.
     */
    static boolean verifiesFast(PublicKey key, byte[] framed, byte[] signature) {
        if (signature.length != Signature.LENGTH) {
            return false;
        }
        KeyTable table = keyTable(key);
        if (table.width() != Edwards25519.KEY_WIDTH) {
            return false;
        }
        if (table.high() == null) {
            // Building [2^128]A's table costs about one verification; a key seen for the second time gets it.
            KeyTable made = new KeyTable(table.table(), table.width(), table.point(),
                    Edwards25519.highTable(table.point(), Edwards25519.KEY_WIDTH));
            synchronized (KEY_TABLES) {
                KEY_TABLES.put(key, made);
            }
            return false;
        }
        BigInteger s = littleEndian(signature, 32, 32);
        if (s.compareTo(Edwards25519.L) >= 0) {
            return false;
        }
        BigInteger k = challenge(key, framed, signature);
        Edwards25519.Point sbMinusKa = Edwards25519.multiScalar(s.and(LOW_128), List.of(
                new Edwards25519.Term(s.shiftRight(128), Edwards25519.BASE_HIGH_TABLE, Edwards25519.BASE_WIDTH),
                new Edwards25519.Term(k.and(LOW_128), table.table(), Edwards25519.KEY_WIDTH).negated(),
                new Edwards25519.Term(k.shiftRight(128), table.high(), Edwards25519.KEY_WIDTH).negated()));
        return java.util.Arrays.equals(Edwards25519.encode(sbMinusKa), 0, 32, signature, 0, 32);
    }

    private static final BigInteger LOW_128 = BigInteger.ONE.shiftLeft(128).subtract(BigInteger.ONE);

    /** s, R decoded and k = SHA-512(R || A || M) mod L; null when s is not below L or R does not decode. */
    private record Parsed(BigInteger s, Edwards25519.Point r, BigInteger k) {}

    private static Parsed parse(SignatureCheck c) {
        return c.signature().length != Signature.LENGTH ? null
                : parse(c.key(), c.domain().framed(c.message(), 0, c.message().length), c.signature());
    }

    private static Parsed parse(PublicKey key, byte[] framed, byte[] signature) {
        if (signature.length != Signature.LENGTH) {
            return null;
        }
        BigInteger s = littleEndian(signature, 32, 32);
        if (s.compareTo(Edwards25519.L) >= 0) {
            return null;
        }
        Edwards25519.Point r = Edwards25519.decode(signature, 0);
        if (r == null) {
            return null;
        }
        BigInteger k = challenge(key, framed, signature);
        return new Parsed(s, r, k);
    }

    /** k = SHA-512(R || A || M) mod L, M being the domain-framed message. */
    private static BigInteger challenge(PublicKey key, byte[] framed, byte[] signature) {
        MessageDigest sha = SHA512.get();
        sha.update(signature, 0, 32);
        sha.update(key.encodedView());
        sha.update(framed);
        return littleEndian(sha.digest(), 0, 64).mod(Edwards25519.L);
    }

    private static BigInteger littleEndian(byte[] bytes, int offset, int length) {
        byte[] be = new byte[length + 1];
        for (int i = 0; i < length; i++) {
            be[length - i] = bytes[offset + i];
        }
        return new BigInteger(be);
    }
}
