package bftledger.crypto;

import java.math.BigInteger;
import org.bouncycastle.math.ec.rfc7748.X25519Field;

/**
 * Point arithmetic on edwards25519 (-x^2 + y^2 = 1 + d x^2 y^2 over GF(2^255 - 19)) for
 * {@link SignatureBatch}: decoding under the ZIP-215 rules, extended coordinates, and a
 * multi-scalar multiplication (Straus with width-w NAF). Field arithmetic is BouncyCastle's
 * {@link X25519Field}; this class adds only what BouncyCastle keeps private. Nothing here is
 * constant-time: it only ever handles public data (keys, signatures, messages).
 *
 * <p>Limb bounds follow BouncyCastle's own use of {@link X25519Field}: a multiplication takes
 * values that are products or a single sum/difference of products; anything built from more
 * terms is carried first.
 */
final class Edwards25519 {
    static final BigInteger P = BigInteger.ONE.shiftLeft(255).subtract(BigInteger.valueOf(19));
    /** The order of the prime-order subgroup (and of the base point). */
    static final BigInteger L = BigInteger.ONE.shiftLeft(252).add(new BigInteger("27742317777372353535851937790883648493"));

    private static final int[] D = fieldOf(BigInteger.valueOf(-121665).multiply(BigInteger.valueOf(121666).modInverse(P)).mod(P));
    private static final int[] D2 = fieldOf(BigInteger.valueOf(-121665).multiply(BigInteger.valueOf(121666).modInverse(P))
            .shiftLeft(1).mod(P));

    /** Width of the NAF for points used once (the R of a signature). */
    static final int WIDTH = 5;
    /**
     * Width for the tables of keys that sign again and again, kept with the key (in affine
     * form, see {@link #affineOddMultiples}): 64 entries built once per key buy 28 rather than
     * 42 additions in every signature the key makes.
     */
    static final int KEY_WIDTH = 8;
    /** Width for the base point, whose table is built once. */
    static final int BASE_WIDTH = 8;
    private static final Cached[] BASE_TABLE;
    /** [2^128]B's table, for single verifications that split their scalars at 2^128 ({@link #highTable}). */
    static final Cached[] BASE_HIGH_TABLE;

    static {
        byte[] base = new byte[32];
        // y = 4/5, x even: the RFC 8032 base point encoding 0x58 0x66 ... 0x66 (little-endian).
        java.util.Arrays.fill(base, (byte) 0x66);
        base[0] = 0x58;
        Point b = decode(base, 0);
        if (b == null) {
            throw new ExceptionInInitializerError("base point does not decode");
        }
        BASE_TABLE = affineOddMultiples(b, BASE_WIDTH);
        BASE_HIGH_TABLE = highTable(b, BASE_WIDTH);
    }

    /**
     * The affine table of [2^128]P. With it and P's own table, [k]P for a k below 2^256 is
     * [k mod 2^128]P + [k >> 128]([2^128]P): two terms of at most 128 bits, so a multi-scalar
     * multiplication of such terms needs 128 doublings rather than 253.
     */
    static Cached[] highTable(Point p, int width) {
        Point q = copy(p);
        Scratch scratch = new Scratch();
        for (int i = 0; i < 128; i++) {
            dblInPlace(q, scratch);
        }
        return affineOddMultiples(q, width);
    }

    private Edwards25519() {}

    /** A point in extended coordinates: x = X/Z, y = Y/Z, x*y = T/Z. */
    static final class Point {
        final int[] x = X25519Field.create();
        final int[] y = X25519Field.create();
        final int[] z = X25519Field.create();
        final int[] t = X25519Field.create();

        static Point identity() {
            Point p = new Point();
            X25519Field.one(p.y);
            X25519Field.one(p.z);
            return p;
        }
    }

    /**
     * A point prepared for addition: (Y+X, Y-X, 2Z, 2dT), or, when {@code z2} is null, an affine
     * point (Z = 1) as (y+x, y-x, 2dxy), which saves one multiplication in every addition.
     */
    static final class Cached {
        final int[] yPlusX = X25519Field.create();
        final int[] yMinusX = X25519Field.create();
        final int[] z2;
        final int[] t2d = X25519Field.create();

        Cached(Point p) {
            X25519Field.apm(p.y, p.x, yPlusX, yMinusX);
            X25519Field.carry(yPlusX);
            X25519Field.carry(yMinusX);
            z2 = X25519Field.create();
            X25519Field.add(p.z, p.z, z2);
            X25519Field.carry(z2);
            X25519Field.mul(p.t, D2, t2d);
        }

        /** The affine point (x, y), whose limbs are products (or normalized). */
        Cached(int[] x, int[] y) {
            X25519Field.apm(y, x, yPlusX, yMinusX);
            X25519Field.carry(yPlusX);
            X25519Field.carry(yMinusX);
            z2 = null;
            X25519Field.mul(x, y, t2d);
            X25519Field.mul(t2d, D2, t2d);
        }
    }

