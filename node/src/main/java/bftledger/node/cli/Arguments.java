package bftledger.node.cli;

import bftledger.crypto.KeyFiles;
import bftledger.crypto.PublicKey;
import com.google.protobuf.ByteString;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HexFormat;

/** Parsing of the argument forms several commands share: durations and accounts. */
final class Arguments {
    private Arguments() {}

    /** {@code 500ms}, {@code 30s}, {@code 2m}, or plain seconds. */
    static Duration duration(String s) throws UserError {
        try {
            if (s.endsWith("ms")) {
                return Duration.ofMillis(Long.parseLong(s.substring(0, s.length() - 2)));
            }
            if (s.endsWith("s")) {
                return Duration.ofSeconds(Long.parseLong(s.substring(0, s.length() - 1)));
            }
            if (s.endsWith("m")) {
                return Duration.ofMinutes(Long.parseLong(s.substring(0, s.length() - 1)));
            }
            return Duration.ofSeconds(Long.parseLong(s));
        } catch (NumberFormatException e) {
            throw new UserError("'" + s + "' is not a duration; write e.g. 30s, 500ms or 2m.");
        }
    }

    /** An account address: 64 hex digits, or a public or secret key file. */
    static PublicKey account(String value) throws UserError {
        try {
            if (value.matches("[0-9a-fA-F]{64}")) {
                return PublicKey.fromHex(value);
            }
            Path p = Path.of(value);
            if (Files.exists(p)) {
                String head = Files.readAllLines(p).stream().findFirst().orElse("");
                return head.equals(KeyFiles.PUBLIC_HEADER) ? KeyFiles.readPublicKey(p) : KeyFiles.readKeyPair(p).publicKey();
            }
        } catch (IOException | RuntimeException e) {
            throw new UserError("cannot read an account from '" + value + "': " + e.getMessage());
        }
        throw new UserError("'" + value + "' is neither a 64-hex-digit public key nor an existing key file.");
    }

    static String hex(ByteString b) {
        return HexFormat.of().formatHex(b.toByteArray());
    }
}
