package bftledger.node.cli;

import bftledger.crypto.KeyPair;
import bftledger.crypto.PublicKey;
import bftledger.node.config.Keys;
import java.nio.file.Path;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code bftledger transfer}: sign and submit a transfer, print the proven receipt. */
@Command(name = "transfer", mixinStandardHelpOptions = true, description = "Sign and submit a transfer; wait for the proven receipt.")
final class TransferCommand extends SubmitCommand {
    @Option(names = "--key", required = true, description = "The sender's secret key file.")
    Path key;
    @Option(names = "--to", required = true, description = "Recipient: 64-hex public key or a key file.")
    String to;
    @Option(names = "--amount", required = true, description = "Amount in the smallest unit (> 0).")
    long amount;

    @Override
    Unsigned transaction() throws Exception {
        KeyPair sender = Keys.read(key);
        PublicKey recipient = Arguments.account(to);
        if (amount <= 0) {
            throw new UserError("--amount must be greater than zero.");
        }
        return factory -> factory.transfer(sender, recipient, amount);
    }
}
