package bftledger.crypto;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.HexFormat;
import org.bouncycastle.crypto.params.Ed25519PrivateKeyParameters;
import org.bouncycastle.crypto.params.Ed25519PublicKeyParameters;
import org.bouncycastle.math.ec.rfc8032.Ed25519;
import org.junit.jupiter.api.Test;

class Ed25519Test {
    private static final HexFormat HEX = HexFormat.of();

    /** RFC 8032 section 7.1, TEST 1 and TEST 2. */
    private static final String[][] RFC8032 = {
        {
            "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
            "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
            "",
            "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"
        },
        {
            "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
            "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
            "72",
            "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00"
        },
    };

    @Test
    void rfc8032Vectors() {
        for (String[] vector : RFC8032) {
            byte[] seed = HEX.parseHex(vector[0]);
            byte[] message = HEX.parseHex(vector[2]);
            byte[] expected = HEX.parseHex(vector[3]);
            KeyPair key = KeyPair.fromSeed(seed);
            assertEquals(PublicKey.fromHex(vector[1]), key.publicKey(), "public key from seed " + vector[0]);
            assertArrayEquals(seed, key.seed());

            // Our signatures cover a domain prefix, so the vector's signature is checked on the raw path.
            byte[] raw = new byte[Signature.LENGTH];
            new Ed25519PrivateKeyParameters(seed, 0).sign(Ed25519.Algorithm.Ed25519, null, message, 0, message.length, raw, 0);
            assertArrayEquals(expected, raw);
            assertTrue(new Ed25519PublicKeyParameters(key.publicKey().bytes(), 0)
                    .verify(Ed25519.Algorithm.Ed25519, null, message, 0, message.length, expected, 0));
        }
    }

    @Test
    void domainSignatureIsPlainEd25519OverPrefixAndMessage() {
        // The public contract: another language signs prefix || body with plain RFC 8032 Ed25519.
        KeyPair key = KeyPair.fromSeed(HEX.parseHex(RFC8032[1][0]));
        byte[] body = {0x72, 0x01, 0x02};
        byte[] prefix = Domain.TRANSACTION.prefix();
        assertArrayEquals("bftledger/v1/transaction\0".getBytes(java.nio.charset.StandardCharsets.US_ASCII), prefix);
        byte[] framed = new byte[prefix.length + body.length];
        System.arraycopy(prefix, 0, framed, 0, prefix.length);
        System.arraycopy(body, 0, framed, prefix.length, body.length);
        byte[] raw = new byte[Signature.LENGTH];
        new Ed25519PrivateKeyParameters(key.seed(), 0).sign(Ed25519.Algorithm.Ed25519, null, framed, 0, framed.length, raw, 0);
        assertArrayEquals(raw, key.sign(Domain.TRANSACTION, body));
        assertTrue(key.publicKey().verify(Domain.TRANSACTION, body, raw));
    }

    @Test
    void signVerifyRoundTrip() {
        Seeded.run(random -> {
            for (int trial = 0; trial < 40; trial++) {
                byte[] seed = new byte[KeyPair.SEED_LENGTH];
                random.nextBytes(seed);
                KeyPair key = KeyPair.fromSeed(seed);
                assertEquals(key, KeyPair.fromSeed(seed), "same seed, same key");
                byte[] message = new byte[random.nextInt(300)];
                random.nextBytes(message);
                Domain domain = Domain.values()[random.nextInt(Domain.values().length)];
                byte[] signature = key.sign(domain, message);
                assertEquals(Signature.LENGTH, signature.length);
                assertArrayEquals(signature, key.sign(domain, message), "Ed25519 signing is deterministic");
                assertTrue(key.publicKey().verify(domain, message, signature));
                // PublicKey survives a trip through its encoding.
                assertTrue(PublicKey.of(key.publicKey().bytes()).verify(domain, message, signature));
                assertTrue(PublicKey.fromHex(key.publicKey().hex()).verify(domain, message, signature));

                // A slice of a larger buffer signs and verifies like the slice alone.
                byte[] padded = new byte[message.length + 10];
                System.arraycopy(message, 0, padded, 5, message.length);
                assertArrayEquals(signature, key.sign(domain, padded, 5, message.length));
                assertTrue(key.publicKey().verify(domain, padded, 5, message.length, signature));

                if (message.length > 0) {
                    byte[] tampered = message.clone();
                    tampered[random.nextInt(tampered.length)] ^= (byte) (1 << random.nextInt(8));
                    assertFalse(key.publicKey().verify(domain, tampered, signature));
                }
            }
        });
    }

