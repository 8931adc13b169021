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
 * z_i, which costs far less than n verifications: the doublings are shared, the R_i terms need
 * only 128-bit scalars, and the terms of one key are summed into one. If any signature is
 * invalid the equation fails (except with probability about 2^-128) and each signature is then
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

    /** The verdict on each check, in order; identical to {@link #verifyOne} on each. */
    public static boolean[] verify(List<SignatureCheck> checks) {
        boolean[] verdicts = new boolean[checks.size()];
        for (int from = 0; from < checks.size(); from += MAX_BATCH) {
            int to = Math.min(checks.size(), from + MAX_BATCH);
            verifyChunk(checks.subList(from, to), verdicts, from);
        }
        return verdicts;
    }

    private static void verifyChunk(List<SignatureCheck> checks, boolean[] verdicts, int offset) {
        if (checks.size() < MIN_BATCH || !verifiesTogether(checks)) {
            for (int i = 0; i < checks.size(); i++) {
                verdicts[offset + i] = checks.get(i).verify();
            }
        } else {
            java.util.Arrays.fill(verdicts, offset, offset + checks.size(), true);
        }
    }

    /** One signature, slowly: only reached when RFC 8032 verification has rejected it. */
    static boolean verifyOne(PublicKey key, byte[] framed, byte[] signature) {
        Parsed p = parse(key, framed, signature);
        if (p == null) {
            return false;
        }
        List<Edwards25519.Term> terms = List.of(
                new Edwards25519.Term(p.k, key.edwardsTable(), Edwards25519.KEY_WIDTH).negated(),
                new Edwards25519.Term(BigInteger.ONE, Edwards25519.oddMultiples(p.r, 2), 2).negated());
        return Edwards25519.isSmallOrder(Edwards25519.multiScalar(p.s, terms));
    }

    /** True when every signature is valid (up to ~2^-128); false when at least one is not, or one does not parse. */
    static boolean verifiesTogether(List<SignatureCheck> checks) {
        byte[] seed = new byte[16 * checks.size()];
        RANDOM.get().nextBytes(seed);
        BigInteger baseScalar = BigInteger.ZERO;
        Map<PublicKey, BigInteger> keyScalars = new LinkedHashMap<>();
        List<Edwards25519.Term> terms = new ArrayList<>(checks.size() + 16);
        for (int i = 0; i < checks.size(); i++) {
            SignatureCheck c = checks.get(i);
            if (c.signature().length != Signature.LENGTH) {
                return false;
            }
            Parsed p = parse(c.key(), c.domain().framed(c.message(), 0, c.message().length), c.signature());
            if (p == null) {
                return false;
            }
            byte[] zBytes = new byte[17]; // leading zero: positive
            System.arraycopy(seed, 16 * i, zBytes, 1, 16);
            zBytes[16] |= 1; // never zero
            BigInteger z = new BigInteger(zBytes);
            baseScalar = baseScalar.add(z.multiply(p.s));
            keyScalars.merge(c.key(), z.multiply(p.k), BigInteger::add);
            terms.add(new Edwards25519.Term(z, Edwards25519.oddMultiples(p.r, Edwards25519.WIDTH), Edwards25519.WIDTH).negated());
        }
        for (Map.Entry<PublicKey, BigInteger> e : keyScalars.entrySet()) {
            terms.add(new Edwards25519.Term(e.getValue().mod(Edwards25519.L), e.getKey().edwardsTable(), Edwards25519.KEY_WIDTH)
                    .negated());
        }
        return Edwards25519.isSmallOrder(Edwards25519.multiScalar(baseScalar.mod(Edwards25519.L), terms));
    }

    /** s, R decoded and k = SHA-512(R || A || M) mod L; null when s is not below L or R does not decode. */
    private record Parsed(BigInteger s, Edwards25519.Point r, BigInteger k) {}

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
        MessageDigest sha = SHA512.get();
        sha.update(signature, 0, 32);
        sha.update(key.encodedView());
        sha.update(framed);
        BigInteger k = littleEndian(sha.digest(), 0, 64).mod(Edwards25519.L);
        return new Parsed(s, r, k);
    }

    private static BigInteger littleEndian(byte[] bytes, int offset, int length) {
        byte[] be = new byte[length + 1];
        for (int i = 0; i < length; i++) {
            be[length - i] = bytes[offset + i];
        }
        return new BigInteger(be);
    }
}
