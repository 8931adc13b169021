package bftledger.node.cli;

import bftledger.crypto.KeyPair;
import bftledger.node.config.Keys;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code bftledger put}: sign and submit a record put under the sender's namespace, print the proven receipt. */
@Command(name = "put", mixinStandardHelpOptions = true, description = "Sign and submit a record put under the sender's namespace.")
final class PutCommand extends SubmitCommand {
    @Option(names = "--key", required = true, description = "The sender's secret key file.")
    Path key;
    @Option(names = "--record-key", required = true, description = "Record key (1-256 bytes UTF-8).")
    String recordKey;
    @Option(names = "--value", required = true, description = "Record value (UTF-8 text, at most 4096 bytes).")
    String value;

    @Override
    Unsigned transaction() throws Exception {
        KeyPair sender = Keys.read(key);
        byte[] bytes = value.getBytes(StandardCharsets.UTF_8);
        return factory -> factory.put(sender, recordKey, bytes);
    }
}
