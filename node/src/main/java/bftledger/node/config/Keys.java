package bftledger.node.config;

import bftledger.crypto.KeyFileException;
import bftledger.crypto.KeyFiles;
import bftledger.crypto.KeyPair;
import java.nio.file.Path;

/** Key files through crypto's {@link KeyFiles}, with errors turned into what an operator should do. */
public final class Keys {
    private Keys() {}

    public static KeyPair read(Path path) throws ConfigException {
        try {
            return KeyFiles.readKeyPair(path);
        } catch (KeyFileException e) {
            String hint = switch (e.reason()) {
                case MISSING -> " Generate one with `bftledger keygen --out " + path + "` or fix the key path in the config.";
                case INSECURE_PERMISSIONS -> " Run `chmod 600 " + path + "`.";
                case WRONG_TYPE -> " Point the config at the secret key file, not the public one.";
                default -> " Restore the key file from a backup.";
            };
            throw new ConfigException(e.getMessage() + hint, e);
        }
    }

    public static void write(Path path, KeyPair key) throws ConfigException {
        try {
            if (path.toAbsolutePath().getParent() != null) {
                java.nio.file.Files.createDirectories(path.toAbsolutePath().getParent());
            }
        } catch (java.io.IOException e) {
            throw new ConfigException("cannot create the directory for key file " + path + ": " + e.getMessage(), e);
        }
        try {
            KeyFiles.writeKeyPair(path, key);
        } catch (KeyFileException e) {
            throw new ConfigException(e.getMessage() + (e.reason() == KeyFileException.Reason.EXISTS
                    ? " Refusing to overwrite a key: move it away or choose another path." : ""), e);
        }
    }
}