    /**
     * Decodes 32 bytes under ZIP-215: y is the low 255 bits and may be non-canonical (at least p,
     * taken mod p), and a set sign bit with x = 0 is accepted. Returns null when no point has
     * that y. This is a superset of what RFC 8032 decoding accepts.
     */
    static Point decode(byte[] encoded, int offset) {
        Point p = new Point();
        X25519Field.decode(encoded, offset, p.y); // masks bit 255, the sign of x
        int sign = (encoded[offset + 31] & 0xFF) >>> 7;
        int[] u = X25519Field.create();
        int[] v = X25519Field.create();
        X25519Field.sqr(p.y, u);
        X25519Field.mul(D, u, v);
        X25519Field.subOne(u);
        X25519Field.addOne(v);
        X25519Field.carry(u);
        X25519Field.carry(v);
        if (!X25519Field.sqrtRatioVar(u, v, p.x)) {
            return null;
        }
        X25519Field.normalize(p.x);
        byte[] xBytes = new byte[32];
        X25519Field.encode(p.x, xBytes, 0);
        if ((xBytes[0] & 1) != sign) {
            X25519Field.negate(p.x, p.x);
            X25519Field.normalize(p.x);
        }
        X25519Field.normalize(p.y);
        X25519Field.one(p.z);
        X25519Field.mul(p.x, p.y, p.t);
        return p;
    }

    /** Temporaries for the formulas, so a multiplication of hundreds of additions allocates nothing per step. */
    static final class Scratch {
        final int[] a = X25519Field.create();
        final int[] b = X25519Field.create();
        final int[] c = X25519Field.create();
        final int[] d = X25519Field.create();
        final int[] e = X25519Field.create();
        final int[] f = X25519Field.create();
        final int[] g = X25519Field.create();
        final int[] h = X25519Field.create();
    }

    static Point dbl(Point p) {
        Point r = copy(p);
        dblInPlace(r, new Scratch());
        return r;
    }

    /** p = 2p (RFC 8032, 5.1.4, a = -1). */
    static void dblInPlace(Point p, Scratch s) {
        X25519Field.sqr(p.x, s.a);
        X25519Field.sqr(p.y, s.b);
        X25519Field.sqr(p.z, s.c);
        X25519Field.add(s.c, s.c, s.c);
        X25519Field.add(p.x, p.y, s.e);
        X25519Field.sqr(s.e, s.e);
        X25519Field.add(s.a, s.b, s.h);
        X25519Field.sub(s.h, s.e, s.e);
        X25519Field.carry(s.e);
        X25519Field.sub(s.a, s.b, s.g);
        X25519Field.add(s.c, s.g, s.f);
        X25519Field.carry(s.f);
        X25519Field.mul(s.e, s.f, p.x);
        X25519Field.mul(s.g, s.h, p.y);
        X25519Field.mul(s.e, s.h, p.t);
        X25519Field.mul(s.f, s.g, p.z);
    }

    /** p + q, or p - q when {@code subtract}. */
    static Point add(Point p, Cached q, boolean subtract) {
        Point r = copy(p);
        addInPlace(r, q, subtract, new Scratch());
        return r;
    }

    /** p = p + q, or p - q when {@code subtract} (RFC 8032, 5.1.4, with q prepared). */
    static void addInPlace(Point p, Cached q, boolean subtract, Scratch s) {
        X25519Field.apm(p.y, p.x, s.b, s.a); // b = Y+X, a = Y-X
        // -q swaps Y+X with Y-X and negates T.
        X25519Field.mul(s.a, subtract ? q.yPlusX : q.yMinusX, s.a);
        X25519Field.mul(s.b, subtract ? q.yMinusX : q.yPlusX, s.b);
        X25519Field.mul(p.t, q.t2d, s.c);
        if (q.z2 == null) {
            X25519Field.add(p.z, p.z, s.d);
            X25519Field.carry(s.d);
        } else {
            X25519Field.mul(p.z, q.z2, s.d);
        }
        X25519Field.apm(s.b, s.a, s.h, s.e); // h = B+A, e = B-A
        if (subtract) {
            X25519Field.apm(s.d, s.c, s.f, s.g); // f = D+C, g = D-C
        } else {
            X25519Field.apm(s.d, s.c, s.g, s.f); // g = D+C, f = D-C
        }
        X25519Field.mul(s.e, s.f, p.x);
        X25519Field.mul(s.g, s.h, p.y);
        X25519Field.mul(s.e, s.h, p.t);
        X25519Field.mul(s.f, s.g, p.z);
    }

    static Point add(Point p, Point q) {
        return add(p, new Cached(q), false);
    }

