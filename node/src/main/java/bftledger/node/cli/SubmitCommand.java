package bftledger.node.cli;

import bftledger.ledger.proto.Receipt;
import bftledger.ledger.proto.SignedTransaction;
import bftledger.sdk.Committed;
import bftledger.sdk.LedgerClient;
import bftledger.sdk.TransactionFactory;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The path every submitting command shares: check the arguments, sign one transaction, submit it
 * through the SDK, wait for the proven receipt and print it. Exit 0 when the receipt says
 * SUCCESS, 1 when the transaction committed as failed (an overdraft, say) or was not proven.
 */
abstract class SubmitCommand extends NetworkCommand {

    /** A transaction to sign with the connected client's factory. */
    interface Unsigned {
        SignedTransaction sign(TransactionFactory factory);
    }

    /** Reads and checks this command's arguments, before anything is sent. */
    abstract Unsigned transaction() throws Exception;

    @Override
    public final Integer call() throws Exception {
        Unsigned unsigned = transaction();
        try (LedgerClient client = LedgerClient.connect(net.network())) {
            Committed c = client.submit(unsigned.sign(client.transactions()), net.timeout());
            print(json(c), text(c));
            return c.receipt().getStatus() == Receipt.Status.SUCCESS ? 0 : 1;
        }
    }

    /** A proven receipt as the JSON fields every submitting command prints. */
    static Map<String, Object> json(Committed c) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("tx_id", c.txId().hex());
        m.put("height", c.height());
        m.put("block_hash", c.blockHash().hex());
        m.put("status", c.receipt().getStatus().name());
        m.put("reason", c.receipt().getReason());
        m.put("proof", c.evidence());
        return m;
    }

    static String text(Committed c) {
        return "committed " + c.txId().hex() + "\n  height " + c.height() + ", block " + c.blockHash().shortHex()
                + ", status " + c.receipt().getStatus() + (c.receipt().getReason().isEmpty() ? "" : " (" + c.receipt().getReason() + ")")
                + "\n  proven by " + c.evidence();
    }
}
