package bftledger.node.cli;

import bftledger.api.proto.GetTransactionResponse;
import bftledger.api.proto.TransactionProof;
import bftledger.crypto.Digest;
import bftledger.ledger.proto.BlockHeader;
import bftledger.ledger.proto.TransactionBody;
import bftledger.sdk.LedgerClient;
import bftledger.sdk.Proven;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code bftledger tx show}: a committed transaction with its receipt, proven against genesis. */
@Command(name = "show", mixinStandardHelpOptions = true,
        description = "Show a committed transaction and its receipt, both proven against genesis (one replica suffices).")
final class TxShowCommand extends NetworkCommand {
    @Option(names = "--id", required = true, description = "Transaction id (64 hex digits).")
    String id;
    @Mixin
    ReadOptionsMixin read;

    @Override
    public Integer call() throws Exception {
        Digest txId;
        try {
            txId = Digest.fromHex(id);
        } catch (IllegalArgumentException e) {
            throw new UserError("--id must be 64 hex digits (a SHA-256 transaction id).");
        }
        try (LedgerClient client = LedgerClient.connect(net.network())) {
            Optional<Proven<GetTransactionResponse>> found = client.transaction(txId, read.options(client.network()), net.timeout());
            if (found.isEmpty()) {
                throw new UserError("transaction " + txId.hex() + " is not committed ("
                        + (read.replica >= 0 ? "replica " + read.replica + " says it does not hold it" : "f+1 replicas do not hold it")
                        + "; absence is agreed, not proven).");
            }
            Proven<GetTransactionResponse> p = found.get();
            TransactionProof proof = p.value().getProof();
            TransactionBody body = TransactionBody.parseFrom(proof.getTransaction().getBody());
            BlockHeader header = BlockHeader.parseFrom(proof.getBlockHeader());
            List<Integer> signers = proof.getCertificate().getSignaturesList().stream().map(s -> s.getReplica()).toList();
            Map<String, Object> m = CommandOutput.fields("tx_id", txId.hex(), "body", ProtoJson.object(body),
                    "status", proof.getReceipt().getStatus().name(), "reason", proof.getReceipt().getReason(),
                    "height", header.getHeight(), "index", proof.getReceipt().getIndex(),
                    "block_hash", bftledger.crypto.Sha256.hash(proof.getBlockHeader().toByteArray()).hex(),
                    "certificate_view", proof.getCertificate().getView(), "certificate_signers", signers);
            m.putAll(ReadOptionsMixin.provenFields(p, client));
            print(m, "transaction " + txId.hex() + "\n  " + CommandOutput.toIndentedJson(ProtoJson.object(body)).replace("\n", "\n  ")
                    + "\n  receipt: " + proof.getReceipt().getStatus() + (proof.getReceipt().getReason().isEmpty() ? ""
                    : " (" + proof.getReceipt().getReason() + ")") + "\n  block " + header.getHeight() + " index "
                    + proof.getReceipt().getIndex() + ", ordered by the commit certificate of view "
                    + proof.getCertificate().getView() + " (replicas " + signers + ")\n"
                    + ReadOptionsMixin.provenText(p, client, "transaction and receipt"));
            return 0;
        }
    }
}
