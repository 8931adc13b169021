package bftledger.node.backup;

import bftledger.node.config.ConfigException;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.SerializationFeature;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.List;

/**
 * What a backup holds, written last into {@value #FILE} so that a directory without it is not a
 * backup: the ledger's head as the copied block store states it, who made it and when, and the
 * size and SHA-256 of every file, which restore and the audit check before they use a byte of it
 * (BackupManifestTest).
 */
public record BackupManifest(
        String format,
        int formatVersion,
        int storeFormatVersion,
        String chainId,
        String genesisHash,
        int replica,
        String nodeKey,
        long height,
        String lastBlockHash,
        String stateRoot,
        String createdAt,
        long createdAtMillis,
        /** "hot" (copied by the running node) or "offline" (copied by the CLI from a stopped node). */
        String mode,
        long copyMillis,
        List<FileEntry> files) {

    public static final String FILE = "manifest.json";
    public static final String FORMAT = "bftledger-backup";
    public static final int FORMAT_VERSION = 1;
    /** A manifest is a few hundred bytes; anything far larger is not one. */
    static final long MANIFEST_BYTES_MAX = 64 * 1024;

    /** One file of the backup, by its path relative to the backup directory. */
    public record FileEntry(String path, long bytes, @JsonProperty("sha256") String sha256) {}

    private static final ObjectMapper JSON = new ObjectMapper()
            .setPropertyNamingStrategy(PropertyNamingStrategies.SNAKE_CASE)
            .enable(SerializationFeature.INDENT_OUTPUT)
            .enable(DeserializationFeature.FAIL_ON_NULL_FOR_PRIMITIVES)
            .enable(DeserializationFeature.FAIL_ON_MISSING_CREATOR_PROPERTIES);

    public String toJson() {
        try {
            return JSON.writeValueAsString(this) + "\n";
        } catch (IOException e) {
            throw new IllegalStateException("a manifest always serializes", e);
        }
    }

    /** Parses a manifest; a malformed one, or one of another format, is refused with the reason. */
    public static BackupManifest parse(String text, Path where) throws ConfigException {
        BackupManifest m;
        try {
            m = JSON.readValue(text, BackupManifest.class);
        } catch (IOException e) {
            throw new ConfigException(where + " is not a backup manifest: " + (e instanceof com.fasterxml.jackson.core.JsonProcessingException j ? j.getOriginalMessage() : e.getMessage()));
        }
        if (!FORMAT.equals(m.format()) || m.formatVersion() != FORMAT_VERSION) {
            throw new ConfigException(where + " is a manifest of format " + m.format() + "/" + m.formatVersion()
                    + "; this bftledger reads " + FORMAT + "/" + FORMAT_VERSION);
        }
        if (m.files() == null || m.files().isEmpty() || m.lastBlockHash() == null || m.stateRoot() == null
                || m.chainId() == null || m.genesisHash() == null) {
            throw new ConfigException(where + " lists no files or lacks the ledger's head");
        }
        for (FileEntry f : m.files()) {
            if (f == null || f.path() == null || f.sha256() == null) {
                throw new ConfigException(where + " has a file entry without a path or a checksum");
            }
            Path p = Path.of(f.path());
            if (p.isAbsolute() || p.normalize().startsWith("..") || !p.normalize().equals(p)) {
                throw new ConfigException(where + " names a file outside the backup: " + f.path());
            }
        }
        return m;
    }

    public static BackupManifest read(Path backupDir) throws ConfigException {
        Path file = backupDir.resolve(FILE);
        try {
            if (!Files.isRegularFile(file)) {
                throw new ConfigException(backupDir + " is not a backup: it has no " + FILE + " (an unfinished or"
                        + " foreign directory)");
            }
            if (Files.size(file) > MANIFEST_BYTES_MAX) {
                throw new ConfigException(file + " is " + Files.size(file) + " bytes: not a backup manifest");
            }
            return parse(Files.readString(file), file);
        } catch (IOException e) {
            throw new ConfigException("cannot read " + file + ": " + e.getMessage(), e);
        }
    }

    /** The size and SHA-256 of {@code file}, named {@code relative} in the manifest. */
    static FileEntry entryOf(Path file, String relative) throws IOException {
        MessageDigest sha;
        try {
            sha = MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("every JDK has SHA-256", e);
        }
        long bytes = 0;
        byte[] buffer = new byte[1 << 20];
        try (InputStream in = Files.newInputStream(file)) {
            for (int n; (n = in.read(buffer)) > 0; ) {
                sha.update(buffer, 0, n);
                bytes += n;
            }
        }
        return new FileEntry(relative, bytes, HexFormat.of().formatHex(sha.digest()));
    }
}
