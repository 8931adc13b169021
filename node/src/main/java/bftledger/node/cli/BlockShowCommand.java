package bftledger.node.cli;

import bftledger.ledger.proto.Block;
import bftledger.ledger.proto.BlockHeader;
import bftledger.ledger.proto.Receipt;
import bftledger.ledger.proto.SignedTransaction;
import bftledger.ledger.proto.TransactionBody;
import bftledger.sdk.LedgerClient;
import bftledger.sdk.Proven;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code bftledger block show}: a block whose header is proven and whose body is checked against it. */
@Command(name = "show", mixinStandardHelpOptions = true,
        description = "Show a block: its header proven against genesis, its transactions and receipts checked against the header.")
final class BlockShowCommand extends NetworkCommand {
    @Option(names = "--height", defaultValue = "0", description = "Block height; 0 = the latest certified (default).")
    long height;
    @Mixin
    ReadOptionsMixin read;

    @Override
    public Integer call() throws Exception {
        try (LedgerClient client = LedgerClient.connect(net.network())) {
            Optional<Proven<Block>> found = client.block(height, read.options(client.network()), net.timeout());
            if (found.isEmpty()) {
                throw new UserError("no block " + (height == 0 ? "(latest)" : height) + " is stored yet.");
            }
            Proven<Block> p = found.get();
            Block block = p.value();
            BlockHeader header = BlockHeader.parseFrom(block.getHeader());
            List<Object> txs = new ArrayList<>();
            for (int t = 0; t < block.getTransactionsCount(); t++) {
                SignedTransaction tx = block.getTransactions(t);
                Receipt receipt = block.getReceipts(t);
                txs.add(CommandOutput.fields("tx_id", Arguments.hex(receipt.getTxId()), "status", receipt.getStatus().name(),
                        "reason", receipt.getReason(), "body", ProtoJson.object(TransactionBody.parseFrom(tx.getBody()))));
            }
            Map<String, Object> m = CommandOutput.fields("height", header.getHeight(), "block_hash", p.blockHash().hex(),
                    "previous_hash", Arguments.hex(header.getPreviousHash()), "timestamp_millis", header.getTimestampMillis(),
                    "tx_count", header.getTxCount(), "state_root", Arguments.hex(header.getStateRoot()),
                    "anchor_height", header.getAnchorHeight(), "certificate_view", block.getCertificate().getView(),
                    "certificate_signers", block.getCertificate().getSignaturesList().stream().map(s -> s.getReplica()).toList(),
                    "transactions", txs);
            m.putAll(ReadOptionsMixin.provenFields(p, client));
            StringBuilder text = new StringBuilder("block " + header.getHeight() + " " + p.blockHash().hex()
                    + "\n  previous " + Arguments.hex(header.getPreviousHash()) + "\n  " + header.getTxCount()
                    + " transactions, timestamp " + header.getTimestampMillis() + "\n"
                    + ReadOptionsMixin.provenText(p, client, "header, transactions and receipts"));
            for (Object tx : txs) {
                text.append("\n  ").append(CommandOutput.toJson(tx));
            }
            print(m, text.toString());
            return 0;
        }
    }
}
