package bftledger.crypto;

import java.math.BigInteger;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;

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
 * need only 128-bit scalars, and the terms of one key are summed into one. If every signature is
 * valid the equation holds, always; if one is invalid it fails, except with probability about
 * 2^-127. A failed batch is split in halves, each half's equation checked in turn, down to groups
 * of {@value #ALONE_MAX}, whose signatures are checked one by one, within a budget of equation
 * work after which the rest are checked one by one; so the verdicts are always per signature, and
 * a forged signature costs a few half-batch equations rather than a check of every signature
 * beside it.
 *
 * <p><b>One check decides.</b> {@link #verifyOne} decides a signature under the rule with one
 * multi-scalar multiplication, valid or not; there is no faster check in front of it that can
 * only say "valid", so an invalid signature costs what a valid one costs (measured in
 * docs/performance.md; the verdicts pinned by PublicVectorsTest).
 */
public final class SignatureBatch {
    /** Below this many signatures a batch saves nothing over single verifications. */
    static final int MIN_BATCH = 4;
    /** Above this many, a batch is split into chunks, each its own equation. */
    static final int MAX_BATCH = 256;
    /**
     * A group of at most this many signatures that has failed (or not yet had) an equation is
     * checked one signature at a time: halving it further costs more equations than it saves.
     * Chosen by measurement: docs/performance.md, "Forged signatures in batches".
     */
    static final int ALONE_MAX = 4;
    /**
     * The equations on parts of a failed chunk cover at most this many times its signatures:
     * enough to find one forged signature by halving alone (at most two equations per level,
     * halves summing to under the chunk's size), and a bound on what many cost: at worst the
     * chunk's equation, this many more, then one check per signature.
     */
    static final int SPLIT_BUDGET_CHUNKS = 2;

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
     * invalid without touching the others; the rest are checked as one equation per chunk of
     * {@value #MAX_BATCH}. When that fails the chunk is halved until the invalid signatures are
     * found, within {@link #SPLIT_BUDGET_CHUNKS}: one forged signature costs at most two part
     * equations per level of halving and a few single checks; however many there are, a chunk
     * costs at most its equation, equations over twice its signatures, and one check per signature.
     */
    public static boolean[] verify(List<SignatureCheck> checks) {
        List<FramedCheck> framed = new ArrayList<>(checks.size());
        for (SignatureCheck c : checks) {
            framed.add(FramedCheck.of(c));
        }
        return verifyFramed(framed);
    }

    /** {@link #verify} on checks whose bytes are already framed (or raw, for published vectors). */
    static boolean[] verifyFramed(List<FramedCheck> checks) {
        boolean[] verdicts = new boolean[checks.size()];
        for (int from = 0; from < checks.size(); from += MAX_BATCH) {
            int to = Math.min(checks.size(), from + MAX_BATCH);
            verifyChunk(checks.subList(from, to), verdicts, from);
        }
        return verdicts;
    }

    /** Chunks whose equation held (every signature valid at once), since this JVM started; for metrics. */
    public static long batchesPassed() {
        return BATCHES_PASSED.get();
    }

    /** Chunks whose equation failed, so that they were split to find the invalid signatures; for metrics. */
    public static long batchesFailed() {
        return BATCHES_FAILED.get();
    }

    /**
     * Equations checked on parts of failed chunks (halves, quarters, ...), since this JVM
     * started; for metrics: about 2 log2(n/{@value #ALONE_MAX}) per forged signature.
     */
    public static long splitEquations() {
        return SPLIT_EQUATIONS.get();
    }

    private static final AtomicLong BATCHES_PASSED = new AtomicLong();
    private static final AtomicLong BATCHES_FAILED = new AtomicLong();
    private static final AtomicLong SPLIT_EQUATIONS = new AtomicLong();

    private static void verifyChunk(List<FramedCheck> checks, boolean[] verdicts, int offset) {
        if (checks.size() < MIN_BATCH) {
            // Too few to batch: each alone, without first decoding R for a batch that will not be.
            for (int i = 0; i < checks.size(); i++) {
                verdicts[offset + i] = checks.get(i).verify();
            }
            return;
        }
        // One table look-up per key and chunk: a key's tables grow with its sightings, and the
        // halves of a failed chunk must not count as more sightings of the same keys.
        Map<PublicKey, KeyTable> tables = new HashMap<>();
        List<Parsed> parsed = new ArrayList<>(checks.size());
        for (int i = 0; i < checks.size(); i++) {
            FramedCheck c = checks.get(i);
            Parsed p = parse(c.key(), c.framed(), c.signature(), offset + i);
            if (p != null) {
                tables.computeIfAbsent(c.key(), SignatureBatch::keyTable);
                parsed.add(p);
            }
        }
        if (parsed.size() < MIN_BATCH) {
            for (Parsed p : parsed) {
                verdicts[p.index()] = holds(p, tables.get(p.key()));
            }
            return;
        }
        if (equationHolds(parsed, tables)) {
            BATCHES_PASSED.incrementAndGet();
            markValid(parsed, verdicts);
            return;
        }
        BATCHES_FAILED.incrementAndGet();
        decide(parsed, true, new int[] {SPLIT_BUDGET_CHUNKS * parsed.size()}, tables, verdicts);
    }

    /**
     * Sets the verdict of every signature in {@code group}, which is known to hold an invalid
     * one when {@code holdsInvalid}; true when all are valid. A group known to hold an invalid
     * signature whose left half turns out all valid holds it in its right half, whose own
     * equation is then skipped. The equations of one failed chunk's parts cover at most
     * {@value #SPLIT_BUDGET_CHUNKS} times the chunk's signatures ({@code budget}); past that,
     * groups are checked one by one. Halving pays for a few forged signatures, but an equation
     * costs about half a single check per signature, so with many forged ones spread out every
     * group fails and unbounded halving cost more than checking the chunk one by one (see
     * docs/performance.md and SignatureBatchTest#oneForgedSignatureInAFullBatchIsTheOnlyInvalidVerdict).
     */
    private static boolean decide(List<Parsed> group, boolean holdsInvalid, int[] budget, Map<PublicKey, KeyTable> tables, boolean[] verdicts) {
        if (group.size() <= ALONE_MAX || (!holdsInvalid && budget[0] < group.size())) {
            boolean allValid = true;
            for (Parsed p : group) {
                verdicts[p.index()] = holds(p, tables.get(p.key()));
                allValid &= verdicts[p.index()];
            }
            return allValid;
        }
        if (!holdsInvalid) {
            budget[0] -= group.size();
            SPLIT_EQUATIONS.incrementAndGet();
            if (equationHolds(group, tables)) {
                markValid(group, verdicts);
                return true;
            }
        }
        int half = group.size() / 2;
        boolean leftValid = decide(group.subList(0, half), false, budget, tables, verdicts);
        decide(group.subList(half, group.size()), leftValid, budget, tables, verdicts);
        return false;
    }

    private static void markValid(List<Parsed> group, boolean[] verdicts) {
        for (Parsed p : group) {
            verdicts[p.index()] = true;
        }
    }

    /**
     * One signature under the rule: the verdict {@link PublicKey#verify} gives. Valid or invalid,
     * this is one multi-scalar multiplication, {@code [8]([s]B - [k]A - R) = O}.
     */
    static boolean verifyOne(PublicKey key, byte[] framed, byte[] signature) {
        Parsed p = parse(key, framed, signature, 0);
        return p != null && holds(p, withHighTable(key, keyTable(key)));
    }

    /** True when every signature is valid (up to ~2^-127); false when at least one is not, or one does not parse. */
    static boolean verifiesTogether(List<SignatureCheck> checks) {
        Map<PublicKey, KeyTable> tables = new HashMap<>();
        List<Parsed> parsed = new ArrayList<>(checks.size());
        for (SignatureCheck c : checks) {
            FramedCheck f = FramedCheck.of(c);
            Parsed p = parse(f.key(), f.framed(), f.signature(), parsed.size());
            if (p == null) {
                return false;
            }
            tables.computeIfAbsent(c.key(), SignatureBatch::keyTable);
            parsed.add(p);
        }
        return equationHolds(parsed, tables);
    }

    /** The batch equation over parsed signatures, with their keys' tables. */
    private static boolean equationHolds(List<Parsed> parsed, Map<PublicKey, KeyTable> tables) {
        byte[] seed = new byte[16 * parsed.size()];
        RANDOM.get().nextBytes(seed);
        BigInteger baseScalar = BigInteger.ZERO;
        Map<PublicKey, BigInteger> keyScalars = new LinkedHashMap<>();
        List<Edwards25519.Term> terms = new ArrayList<>(parsed.size() + 16);
        for (int i = 0; i < parsed.size(); i++) {
            Parsed p = parsed.get(i);
            byte[] zBytes = new byte[17]; // leading zero: positive
            System.arraycopy(seed, 16 * i, zBytes, 1, 16);
            zBytes[16] |= 1; // never zero
            BigInteger z = new BigInteger(zBytes);
            baseScalar = baseScalar.add(z.multiply(p.s()));
            keyScalars.merge(p.key(), z.multiply(p.k()), BigInteger::add);
            terms.add(new Edwards25519.Term(z, Edwards25519.oddMultiples(p.r(), Edwards25519.WIDTH), Edwards25519.WIDTH).negated());
        }
        for (Map.Entry<PublicKey, BigInteger> e : keyScalars.entrySet()) {
            KeyTable key = tables.get(e.getKey());
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
     * The table a single check wants: once a key has its wide table (it came back while
     * remembered), also the one of [2^128]A, built on that sighting (about one verification's
     * cost, paid once per key), so that its checks need 128 doublings rather than 253.
     */
    private static KeyTable withHighTable(PublicKey key, KeyTable table) {
        if (table.width() != Edwards25519.KEY_WIDTH || table.high() != null) {
            return table;
        }
        KeyTable made = new KeyTable(table.table(), table.width(), table.point(),
                Edwards25519.highTable(table.point(), Edwards25519.KEY_WIDTH));
        synchronized (KEY_TABLES) {
            KEY_TABLES.put(key, made);
        }
        return made;
    }

    /**
     * The rule's equation for one parsed signature: {@code [8]([s]B - [k]A - R) = O}. With the
     * key's [2^128]A table the scalars are split at 2^128 (over the kept tables of B, [2^128]B,
     * A and [2^128]A), which halves the doublings; otherwise one 253-bit chain. Cofactored and on
     * R as decoded under ZIP-215, so it accepts exactly what the batch equation accepts: torsion
     * in R and non-canonical encodings of R included (see SignatureBatchTest#torsionInRIsValidUnderTheRuleBothWays).
     */
    private static boolean holds(Parsed p, KeyTable table) {
        Edwards25519.Term minusR = new Edwards25519.Term(BigInteger.ONE, Edwards25519.oddMultiples(p.r(), 2), 2).negated();
        Edwards25519.Point residue;
        if (table.high() != null) {
            residue = Edwards25519.multiScalar(p.s().and(LOW_128), List.of(
                    new Edwards25519.Term(p.s().shiftRight(128), Edwards25519.BASE_HIGH_TABLE, Edwards25519.BASE_WIDTH),
                    new Edwards25519.Term(p.k().and(LOW_128), table.table(), table.width()).negated(),
                    new Edwards25519.Term(p.k().shiftRight(128), table.high(), table.width()).negated(),
                    minusR));
        } else {
            residue = Edwards25519.multiScalar(p.s(), List.of(
                    new Edwards25519.Term(p.k(), table.table(), table.width()).negated(), minusR));
        }
        return Edwards25519.isSmallOrder(residue);
    }

    private static final BigInteger LOW_128 = BigInteger.ONE.shiftLeft(128).subtract(BigInteger.ONE);

    /**
     * A signature that parses: s below L, R decoded, k = SHA-512(R || A || M) mod L, and where
     * its verdict goes.
     */
    private record Parsed(PublicKey key, BigInteger s, Edwards25519.Point r, BigInteger k, int index) {}

    /** Null when the signature is invalid on its face: wrong length, s not below L, or R not a point. */
    private static Parsed parse(PublicKey key, byte[] framed, byte[] signature, int index) {
        if (signature == null || signature.length != Signature.LENGTH) {
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
        return new Parsed(key, s, r, challenge(key, framed, signature), index);
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
