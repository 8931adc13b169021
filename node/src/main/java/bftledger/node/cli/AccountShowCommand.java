package bftledger.node.cli;

import bftledger.api.proto.GetAccountResponse;
import bftledger.crypto.PublicKey;
import bftledger.sdk.LedgerClient;
import java.util.Map;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code bftledger account show}: an account's balance as f+1 replicas state it at one height. */
@Command(name = "show", mixinStandardHelpOptions = true, description = "Show an account's balance, as f+1 replicas state it at one height.")
final class AccountShowCommand extends NetworkCommand {
    @Option(names = "--account", required = true, description = "64-hex public key or a key file.")
    String account;

    @Override
    public Integer call() throws Exception {
        PublicKey key = Arguments.account(account);
        try (LedgerClient client = LedgerClient.connect(net.network())) {
            GetAccountResponse r = client.account(key, net.timeout());
            print(CommandOutput.fields("account", key.hex(), "balance", r.getBalance(), "height", r.getHeight(),
                    "block_hash", Arguments.hex(r.getBlockHash())), "account " + key.hex() + "\n  balance " + r.getBalance()
                    + " at height " + r.getHeight() + " (block " + Arguments.hex(r.getBlockHash()).substring(0, 8) + ", agreed by f+1 replicas)");
            return 0;
        }
    }
}
