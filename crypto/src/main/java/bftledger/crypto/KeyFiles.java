package bftledger.crypto;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.OpenOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.FileAttribute;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Ed25519 key files: small text files, one per key, that an operator can read and diff.
 *
 * <pre>
 * bftledger-ed25519-secret-key-v1        bftledger-ed25519-public-key-v1
 * seed: &lt;64 hex digits&gt;                  public: &lt;64 hex digits&gt;
 * public: &lt;64 hex digits&gt;
 * </pre>
 *
 * The first line names the kind and version, so a public key file given where a secret key is
 * needed gets a message that says so rather than "bad format". Blank lines and lines starting
 * with {@code #} are ignored; each field appears exactly once. The secret file repeats the public
 * key so that a damaged seed is detected on load instead of producing a node with another identity.
 *
 * <p>Secret key files are created with mode 600 (rw-------) in the same call that creates them,
 * so there is no moment when another user could open them, and loading refuses a secret key
 * file that its group or others may read or write. This needs a POSIX file system.
 */
public final class KeyFiles {
    public static final String SECRET_HEADER = "bftledger-ed25519-secret-key-v1";
    public static final String PUBLIC_HEADER = "bftledger-ed25519-public-key-v1";
    /** Far above a real key file (about 200 bytes): anything bigger is not one, and is not read. */
    static final long MAX_FILE_BYTES = 4096;

    private static final Set<PosixFilePermission> OWNER_ONLY = PosixFilePermissions.fromString("rw-------");
    private static final Set<PosixFilePermission> WORLD_READABLE = PosixFilePermissions.fromString("rw-r--r--");
    private static final HexFormat HEX = HexFormat.of();

    private KeyFiles() {}

    /** Writes a secret key file with mode 600; refuses to replace an existing file. */
    public static void writeKeyPair(Path path, KeyPair keyPair) {
        writeKeyPair(path, keyPair, false);
    }

    /**
     * Writes a secret key file with mode 600. With {@code overwrite}, an existing file is replaced
     * atomically (a new file is written beside it and renamed over it), so a crash leaves either
     * the old key or the new one, never a torn file.
     */
    public static void writeKeyPair(Path path, KeyPair keyPair, boolean overwrite) {
        byte[] seed = keyPair.seed();
        String text = SECRET_HEADER + "\n"
                + "seed: " + HEX.formatHex(seed) + "\n"
                + "public: " + keyPair.publicKey().hex() + "\n";
        Arrays.fill(seed, (byte) 0);
        write(path, text, OWNER_ONLY, overwrite);
    }

    /** Writes a public key file with mode 644; refuses to replace an existing file. */
    public static void writePublicKey(Path path, PublicKey publicKey) {
        writePublicKey(path, publicKey, false);
    }

    public static void writePublicKey(Path path, PublicKey publicKey, boolean overwrite) {
        write(path, PUBLIC_HEADER + "\n" + "public: " + publicKey.hex() + "\n", WORLD_READABLE, overwrite);
    }

    /**
     * Loads a secret key file.
     *
     * @throws KeyFileException with reason MISSING, WRONG_TYPE (a public key file), CORRUPT,
     *     INSECURE_PERMISSIONS (group or others have any access) or IO
     */
    public static KeyPair readKeyPair(Path path) {
        List<String> lines = readLines(path);
        checkHeader(path, lines, SECRET_HEADER, PUBLIC_HEADER,
                "is a public key file, but a secret key file is needed here; "
                        + "point this setting at the node's secret key file (first line " + SECRET_HEADER + ")");
        checkOwnerOnly(path);
        Map<String, String> fields = fields(path, lines, List.of("seed", "public"));
        byte[] seed = hexField(path, fields, "seed", KeyPair.SEED_LENGTH);
        PublicKey stored = publicKey(path, hexField(path, fields, "public", PublicKey.LENGTH));
        KeyPair keyPair = KeyPair.fromSeed(seed);
        Arrays.fill(seed, (byte) 0);
        if (!keyPair.publicKey().equals(stored)) {
            throw new KeyFileException(path, KeyFileException.Reason.CORRUPT, "secret key file " + path
                    + " is corrupt: its seed gives public key " + keyPair.publicKey().shortHex()
                    + "... but the file says " + stored.shortHex() + "...; restore it from a backup "
                    + "(do not edit either line by hand)");
        }
        return keyPair;
    }

    /**
     * Loads a public key file.
     *
     * @throws KeyFileException with reason MISSING, WRONG_TYPE (a secret key file), CORRUPT or IO
     */
    public static PublicKey readPublicKey(Path path) {
        List<String> lines = readLines(path);
        // Strict on purpose: a config that names secret key files where public keys belong
        // would spread copies of secrets to wherever that config goes.
        checkHeader(path, lines, PUBLIC_HEADER, SECRET_HEADER,
                "is a secret key file, but a public key file is expected here; export the public key "
                        + "(first line " + PUBLIC_HEADER + ") and use that instead");
        Map<String, String> fields = fields(path, lines, List.of("public"));
        return publicKey(path, hexField(path, fields, "public", PublicKey.LENGTH));
    }

    // ---- writing ----

    private static void write(Path path, String text, Set<PosixFilePermission> mode, boolean overwrite) {
        byte[] bytes = text.getBytes(StandardCharsets.US_ASCII);
        FileAttribute<Set<PosixFilePermission>> attribute = PosixFilePermissions.asFileAttribute(mode);
        try {
            if (!overwrite) {
                // CREATE_NEW checks and creates in one step: no race with another writer.
                writeNew(path, bytes, attribute, mode);
                return;
            }
            Path dir = path.toAbsolutePath().getParent();
            Path temp = Files.createTempFile(dir, "." + path.getFileName() + ".", ".tmp", attribute);
            try {
                writeContent(temp, bytes, mode);
                Files.move(temp, path, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
                syncDirectory(path);
            } finally {
                Files.deleteIfExists(temp);
            }
        } catch (FileAlreadyExistsException e) {
            throw new KeyFileException(path, KeyFileException.Reason.EXISTS, "key file " + path
                    + " already exists; refusing to overwrite it (it may hold a node's identity). "
                    + "Move it away first, or ask explicitly to overwrite it", e);
        } catch (UnsupportedOperationException e) {
            throw new KeyFileException(path, KeyFileException.Reason.IO, "cannot write key file " + path
                    + ": its file system has no POSIX permissions, so the file could not be made owner-only; "
                    + "put key files on a POSIX file system", e);
        } catch (IOException e) {
            throw new KeyFileException(path, KeyFileException.Reason.IO,
                    "cannot write key file " + path + ": " + describe(e), e);
        }
    }

    private static void writeNew(Path path, byte[] bytes, FileAttribute<Set<PosixFilePermission>> attribute,
            Set<PosixFilePermission> mode) throws IOException {
        Set<OpenOption> options = Set.of(StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
        boolean created = false;
        try (FileChannel channel = FileChannel.open(path, options, attribute)) {
            created = true;
            writeFully(channel, bytes);
        } catch (IOException | RuntimeException e) {
            if (created) {
                // A half-written key file would only fail later, and more confusingly.
                Files.deleteIfExists(path);
            }
            throw e;
        }
        // The umask can only take bits away from 600/644, but set the mode exactly anyway.
        Files.setPosixFilePermissions(path, mode);
        syncDirectory(path);
    }

    private static void writeContent(Path path, byte[] bytes, Set<PosixFilePermission> mode) throws IOException {
        try (FileChannel channel = FileChannel.open(path, StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING)) {
            writeFully(channel, bytes);
        }
        Files.setPosixFilePermissions(path, mode);
    }

    private static void writeFully(FileChannel channel, byte[] bytes) throws IOException {
        ByteBuffer buffer = ByteBuffer.wrap(bytes);
        while (buffer.hasRemaining()) {
            channel.write(buffer);
        }
        channel.force(true);
    }

    /** Makes the new directory entry durable too; best effort, as not every platform can open a directory. */
    private static void syncDirectory(Path path) {
        Path dir = path.toAbsolutePath().getParent();
        try (FileChannel channel = FileChannel.open(dir, StandardOpenOption.READ)) {
            channel.force(true);
        } catch (IOException | UnsupportedOperationException e) {
            // The file itself is already synced; only a crash in the next moments could lose its name.
        }
    }

    // ---- reading ----

    private static List<String> readLines(Path path) {
        try {
            long size = Files.size(path);
            if (size > MAX_FILE_BYTES) {
                throw corrupt(path, "is " + size + " bytes, far too large for a key file");
            }
            byte[] bytes = Files.readAllBytes(path);
            for (byte b : bytes) {
                if (b < 0) {
                    throw corrupt(path, "contains bytes that are not ASCII text");
                }
            }
            return new String(bytes, StandardCharsets.US_ASCII).lines().map(String::strip)
                    .filter(line -> !line.isEmpty() && !line.startsWith("#")).toList();
        } catch (NoSuchFileException e) {
            throw new KeyFileException(path, KeyFileException.Reason.MISSING, "key file " + path
                    + " does not exist; check the path in the configuration, or generate a key pair there", e);
        } catch (IOException e) {
            throw new KeyFileException(path, KeyFileException.Reason.IO,
                    "cannot read key file " + path + ": " + describe(e), e);
        }
    }

    private static void checkHeader(Path path, List<String> lines, String expected, String otherKind, String wrongTypeAdvice) {
        String header = lines.isEmpty() ? "" : lines.get(0);
        if (header.equals(expected)) {
            return;
        }
        if (header.equals(otherKind)) {
            throw new KeyFileException(path, KeyFileException.Reason.WRONG_TYPE, path + " " + wrongTypeAdvice);
        }
        throw corrupt(path, lines.isEmpty()
                ? "is empty; expected first line " + expected
                : "does not start with the line " + expected);
    }

    private static void checkOwnerOnly(Path path) {
        Set<PosixFilePermission> mode;
        try {
            mode = Files.getPosixFilePermissions(path);
        } catch (UnsupportedOperationException e) {
            // Nothing to check on a file system without POSIX permissions; writing refuses those.
            return;
        } catch (IOException e) {
            throw new KeyFileException(path, KeyFileException.Reason.IO,
                    "cannot read the permissions of key file " + path + ": " + describe(e), e);
        }
        // The owner's own bits do not matter (400 and 700 are fine); anyone else's do.
        if (mode.stream().anyMatch(permission -> !permission.name().startsWith("OWNER_"))) {
            throw new KeyFileException(path, KeyFileException.Reason.INSECURE_PERMISSIONS, "secret key file " + path
                    + " has permissions " + PosixFilePermissions.toString(mode)
                    + ", so users other than its owner can read or change it; run `chmod 600 " + path
                    + "` (and consider the key exposed if others could read it)");
        }
    }

    private static Map<String, String> fields(Path path, List<String> lines, List<String> names) {
        Map<String, String> fields = new LinkedHashMap<>();
        for (String line : lines.subList(1, lines.size())) {
            int colon = line.indexOf(':');
            if (colon < 0) {
                // The line is not echoed: in a secret key file it may hold the seed.
                throw corrupt(path, "has a line that is not `name: value`");
            }
            String name = line.substring(0, colon).strip();
            if (!names.contains(name)) {
                throw corrupt(path, "has an unknown field" + (name.length() <= 20 ? " `" + name + "`" : "")
                        + "; expected only " + names);
            }
            if (fields.put(name, line.substring(colon + 1).strip()) != null) {
                throw corrupt(path, "has the field `" + name + "` twice");
            }
        }
        for (String name : names) {
            if (!fields.containsKey(name)) {
                throw corrupt(path, "has no `" + name + ":` line");
            }
        }
        return fields;
    }

    private static byte[] hexField(Path path, Map<String, String> fields, String name, int length) {
        String value = fields.get(name);
        if (value.length() != 2 * length) {
            throw corrupt(path, "has a " + name + " of " + value.length() + " hex digits; expected "
                    + 2 * length + " (" + length + " bytes)");
        }
        try {
            return HEX.parseHex(value);
        } catch (IllegalArgumentException e) {
            throw corrupt(path, "has a " + name + " that is not hexadecimal");
        }
    }

    private static PublicKey publicKey(Path path, byte[] encoded) {
        try {
            return PublicKey.of(encoded);
        } catch (IllegalArgumentException e) {
            throw corrupt(path, "has a public key that is not a valid Ed25519 point");
        }
    }

    private static KeyFileException corrupt(Path path, String what) {
        return new KeyFileException(path, KeyFileException.Reason.CORRUPT, "key file " + path + " " + what
                + "; it is damaged or not a bftledger key file: restore it from a backup or generate a new one");
    }

    private static String describe(IOException e) {
        if (e instanceof AccessDeniedException) {
            return "permission denied";
        }
        return e.getClass().getSimpleName() + (e.getMessage() == null ? "" : ": " + e.getMessage());
    }
}
