package bftledger.node.config;

import bftledger.crypto.KeyPair;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.HexFormat;
import java.util.List;
import java.util.Set;

/**
 * An Ed25519 key in a text file readable by its owner only:
 * <pre>
 * bftledger-ed25519-seed-v1
 * &lt;64 hex digits: the 32-byte seed&gt;
 * &lt;64 hex digits: the public key, checked on load&gt;
 * </pre>
 * The public-key line lets a reader notice a corrupted seed (it would derive another key).
 */
public final class KeyFile {
    static final String HEADER = "bftledger-ed25519-seed-v1";
    private static final Set<PosixFilePermission> OWNER_ONLY = PosixFilePermissions.fromString("rw-------");

    private KeyFile() {}

    /** Writes a new key file; refuses to overwrite an existing one (a key is an identity). */
    public static void write(Path path, KeyPair key) throws ConfigException {
        String text = HEADER + "\n" + HexFormat.of().formatHex(key.seed()) + "\n" + key.publicKey().hex() + "\n";
        try {
            if (path.getParent() != null) {
                Files.createDirectories(path.getParent());
            }
            Files.createFile(path, PosixFilePermissions.asFileAttribute(OWNER_ONLY));
            Files.writeString(path, text, StandardCharsets.US_ASCII, StandardOpenOption.TRUNCATE_EXISTING);
        } catch (FileAlreadyExistsException e) {
            throw new ConfigException("key file " + path + " already exists; refusing to overwrite a key."
                    + " Move it away or choose another path.");
        } catch (IOException e) {
            throw new ConfigException("cannot write key file " + path + ": " + e.getMessage(), e);
        }
    }

    public static KeyPair read(Path path) throws ConfigException {
        List<String> lines;
        try {
            lines = Files.readAllLines(path, StandardCharsets.US_ASCII);
        } catch (NoSuchFileException e) {
            throw new ConfigException("key file " + path + " does not exist. Generate one with"
                    + " `bftledger keygen --out " + path + "` or fix the key path in the node config.");
        } catch (IOException e) {
            throw new ConfigException("cannot read key file " + path + ": " + e.getMessage(), e);
        }
        if (lines.size() < 3 || !HEADER.equals(lines.get(0).strip())) {
            throw new ConfigException("key file " + path + " is not a bftledger key file (expected first line "
                    + HEADER + "). Regenerate it with `bftledger keygen`.");
        }
        KeyPair key;
        try {
            key = KeyPair.fromSeed(HexFormat.of().parseHex(lines.get(1).strip()));
        } catch (IllegalArgumentException e) {
            throw new ConfigException("key file " + path + " holds a damaged seed (" + e.getMessage() + ").");
        }
        if (!key.publicKey().hex().equalsIgnoreCase(lines.get(2).strip())) {
            throw new ConfigException("key file " + path + " is damaged: its seed does not derive its public key "
                    + lines.get(2).strip() + ". Restore it from a backup.");
        }
        return key;
    }
}
