package bftledger.node.cli;

import bftledger.api.proto.GetBlockRequest;
import bftledger.api.proto.GetBlockResponse;
import bftledger.api.proto.LedgerApiGrpc;
import bftledger.ledger.proto.Block;
import bftledger.ledger.proto.BlockHeader;
import bftledger.ledger.proto.Receipt;
import bftledger.ledger.proto.SignedTransaction;
import bftledger.ledger.proto.TransactionBody;
import bftledger.sdk.Network;
import bftledger.sdk.ProofVerifier;
import bftledger.sdk.Verdict;
import com.google.protobuf.InvalidProtocolBufferException;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code bftledger block show}: a block from the first replica that serves it with a certificate valid under genesis. */
@Command(name = "show", mixinStandardHelpOptions = true,
        description = "Show a block; its commit certificate is verified against genesis, so one replica's copy suffices.")
final class BlockShowCommand extends NetworkCommand {
    @Option(names = "--height", defaultValue = "0", description = "Block height; 0 = the latest (default).")
    long height;

    @Override
    public Integer call() throws Exception {
        Network network = net.network();
        ProofVerifier verifier = new ProofVerifier(network);
        List<String> seen = new ArrayList<>();
        for (int i = 0; i < network.n(); i++) {
            ManagedChannel channel = ManagedChannelBuilder.forTarget(network.addresses().get(i)).usePlaintext()
                    .maxInboundMessageSize(64 << 20).build();
            try {
                GetBlockResponse r = LedgerApiGrpc.newBlockingStub(channel).withDeadlineAfter(net.timeout().toMillis(),
                        TimeUnit.MILLISECONDS).getBlock(GetBlockRequest.newBuilder().setHeight(height).build());
                if (!r.getFound()) {
                    seen.add("node" + i + ": no such block");
                    continue;
                }
                Block block = r.getBlock();
                BlockHeader header = BlockHeader.parseFrom(block.getHeader());
                Verdict v = verifier.verifyCertificate(header, block.getCertificate());
                if (!v.ok()) {
                    seen.add("node" + i + ": invalid certificate (" + v.reason() + ")");
                    continue;
                }
                List<Object> txs = new ArrayList<>();
                for (int t = 0; t < block.getTransactionsCount(); t++) {
                    SignedTransaction tx = block.getTransactions(t);
                    Receipt receipt = block.getReceipts(t);
                    txs.add(CommandOutput.fields("tx_id", Arguments.hex(receipt.getTxId()), "status", receipt.getStatus().name(),
                            "body", ProtoJson.object(TransactionBody.parseFrom(tx.getBody()))));
                }
                Map<String, Object> m = new LinkedHashMap<>();
                m.put("height", header.getHeight());
                m.put("block_hash", Arguments.hex(r.getBlockHash()));
                m.put("previous_hash", Arguments.hex(header.getPreviousHash()));
                m.put("timestamp_millis", header.getTimestampMillis());
                m.put("tx_count", header.getTxCount());
                m.put("state_root", Arguments.hex(header.getStateRoot()));
                m.put("certificate_view", block.getCertificate().getView());
                m.put("certificate_signers", block.getCertificate().getSignaturesList().stream().map(s -> s.getReplica()).toList());
                m.put("served_by", i);
                m.put("transactions", txs);
                StringBuilder text = new StringBuilder("block " + header.getHeight() + " " + Arguments.hex(r.getBlockHash())
                        + "\n  previous " + Arguments.hex(header.getPreviousHash()) + "\n  " + header.getTxCount() + " transactions, timestamp "
                        + header.getTimestampMillis() + "\n  certificate: view " + block.getCertificate().getView()
                        + ", signers " + m.get("certificate_signers") + " (verified against genesis; served by node" + i + ")");
                for (Object tx : txs) {
                    text.append("\n  ").append(CommandOutput.toJson(tx));
                }
                print(m, text.toString());
                return 0;
            } catch (InvalidProtocolBufferException e) {
                seen.add("node" + i + ": malformed block");
            } catch (RuntimeException e) {
                seen.add("node" + i + ": unreachable (" + e.getMessage() + ")");
            } finally {
                channel.shutdownNow();
            }
        }
        throw new UserError("no replica served block " + (height == 0 ? "(latest)" : height) + " with a valid certificate: " + seen);
    }
}
