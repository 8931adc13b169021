package bftledger.node.cli;

import bftledger.crypto.KeyPair;
import bftledger.ledger.ChainGenesis;
import bftledger.ledger.proto.ValidatorApproval;
import bftledger.node.config.Keys;
import java.nio.file.Path;
import java.util.Map;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code bftledger validators approve}: one validator of the set a proposal replaces signs it and
 * adds its approval to the file, after checking the file is for this network, unchanged since
 * the approvals in it were made, and (unless {@code --offline}) not stale.
 */
@Command(name = "approve", mixinStandardHelpOptions = true,
        description = "Approve a validator-set proposal with a validator's key: shows the change, signs it and adds the"
                + " approval to the file (in replica order, replacing this validator's earlier one).")
final class ValidatorsApproveCommand extends NetworkCommand {
    @Option(names = "--proposal", required = true, description = "The proposal file (from `validators propose`); rewritten in place.")
    Path proposal;
    @Option(names = "--key", required = true, description = "The approving validator's secret key file (its node.key).")
    Path key;
    @Option(names = "--offline", description = "Do not ask the network whether the proposal is stale (sign on a machine"
            + " without access; `validators submit` checks it).")
    boolean offline;

    @Override
    public Integer call() throws Exception {
        ChainGenesis genesis = net.read();
        ValidatorsProposal p = ValidatorsProposal.read(proposal);
        p.checkGenesis(genesis);
        p.checkApprovals();
        KeyPair validator = Keys.read(key);
        int replica = p.replicaOf(validator.publicKey());
        ValidatorsChain.Proven proven = null;
        if (!offline) {
            try (ValidatorsChain chain = ValidatorsChain.connect(genesis, net.network())) {
                proven = chain.read(net.timeout());
            }
            p.checkCurrent(proven.latest());
        }
        ValidatorsProposal approved = p.approvedBy(validator);
        approved.overwrite(proposal);
        ValidatorsDiff diff = ValidatorsDiff.of(p.replaces().validators(), p.validators());
        int have = approved.approvals().size();
        int needed = p.replaces().quorum();
        Map<String, Object> result = CommandOutput.fields("file", proposal.toString(), "replica", replica,
                "epoch", p.epoch(), "current_set_hash", p.replaces().hash().hex(), "new_set_hash", p.proposed().hash().hex(),
                "approvals", approved.approvals().stream().map(ValidatorApproval::getReplica).toList(),
                "approvals_needed", needed, "checked_against_network", !offline);
        result.putAll(diff.json());
        if (proven != null) {
            result.putAll(proven.provenFields());
        }
        print(result, "approved as replica " + replica + " (" + ValidatorsEdits.describe(p.replaces().validators().get(replica))
                + ") of epoch " + p.replaces().epoch() + ": epoch " + p.replaces().epoch() + " -> " + p.epoch() + "\n"
                + diff.text() + "\n  approvals: " + have + " of the " + needed + " needed, from replicas "
                + approved.approvals().stream().map(ValidatorApproval::getReplica).toList() + "\n"
                + (have >= needed ? "next: `bftledger validators submit --proposal " + proposal + " --key <a key file>`\n"
                        : "next: " + (needed - have) + " more of its validators run `bftledger validators approve --proposal "
                                + proposal + " --key <their node.key>`\n")
                + (proven == null ? "  not checked against the network (--offline): `validators submit` checks it is not stale"
                        : "  the proposal replaces the network's latest set, epoch " + proven.latest().epoch() + "\n"
                                + proven.provenText()));
        return 0;
    }
}
