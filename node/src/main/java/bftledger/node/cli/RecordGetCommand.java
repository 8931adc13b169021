package bftledger.node.cli;

import bftledger.crypto.PublicKey;
import bftledger.sdk.LedgerClient;
import bftledger.sdk.Proven;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.Optional;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;

/** {@code bftledger record get}: a record's value and writer, proven under a certified header. */
@Command(name = "get", mixinStandardHelpOptions = true,
        description = "Show a record's value and the transaction that wrote it, with its state proof verified against genesis.")
final class RecordGetCommand extends NetworkCommand {
    @Mixin
    RecordAddress record;
    @Mixin
    ReadOptionsMixin read;

    @Override
    public Integer call() throws Exception {
        PublicKey ownerKey = record.owner();
        String key = record.key;
        try (LedgerClient client = LedgerClient.connect(net.network())) {
            Proven<Optional<LedgerClient.RecordEntry>> p = client.record(ownerKey, key, read.options(client.network()),
                    net.timeout());
            Map<String, Object> m = CommandOutput.fields("owner", ownerKey.hex(), "key", key, "found", p.value().isPresent());
            p.value().ifPresent(e -> {
                m.put("value", e.value().toString(StandardCharsets.UTF_8));
                m.put("value_hex", Arguments.hex(e.value()));
                m.put("writer_tx_id", e.writer().hex());
            });
            m.putAll(ReadOptionsMixin.provenFields(p, client));
            print(m, "record " + record.describe(ownerKey) + "\n  " + p.value().map(e -> "value \""
                    + e.value().toString(StandardCharsets.UTF_8) + "\" written by " + e.writer().hex())
                    .orElse("never written (absence proven)") + "\n" + ReadOptionsMixin.provenText(p, client, "state proof"));
            return 0;
        }
    }
}
