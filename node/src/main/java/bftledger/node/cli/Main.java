package bftledger.node.cli;

import bftledger.node.config.ConfigException;
import bftledger.sdk.LedgerClientException;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * The {@code bftledger} command line: the command tree and the error policy. Each leaf command
 * lives in its own file. Exit codes: 0 ok, 1 failure, 2 usage error (3 from {@code node start}
 * when the consensus core failed).
 */
@Command(name = "bftledger", mixinStandardHelpOptions = true, version = "bftledger 0.1.0",
        description = "A Byzantine fault-tolerant replicated ledger: run nodes, submit and inspect transactions, audit.",
        subcommands = {KeygenCommand.class, InitCommand.class, Main.Node.class, StatusCommand.class, TransferCommand.class,
                PutCommand.class, Main.Tx.class, Main.Account.class, Main.Record.class, Main.Block.class, AuditCommand.class, BackupCommand.class,
                RestoreCommand.class, DemoLoad.class,
                Bench.class, TlsCommand.class, ValidatorsCommand.class})
public final class Main extends GroupCommand {
    @Command(name = "node", mixinStandardHelpOptions = true, description = "Run a replica.", subcommands = NodeStartCommand.class)
    static final class Node extends GroupCommand {
    }

    @Command(name = "tx", mixinStandardHelpOptions = true, description = "Transactions.", subcommands = TxShowCommand.class)
    static final class Tx extends GroupCommand {
    }

    @Command(name = "account", mixinStandardHelpOptions = true, description = "Accounts.", subcommands = AccountShowCommand.class)
    static final class Account extends GroupCommand {
    }

    @Command(name = "record", mixinStandardHelpOptions = true, description = "Records.",
            subcommands = {RecordGetCommand.class, RecordHistoryCommand.class})
    static final class Record extends GroupCommand {
    }

    @Command(name = "block", mixinStandardHelpOptions = true, description = "Blocks.", subcommands = BlockShowCommand.class)
    static final class Block extends GroupCommand {
    }

    public static void main(String[] args) {
        System.exit(run(args));
    }

    /**
     * Runs one command line and returns its exit code. A failure the user can act on (bad config,
     * the network's answer, a {@link UserError}) prints one line; anything else also prints its
     * stack trace. With {@code --json} a failure is also one JSON object on stdout.
     */
    public static int run(String... args) {
        CommandLine cli = new CommandLine(new Main());
        cli.setExecutionExceptionHandler((e, commandLine, parseResult) -> {
            boolean expected = e instanceof ConfigException || e instanceof LedgerClientException || e instanceof UserError;
            String message = expected ? e.getMessage() : e.toString();
            if (parseResult.subcommand() != null && hasJson(parseResult)) {
                CommandOutput.printFailure(commandLine.getOut(), message);
            }
            commandLine.getErr().println("error: " + message);
            if (!expected) {
                e.printStackTrace(commandLine.getErr());
            }
            return 1;
        });
        return cli.execute(args);
    }

    private static boolean hasJson(CommandLine.ParseResult result) {
        for (CommandLine.ParseResult r = result; r != null; r = r.subcommand()) {
            if (r.hasMatchedOption("--json")) {
                return true;
            }
        }
        return false;
    }
}
