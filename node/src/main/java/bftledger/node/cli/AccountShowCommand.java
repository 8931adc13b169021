package bftledger.node.cli;

import bftledger.crypto.PublicKey;
import bftledger.sdk.LedgerClient;
import bftledger.sdk.Proven;
import java.util.Map;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code bftledger account show}: an account's balance, proven under a certified header. */
@Command(name = "show", mixinStandardHelpOptions = true,
        description = "Show an account's balance with its state proof, verified against genesis (one replica suffices).")
final class AccountShowCommand extends NetworkCommand {
    @Option(names = "--account", required = true, description = "64-hex public key or a key file.")
    String account;
    @Mixin
    ReadOptionsMixin read;

    @Override
    public Integer call() throws Exception {
        PublicKey key = Arguments.account(account);
        try (LedgerClient client = LedgerClient.connect(net.network())) {
            Proven<Long> p = client.account(key, read.options(client.network()), net.timeout());
            Map<String, Object> m = CommandOutput.fields("account", key.hex(), "balance", p.value(), "height", p.height());
            m.putAll(ReadOptionsMixin.provenFields(p, client));
            print(m, "account " + key.hex() + "\n  balance " + p.value() + " at height " + p.height() + "\n"
                    + ReadOptionsMixin.provenText(p, client, "state proof"));
            return 0;
        }
    }
}