    private static Point copy(Point p) {
        Point r = new Point();
        X25519Field.copy(p.x, 0, r.x, 0);
        X25519Field.copy(p.y, 0, r.y, 0);
        X25519Field.copy(p.z, 0, r.z, 0);
        X25519Field.copy(p.t, 0, r.t, 0);
        return r;
    }

    /** P, 3P, 5P, ..., (2^(w-1) - 1)P, prepared for addition. */
    static Cached[] oddMultiples(Point p, int width) {
        Cached[] table = new Cached[1 << (width - 2)];
        eachOddMultiple(p, width, (i, multiple) -> table[i] = new Cached(multiple));
        return table;
    }

    /** Where {@link #eachOddMultiple} hands over the i-th odd multiple. */
    @FunctionalInterface
    private interface MultipleSink {
        void accept(int i, Point multiple);
    }

    /**
     * Hands P, 3P, 5P, ..., (2^(w-1) - 1)P to {@code sink} in turn: one Point, updated in place
     * between calls, so a sink that keeps it must copy it.
     */
    private static void eachOddMultiple(Point p, int width, MultipleSink sink) {
        int count = 1 << (width - 2);
        Point current = copy(p);
        sink.accept(0, current);
        if (count == 1) {
            return;
        }
        Cached twice = new Cached(dbl(p));
        Scratch scratch = new Scratch();
        for (int i = 1; i < count; i++) {
            addInPlace(current, twice, false, scratch);
            sink.accept(i, current);
        }
    }

    /**
     * {@link #oddMultiples} in affine form, for tables kept and used many times: Z of every
     * entry is inverted at once (one inversion and three multiplications per entry), so each
     * addition of an entry later costs one multiplication less.
     */
    static Cached[] affineOddMultiples(Point p, int width) {
        Point[] points = new Point[1 << (width - 2)];
        eachOddMultiple(p, width, (i, multiple) -> points[i] = copy(multiple));
        // Montgomery's trick: prefix[i] = z_0 * ... * z_i; one inversion of the whole product,
        // then each inverse is peeled off from the top.
        int[][] prefix = new int[points.length][];
        prefix[0] = X25519Field.create();
        X25519Field.copy(points[0].z, 0, prefix[0], 0);
        for (int i = 1; i < points.length; i++) {
            prefix[i] = X25519Field.create();
            X25519Field.mul(prefix[i - 1], points[i].z, prefix[i]);
        }
        int[] inverse = X25519Field.create();
        X25519Field.inv(prefix[points.length - 1], inverse);
        Cached[] table = new Cached[points.length];
        int[] zInv = X25519Field.create();
        int[] x = X25519Field.create();
        int[] y = X25519Field.create();
        for (int i = points.length - 1; i >= 0; i--) {
            if (i > 0) {
                X25519Field.mul(inverse, prefix[i - 1], zInv);
                X25519Field.mul(inverse, points[i].z, inverse);
            } else {
                X25519Field.copy(inverse, 0, zInv, 0);
            }
            X25519Field.mul(points[i].x, zInv, x);
            X25519Field.mul(points[i].y, zInv, y);
            table[i] = new Cached(x, y);
        }
        return table;
    }

    /** The RFC 8032 encoding of p (canonical). */
    static byte[] encode(Point p) {
        int[] zInv = X25519Field.create();
        int[] x = X25519Field.create();
        int[] y = X25519Field.create();
        X25519Field.inv(p.z, zInv);
        X25519Field.mul(p.x, zInv, x);
        X25519Field.mul(p.y, zInv, y);
        X25519Field.normalize(x);
        X25519Field.normalize(y);
        byte[] out = new byte[32];
        X25519Field.encode(y, out, 0);
        byte[] xBytes = new byte[32];
        X25519Field.encode(x, xBytes, 0);
        out[31] |= (byte) ((xBytes[0] & 1) << 7);
        return out;
    }

    /** True when [8]p is the identity, i.e. p is one of the eight points of small order. */
    static boolean isSmallOrder(Point p) {
        Point q = dbl(dbl(dbl(p)));
        int[] diff = X25519Field.create();
        X25519Field.normalize(q.x);
        X25519Field.sub(q.y, q.z, diff);
        X25519Field.normalize(diff);
        return X25519Field.isZeroVar(q.x) && X25519Field.isZeroVar(diff);
    }

    /** One term of a multi-scalar multiplication: a scalar in [0, 2^253) and its point's table. */
    record Term(BigInteger scalar, Cached[] table, int width, boolean negative) {
        Term(BigInteger scalar, Cached[] table, int width) {
            this(scalar, table, width, false);
        }

        /** The term -[scalar]P. */
        Term negated() {
            return new Term(scalar, table, width, !negative);
        }
    }

