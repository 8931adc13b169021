package bftledger.node.cli;

import bftledger.crypto.KeyPair;
import bftledger.ledger.ChainGenesis;
import bftledger.ledger.ValidatorSets;
import bftledger.ledger.proto.Receipt;
import bftledger.ledger.proto.SignedTransaction;
import bftledger.ledger.proto.TransactionBody;
import bftledger.node.config.Keys;
import bftledger.sdk.Committed;
import bftledger.sdk.LedgerClientException;
import bftledger.sdk.TransactionFactory;
import com.google.protobuf.ByteString;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.util.Map;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code bftledger validators submit}: the approved proposal as one ChangeValidators
 * transaction, checked first as the ledger will check it (approvals, quorum, staleness, no change
 * pending) so that a mistake is refused here with what to do, then submitted and its receipt
 * proven. Exit 0 on SUCCESS, 1 when it committed as FAILED or was refused.
 */
@Command(name = "submit", mixinStandardHelpOptions = true,
        description = "Submit an approved validator-set proposal as a ChangeValidators transaction and wait for the proven"
                + " receipt; prints the height it executed at and the first height the new set signs.")
final class ValidatorsSubmitCommand extends NetworkCommand {
    @Option(names = "--proposal", required = true, description = "The approved proposal file.")
    Path proposal;
    @Option(names = "--key", required = true, description = "The sender's secret key file (any account: the approvals"
            + " authorise the change, not the sender).")
    Path key;

    @Override
    public Integer call() throws Exception {
        ChainGenesis genesis = net.read();
        ValidatorsProposal p = checkedLocally(ValidatorsProposal.read(proposal), genesis);
        KeyPair sender = Keys.read(key);
        try (ValidatorsChain chain = ValidatorsChain.connect(genesis, net.network())) {
            ValidatorsChain.Proven proven = chain.read(net.timeout());
            p.checkCurrent(proven.latest());
            String problem = ValidatorSets.problem(genesis, proven.sets(), proven.height() + 1, p.change());
            if (problem != null) {
                throw new UserError("the ledger would fail this change: " + problem + ".");
            }
            SignedTransaction tx = TransactionFactory.sign(sender, TransactionBody.newBuilder().setChainId(genesis.chainId())
                    .setSender(ByteString.copyFrom(sender.publicKey().bytes()))
                    .setNonce(new SecureRandom().nextLong() & Long.MAX_VALUE).setChangeValidators(p.change()));
            Committed c;
            try {
                c = chain.client().submit(tx, net.timeout());
            } catch (LedgerClientException e) {
                throw new UserError("the network did not take the change (transaction " + TransactionFactory.id(tx).hex() + "): "
                        + e.getMessage() + (e.kind() == LedgerClientException.Kind.REJECTED ? ""
                                : ". It may still commit: look it up with `bftledger tx show --id " + TransactionFactory.id(tx).hex()
                                        + "` before submitting again."));
            }
            boolean success = c.receipt().getStatus() == Receipt.Status.SUCCESS;
            Map<String, Object> result = SubmitCommand.json(c);
            result.put("epoch", p.epoch());
            result.put("new_set_hash", p.proposed().hash().hex());
            result.put("first_height", success ? ValidatorSets.firstHeight(c.height()) : null);
            print(result, SubmitCommand.text(c) + "\n" + (success
                    ? "  epoch " + p.epoch() + " (set " + p.proposed().hash().shortHex() + ") signs from height "
                            + ValidatorSets.firstHeight(c.height()) + "; epoch " + p.replaces().epoch() + " orders up to "
                            + (ValidatorSets.firstHeight(c.height()) - 1)
                    : "  the change did not take effect: " + c.receipt().getReason()));
            return success ? 0 : 1;
        }
    }

    /** The checks that need no network: this genesis, approvals that verify, and enough of them. */
    static ValidatorsProposal checkedLocally(ValidatorsProposal p, ChainGenesis genesis) throws UserError {
        p.checkGenesis(genesis);
        p.checkApprovals();
        p.checkQuorum();
        return p;
    }
}
