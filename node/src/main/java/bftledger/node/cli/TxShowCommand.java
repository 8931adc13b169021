package bftledger.node.cli;

import bftledger.api.proto.GetTransactionResponse;
import bftledger.crypto.Digest;
import bftledger.ledger.proto.BlockHeader;
import bftledger.ledger.proto.TransactionBody;
import bftledger.sdk.LedgerClient;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code bftledger tx show}: a committed transaction with its receipt and proof, verified against genesis. */
@Command(name = "show", mixinStandardHelpOptions = true,
        description = "Show a committed transaction with its receipt, commit certificate and inclusion proof (verified against genesis).")
final class TxShowCommand extends NetworkCommand {
    @Option(names = "--id", required = true, description = "Transaction id (64 hex digits).")
    String id;

    @Override
    public Integer call() throws Exception {
        Digest txId;
        try {
            txId = Digest.fromHex(id);
        } catch (IllegalArgumentException e) {
            throw new UserError("--id must be 64 hex digits (a SHA-256 transaction id).");
        }
        try (LedgerClient client = LedgerClient.connect(net.network())) {
            Optional<GetTransactionResponse> found = client.transaction(txId, net.timeout());
            if (found.isEmpty()) {
                throw new UserError("transaction " + txId.hex() + " is not committed (f+1 replicas do not hold it).");
            }
            var proof = found.get().getProof();
            TransactionBody body = TransactionBody.parseFrom(proof.getTransaction().getBody());
            BlockHeader header = BlockHeader.parseFrom(proof.getBlockHeader());
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("tx_id", txId.hex());
            m.put("body", ProtoJson.object(body));
            m.put("status", proof.getReceipt().getStatus().name());
            m.put("reason", proof.getReceipt().getReason());
            m.put("height", header.getHeight());
            m.put("index", proof.getReceipt().getIndex());
            m.put("block_hash", bftledger.crypto.Sha256.hash(proof.getBlockHeader().toByteArray()).hex());
            m.put("certificate_view", proof.getCertificate().getView());
            List<Integer> signers = proof.getCertificate().getSignaturesList().stream().map(s -> s.getReplica()).toList();
            m.put("certificate_signers", signers);
            m.put("inclusion_path", proof.getTxInclusion().getPathList().stream().map(Arguments::hex).toList());
            m.put("proof_verified", true);
            print(m, "transaction " + txId.hex() + "\n  " + CommandOutput.toIndentedJson(ProtoJson.object(body)).replace("\n", "\n  ")
                    + "\n  receipt: " + proof.getReceipt().getStatus() + (proof.getReceipt().getReason().isEmpty() ? ""
                    : " (" + proof.getReceipt().getReason() + ")") + "\n  block " + header.getHeight() + " index "
                    + proof.getReceipt().getIndex() + "\n  commit certificate: view " + proof.getCertificate().getView()
                    + ", signed by replicas " + signers + "\n  inclusion proof: " + proof.getTxInclusion().getPathCount()
                    + " hashes to tx_root " + Arguments.hex(header.getTxRoot()).substring(0, 16) + "...\n  verified against genesis: yes");
            return 0;
        }
    }
}