    /** [base]B + sum of [scalar]P over the terms, by interleaved NAFs sharing one chain of doublings. */
    static Point multiScalar(BigInteger base, java.util.List<Term> terms) {
        int count = terms.size() + 1;
        int[][] digits = new int[count][];
        Cached[][] tables = new Cached[count][];
        digits[0] = nafDigits(base, BASE_WIDTH, false);
        tables[0] = BASE_TABLE;
        for (int i = 0; i < terms.size(); i++) {
            Term term = terms.get(i);
            digits[i + 1] = nafDigits(term.scalar(), term.width(), term.negative());
            tables[i + 1] = term.table();
        }
        // The non-zero digits of all terms sorted by bit (a counting sort), so the loop over bits
        // visits only the additions it makes: a batch of 64 signatures has ~130 terms but only
        // ~50 non-zero digits per signature over 253 bits, and visiting every term at every bit
        // cost more than the sort.
        int top = -1;
        int total = 0;
        for (int[] termDigits : digits) {
            if (termDigits.length > 0) {
                top = Math.max(top, termDigits[termDigits.length - 1] >>> 8);
            }
            total += termDigits.length;
        }
        int[] start = new int[top + 2];
        for (int[] termDigits : digits) {
            for (int packed : termDigits) {
                start[(packed >>> 8) + 1]++;
            }
        }
        for (int bit = 0; bit <= top; bit++) {
            start[bit + 1] += start[bit];
        }
        int[] next = java.util.Arrays.copyOf(start, top + 1);
        int[] termAt = new int[total];
        byte[] digitAt = new byte[total];
        for (int j = 0; j < count; j++) {
            for (int packed : digits[j]) {
                int at = next[packed >>> 8]++;
                termAt[at] = j;
                digitAt[at] = (byte) packed;
            }
        }
        Point acc = Point.identity();
        Scratch scratch = new Scratch();
        for (int bit = top; bit >= 0; bit--) {
            dblInPlace(acc, scratch);
            for (int at = start[bit]; at < start[bit + 1]; at++) {
                int digit = digitAt[at];
                Cached[] table = tables[termAt[at]];
                if (digit > 0) {
                    addInPlace(acc, table[digit >>> 1], false, scratch);
                } else {
                    addInPlace(acc, table[(-digit) >>> 1], true, scratch);
                }
            }
        }
        return acc;
    }

    /**
     * The width-w non-adjacent form of a non-negative scalar below 2^256: digits are zero or odd
     * with absolute value below 2^(w-1), and any w consecutive digits hold at most one non-zero.
     */
    static byte[] naf(BigInteger scalar, int width) {
        byte[] naf = new byte[256 + width + 1];
        for (int packed : nafDigits(scalar, width, false)) {
            naf[packed >>> 8] = (byte) packed;
        }
        return naf;
    }

    /**
     * The non-zero digits of {@link #naf}, lowest bit first, each packed as
     * {@code bit << 8 | (digit & 0xFF)}; digits negated when {@code negate}.
     */
    static int[] nafDigits(BigInteger scalar, int width, boolean negate) {
        if (scalar.signum() < 0 || scalar.bitLength() > 256) {
            throw new IllegalArgumentException("scalar out of range");
        }
        if (width < 2 || width > 8) {
            throw new IllegalArgumentException("width " + width + ": digits must fit a byte");
        }
        int[] words = new int[10]; // 256 bits and zeros above, so windows may read past the top
        byte[] be = scalar.toByteArray(); // big-endian, possibly with a leading sign byte
        for (int i = 0; i < be.length && i < 32; i++) {
            words[i >>> 2] |= (be[be.length - 1 - i] & 0xFF) << ((i & 3) * 8);
        }
        // Non-zero digits are at least width bits apart.
        int[] out = new int[(256 + width) / width + 1];
        int found = 0;
        int pow2 = 1 << width;
        int mask = pow2 - 1;
        int half = pow2 >>> 1;
        int carry = 0;
        int i = 0;
        while (i < 256 + width) {
            long pair = (words[i >>> 5] & 0xFFFFFFFFL) | ((long) words[(i >>> 5) + 1] << 32);
            int window = (int) (pair >>> (i & 31)) & mask;
            if ((window & 1) == carry) {
                i++;
                continue;
            }
            int digit = window + carry; // odd
            if ((digit & half) != 0) {
                digit -= pow2;
                carry = 1;
            } else {
                carry = 0;
            }
            out[found++] = (i << 8) | ((negate ? -digit : digit) & 0xFF);
            i += width;
        }
        return found == out.length ? out : java.util.Arrays.copyOf(out, found);
    }

    private static int[] fieldOf(BigInteger value) {
        byte[] be = value.toByteArray();
        byte[] le = new byte[32];
        for (int i = 0; i < be.length && i < 32; i++) {
            le[i] = be[be.length - 1 - i];
        }
        int[] f = X25519Field.create();
        X25519Field.decode(le, 0, f);
        return f;
    }
}
