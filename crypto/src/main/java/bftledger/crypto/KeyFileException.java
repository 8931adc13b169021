package bftledger.crypto;

import java.nio.file.Path;

/**
 * A key file could not be written or used. The message names the file and says what to do; the
 * {@link Reason} lets a caller (the CLI, node start-up) react without parsing the message.
 */
public final class KeyFileException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public enum Reason {
        /** No file at the path. */
        MISSING,
        /** A file of the other kind: a public key file where a secret key is needed, or the reverse. */
        WRONG_TYPE,
        /** Not a well-formed key file: header, field, hex, length, or a seed that does not match its public key. */
        CORRUPT,
        /** A secret key file that users other than its owner may read or write. */
        INSECURE_PERMISSIONS,
        /** Writing would replace an existing file and overwriting was not asked for. */
        EXISTS,
        /** The file system failed or refused (permission denied, disk full, no POSIX permissions). */
        IO
    }

    private final transient Path path;
    private final Reason reason;

    KeyFileException(Path path, Reason reason, String message) {
        this(path, reason, message, null);
    }

    KeyFileException(Path path, Reason reason, String message, Throwable cause) {
        super(message, cause);
        this.path = path;
        this.reason = reason;
    }

    public Path path() {
        return path;
    }

    public Reason reason() {
        return reason;
    }
}
