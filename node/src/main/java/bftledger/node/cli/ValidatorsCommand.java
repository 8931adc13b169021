package bftledger.node.cli;

import picocli.CommandLine.Command;

/**
 * {@code bftledger validators}: the validator set and its changes. A change goes proposal file
 * -> approvals by a quorum of the set in force -> one ChangeValidators transaction (ledger.proto).
 */
@Command(name = "validators", mixinStandardHelpOptions = true,
        description = "Show the validator sets; propose, approve and submit a change of the set.",
        subcommands = {ValidatorsStatusCommand.class, ValidatorsProposeCommand.class, ValidatorsApproveCommand.class,
                ValidatorsSubmitCommand.class})
final class ValidatorsCommand extends GroupCommand {
}
