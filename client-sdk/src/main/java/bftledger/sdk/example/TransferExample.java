package bftledger.sdk.example;

import bftledger.crypto.KeyFiles;
import bftledger.crypto.KeyPair;
import bftledger.sdk.Committed;
import bftledger.sdk.LedgerClient;
import bftledger.sdk.Network;
import bftledger.sdk.Proven;
import bftledger.sdk.ReadOptions;
import java.nio.file.Path;
import java.time.Duration;

/**
 * The SDK in a dozen lines, against a network from {@code scripts/localnet.sh up}:
 * <pre>
 * java -cp node/target/bftledger.jar bftledger.sdk.example.TransferExample \
 *     localnet/genesis.bin localnet/accounts/account0.key localnet/accounts/account1.key 25
 * </pre>
 * It signs a transfer, sends it to every replica, and prints the receipt once f+1 replicas
 * have signed the same outcome (or one has proven it with a commit certificate).
 */
public final class TransferExample {
    private TransferExample() {}

    public static void main(String[] args) throws Exception {
        if (args.length != 4) {
            System.err.println("usage: TransferExample <genesis.bin> <sender.key> <recipient.key> <amount>");
            System.exit(2);
        }
        Network network = Network.fromGenesisFile(Path.of(args[0]));
        KeyPair sender = KeyFiles.readKeyPair(Path.of(args[1]));
        KeyPair recipient = KeyFiles.readKeyPair(Path.of(args[2]));
        try (LedgerClient client = LedgerClient.connect(network)) {
            Committed c = client.submit(client.transactions().transfer(sender, recipient.publicKey(), Long.parseLong(args[3])),
                    Duration.ofSeconds(30));
            System.out.println("tx " + c.txId().hex() + " at height " + c.height() + ": " + c.receipt().getStatus()
                    + " (" + c.evidence() + ")");
            Proven<Long> balance = client.account(recipient.publicKey(), ReadOptions.defaults().atLeast(c.height()),
                    Duration.ofSeconds(10));
            System.out.println("recipient balance: " + balance.value() + " (proven at height " + balance.height()
                    + ", answered by replica " + balance.replica() + ")");
        }
    }
}
