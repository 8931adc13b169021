package bftledger.node.backup;

import bftledger.node.config.ConfigException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.util.HexFormat;

/**
 * The secret an operator call to a node carries (NodeAdmin in admin.proto): drawn afresh at every
 * start and written, owner-only, into the node's data directory, so only someone who can read
 * the node's files (the operator on its host, or in its pod) can ask it for a backup.
 */
public final class AdminToken {
    public static final String FILE = "admin.token";
    private static final int TOKEN_BYTES = 32;

    private final byte[] token;

    private AdminToken(byte[] token) {
        this.token = token;
    }

    /** Draws a token and writes it to {@code dataDir/admin.token} (mode 600), replacing the last run's. */
    public static AdminToken create(Path dataDir) throws ConfigException {
        byte[] raw = new byte[TOKEN_BYTES];
        new SecureRandom().nextBytes(raw);
        String hex = HexFormat.of().formatHex(raw);
        Path file = dataDir.resolve(FILE);
        Path temp = dataDir.resolve(FILE + ".new");
        try {
            Files.deleteIfExists(temp);
            Files.createFile(temp, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
            Files.writeString(temp, hex + "\n");
            Files.move(temp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (IOException e) {
            throw new ConfigException("cannot write the admin token " + file + ": " + e.getMessage(), e);
        }
        return new AdminToken(hex.getBytes(StandardCharsets.US_ASCII));
    }

    /** The running node's token, as the CLI reads it. */
    public static String read(Path dataDir) throws ConfigException {
        Path file = dataDir.resolve(FILE);
        try {
            return Files.readString(file).strip();
        } catch (IOException e) {
            throw new ConfigException("cannot read the node's admin token " + file + " (" + e.getMessage() + "): run this"
                    + " on the node's host as the user that runs it", e);
        }
    }

    /** Constant-time comparison, so the answer's timing says nothing about the token. */
    public boolean matches(String presented) {
        return MessageDigest.isEqual(token, presented.strip().getBytes(StandardCharsets.US_ASCII));
    }
}
