package bftledger.node.cli;

import bftledger.api.proto.TransactionProof;
import bftledger.crypto.PublicKey;
import bftledger.ledger.proto.TransactionBody;
import bftledger.sdk.LedgerClient;
import bftledger.sdk.Proven;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code bftledger record history}: a record's values, newest first, each proven by the transaction that wrote it. */
@Command(name = "history", mixinStandardHelpOptions = true,
        description = "List a record's values, newest first, each with the block that wrote it, all proven against genesis.")
final class RecordHistoryCommand extends NetworkCommand {
    @Mixin
    RecordAddress record;
    @Option(names = "--limit", defaultValue = "20", description = "Most values to list (default: ${DEFAULT-VALUE}).")
    int limit;
    @Mixin
    ReadOptionsMixin read;

    @Override
    public Integer call() throws Exception {
        PublicKey ownerKey = record.owner();
        String key = record.key;
        try (LedgerClient client = LedgerClient.connect(net.network())) {
            Proven<List<TransactionProof>> p = client.recordHistory(ownerKey, key, limit, read.options(client.network()),
                    net.timeout());
            List<Object> values = new ArrayList<>();
            StringBuilder text = new StringBuilder("record " + record.describe(ownerKey) + ": " + p.value().size()
                    + " value(s), newest first");
            for (TransactionProof write : p.value()) {
                TransactionBody body = TransactionBody.parseFrom(write.getTransaction().getBody());
                String value = body.getPutRecord().getValue().toString(StandardCharsets.UTF_8);
                values.add(CommandOutput.fields("value", value, "height", write.getReceipt().getHeight(), "tx_id",
                        Arguments.hex(write.getReceipt().getTxId())));
                text.append("\n  height ").append(write.getReceipt().getHeight()).append(": \"").append(value).append("\" (tx ")
                        .append(Arguments.hex(write.getReceipt().getTxId()), 0, 16).append("...)");
            }
            Map<String, Object> m = CommandOutput.fields("owner", ownerKey.hex(), "key", key, "values", values);
            m.putAll(ReadOptionsMixin.provenFields(p, client));
            print(m, text + "\n" + ReadOptionsMixin.provenText(p, client, "each value and the links between them"));
            return 0;
        }
    }
}
