package bftledger.crypto;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class KeyFilesTest {
    private static final KeyPair KEY = KeyPair.deterministic("key-files");
    private static final KeyPair OTHER = KeyPair.deterministic("key-files-other");
    private static final String SEED_HEX = java.util.HexFormat.of().formatHex(KEY.seed());

    @TempDir
    Path dir;

    @Test
    void secretKeyRoundTripWithOwnerOnlyPermissions() throws IOException {
        Path file = dir.resolve("node.key");
        KeyFiles.writeKeyPair(file, KEY);
        assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(file)));
        assertEquals(List.of(KeyFiles.SECRET_HEADER, "seed: " + SEED_HEX, "public: " + KEY.publicKey().hex()),
                Files.readAllLines(file));
        KeyPair loaded = KeyFiles.readKeyPair(file);
        assertEquals(KEY, loaded);
        assertEquals(KEY.publicKey(), loaded.publicKey());
    }

    @Test
    void publicKeyRoundTrip() throws IOException {
        Path file = dir.resolve("node.pub");
        KeyFiles.writePublicKey(file, KEY.publicKey());
        assertEquals("rw-r--r--", PosixFilePermissions.toString(Files.getPosixFilePermissions(file)));
        assertEquals(List.of(KeyFiles.PUBLIC_HEADER, "public: " + KEY.publicKey().hex()), Files.readAllLines(file));
        assertEquals(KEY.publicKey(), KeyFiles.readPublicKey(file));
    }

    @Test
    void refusesToOverwriteUnlessAsked() throws IOException {
        Path file = dir.resolve("node.key");
        KeyFiles.writeKeyPair(file, KEY);
        KeyFileException e = assertThrows(KeyFileException.class, () -> KeyFiles.writeKeyPair(file, OTHER));
        assertEquals(KeyFileException.Reason.EXISTS, e.reason());
        assertMentions(e, file.toString(), "already exists");
        assertEquals(KEY, KeyFiles.readKeyPair(file), "the existing key is untouched");
        assertThrows(KeyFileException.class, () -> KeyFiles.writePublicKey(file, OTHER.publicKey()));

        KeyFiles.writeKeyPair(file, OTHER, true);
        assertEquals(OTHER, KeyFiles.readKeyPair(file));
        assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(file)));
        try (var entries = Files.list(dir)) {
            assertEquals(List.of(file), entries.toList(), "no temporary file left behind");
        }
    }

    @Test
    void missingFile() {
        Path file = dir.resolve("absent.key");
        KeyFileException e = assertThrows(KeyFileException.class, () -> KeyFiles.readKeyPair(file));
        assertEquals(KeyFileException.Reason.MISSING, e.reason());
        assertEquals(file, e.path());
        assertMentions(e, file.toString(), "does not exist");
        assertEquals(KeyFileException.Reason.MISSING,
                assertThrows(KeyFileException.class, () -> KeyFiles.readPublicKey(file)).reason());
    }

    @Test
    void publicKeyFileWhereSecretKeyIsNeeded() {
        Path file = dir.resolve("node.pub");
        KeyFiles.writePublicKey(file, KEY.publicKey());
        KeyFileException e = assertThrows(KeyFileException.class, () -> KeyFiles.readKeyPair(file));
        assertEquals(KeyFileException.Reason.WRONG_TYPE, e.reason());
        assertMentions(e, file.toString(), "is a public key file", "secret key file is needed");
    }

    @Test
    void secretKeyFileWherePublicKeyIsExpected() {
        Path file = dir.resolve("node.key");
        KeyFiles.writeKeyPair(file, KEY);
        KeyFileException e = assertThrows(KeyFileException.class, () -> KeyFiles.readPublicKey(file));
        assertEquals(KeyFileException.Reason.WRONG_TYPE, e.reason());
        assertMentions(e, file.toString(), "is a secret key file");
    }

    @Test
    void refusesSecretKeyFilesOthersCanReach() throws IOException {
        Path file = dir.resolve("node.key");
        KeyFiles.writeKeyPair(file, KEY);
        for (String mode : List.of("rw-r-----", "rw----r--", "rw-rw----", "rw-----w-")) {
            Files.setPosixFilePermissions(file, PosixFilePermissions.fromString(mode));
            KeyFileException e = assertThrows(KeyFileException.class, () -> KeyFiles.readKeyPair(file), mode);
            assertEquals(KeyFileException.Reason.INSECURE_PERMISSIONS, e.reason(), mode);
            assertMentions(e, file.toString(), mode, "chmod 600");
        }
        for (String mode : List.of("r--------", "rwx------")) {
            Files.setPosixFilePermissions(file, PosixFilePermissions.fromString(mode));
            assertEquals(KEY, KeyFiles.readKeyPair(file), mode + " is owner-only");
        }
    }

    @Test
    void corruptSecretKeyFiles() throws IOException {
        String pub = "public: " + KEY.publicKey().hex();
        String seed = "seed: " + SEED_HEX;
        String header = KeyFiles.SECRET_HEADER;
        checkCorrupt("", "is empty");
        checkCorrupt("bftledger-ed25519-secret-key-v2\n" + seed + "\n" + pub, "does not start with");
        checkCorrupt(header + "\n" + seed, "no `public:` line");
        checkCorrupt(header + "\n" + pub, "no `seed:` line");
        checkCorrupt(header + "\n" + seed + "\n" + seed + "\n" + pub, "`seed` twice");
        checkCorrupt(header + "\n" + seed + "\n" + pub + "\ncomment: hi", "unknown field `comment`");
        checkCorrupt(header + "\n" + SEED_HEX + "\n" + pub, "not `name: value`");
        checkCorrupt(header + "\nseed: " + SEED_HEX.substring(2) + "\n" + pub, "62 hex digits; expected 64");
        checkCorrupt(header + "\nseed: " + SEED_HEX + "00\n" + pub, "66 hex digits");
        checkCorrupt(header + "\nseed: zz" + SEED_HEX.substring(2) + "\n" + pub, "seed that is not hexadecimal");
        checkCorrupt(header + "\n" + seed + "\npublic: " + OTHER.publicKey().hex(), "its seed gives public key");
        checkCorrupt(header + "\n" + seed + "\npublic: 02" + "00".repeat(31), "not a valid Ed25519 point");
        checkCorrupt(header + "\n" + seed + "\n" + pub + "\n#" + "x".repeat(5000), "too large");
        checkCorrupt(header + "\n" + seed + "\n" + pub + "\n# caf\u00e9", "not ASCII");
    }

    @Test
    void corruptPublicKeyFiles() throws IOException {
        Path file = dir.resolve("bad.pub");
        Files.writeString(file, KeyFiles.PUBLIC_HEADER + "\npublic: " + KEY.publicKey().hex().substring(1) + "x\n");
        KeyFileException e = assertThrows(KeyFileException.class, () -> KeyFiles.readPublicKey(file));
        assertEquals(KeyFileException.Reason.CORRUPT, e.reason());
        assertMentions(e, file.toString(), "not hexadecimal");
        Files.writeString(file, "-----BEGIN PUBLIC KEY-----\n");
        assertEquals(KeyFileException.Reason.CORRUPT,
                assertThrows(KeyFileException.class, () -> KeyFiles.readPublicKey(file)).reason());
    }

    @Test
    void toleratesCommentsBlankLinesCrLfAndFieldOrder() throws IOException {
        Path file = dir.resolve("hand.key");
        Files.writeString(file, "# node 3\r\n" + KeyFiles.SECRET_HEADER + "\r\n\r\n  public: "
                + KEY.publicKey().hex().toUpperCase() + "  \r\nseed:" + SEED_HEX + "\r\n");
        Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rw-------"));
        assertEquals(KEY, KeyFiles.readKeyPair(file));
    }

    private void checkCorrupt(String content, String expectedMessagePart) throws IOException {
        Path file = dir.resolve("corrupt.key");
        Files.deleteIfExists(file);
        Files.writeString(file, content, StandardCharsets.UTF_8);
        Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rw-------"));
        KeyFileException e = assertThrows(KeyFileException.class, () -> KeyFiles.readKeyPair(file), content);
        assertEquals(KeyFileException.Reason.CORRUPT, e.reason(), e.getMessage());
        assertMentions(e, file.toString(), expectedMessagePart, "restore it from a backup");
        assertFalse(e.getMessage().contains(SEED_HEX.substring(0, 16)), "the message never shows the seed");
    }

    private static void assertMentions(KeyFileException e, String... parts) {
        for (String part : parts) {
            assertTrue(e.getMessage().contains(part), () -> "message lacks \"" + part + "\": " + e.getMessage());
        }
    }
}