    @Test
    void wrongLengthSignaturesAreInvalidNotErrors() {
        KeyPair key = KeyPair.deterministic("lengths");
        byte[] message = {1, 2, 3};
        byte[] signature = key.sign(Domain.PREPARE, message);
        assertFalse(key.publicKey().verify(Domain.PREPARE, message, null));
        assertFalse(key.publicKey().verify(Domain.PREPARE, message, new byte[0]));
        assertFalse(key.publicKey().verify(Domain.PREPARE, message, java.util.Arrays.copyOf(signature, 63)));
        assertFalse(key.publicKey().verify(Domain.PREPARE, message, java.util.Arrays.copyOf(signature, 65)));
        assertFalse(key.publicKey().verify(Domain.PREPARE, message, new byte[Signature.LENGTH]));
    }

    @Test
    void publicKeyRejectsWrongLengths() {
        byte[] good = KeyPair.deterministic("len").publicKey().bytes();
        assertThrows(IllegalArgumentException.class, () -> PublicKey.of(null));
        assertThrows(IllegalArgumentException.class, () -> PublicKey.of(new byte[0]));
        assertThrows(IllegalArgumentException.class, () -> PublicKey.of(java.util.Arrays.copyOf(good, 31)));
        assertThrows(IllegalArgumentException.class, () -> PublicKey.of(java.util.Arrays.copyOf(good, 33)));
        assertThrows(IllegalArgumentException.class, () -> PublicKey.fromHex("abc"));
        assertThrows(IllegalArgumentException.class, () -> KeyPair.fromSeed(new byte[31]));
        assertThrows(IllegalArgumentException.class, () -> KeyPair.fromSeed(null));
    }

    @Test
    void publicKeyRejectsInvalidPoints() {
        String[] invalid = {
            // y = 2 is not the y of any curve point.
            "0200000000000000000000000000000000000000000000000000000000000000",
            // y = 3 is on the curve but outside the prime-order subgroup.
            "0300000000000000000000000000000000000000000000000000000000000000",
            // The identity, of order 1.
            "0100000000000000000000000000000000000000000000000000000000000000",
            // A point of order 8.
            "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",
            // Non-canonical encodings, y >= p = 2^255 - 19.
            "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
            "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
            // y = 0, a point of order 4.
            "0000000000000000000000000000000000000000000000000000000000000000",
        };
        for (String hex : invalid) {
            assertThrows(IllegalArgumentException.class, () -> PublicKey.fromHex(hex), hex);
        }
    }

    @Test
    void publicKeyIsAnImmutableValue() {
        PublicKey a = KeyPair.deterministic("a").publicKey();
        PublicKey a2 = PublicKey.of(a.bytes());
        PublicKey b = KeyPair.deterministic("b").publicKey();
        assertEquals(a, a2);
        assertEquals(a.hashCode(), a2.hashCode());
        assertEquals(0, a.compareTo(a2));
        assertNotEquals(a, b);
        assertEquals(-Integer.signum(a.compareTo(b)), Integer.signum(b.compareTo(a)));
        byte[] leaked = a.bytes();
        leaked[0] ^= 1;
        assertEquals(a, a2, "changing a returned array does not change the key");
        assertEquals(8, a.shortHex().length());
        assertTrue(a.hex().startsWith(a.shortHex()));
    }

    @Test
    void generatedKeysAreDistinctAndWork() {
        KeyPair one = KeyPair.generate();
        KeyPair two = KeyPair.generate();
        assertNotEquals(one, two);
        byte[] message = {9};
        assertTrue(one.publicKey().verify(Domain.STATUS, message, one.sign(Domain.STATUS, message)));
        assertFalse(two.publicKey().verify(Domain.STATUS, message, one.sign(Domain.STATUS, message)));
    }
}
