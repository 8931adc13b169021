package bftledger.node.cli;

import bftledger.ledger.ChainGenesis;
import bftledger.ledger.LedgerProblem;
import bftledger.ledger.LedgerVerifier;
import bftledger.ledger.StoreInUseException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code bftledger audit}: offline over one stopped node's data directory, or online across the running network ({@link OnlineAudit}). */
@Command(name = "audit", mixinStandardHelpOptions = true,
        description = {"Verify a ledger.",
                "Backup (--backup): a directory made by `bftledger backup`: its manifest and checksums, then the offline"
                        + " audit of its block store; with --online also that every running node certifies the backup's"
                        + " last block at its height.",
                "Offline (--data): one node's data directory: hash chain, commit certificates, transaction signatures,"
                        + " re-execution of state, indexes.",
                "Online (--online): every node of the network: each block's certificate and chain link, cross-node"
                        + " agreement (which nodes diverge and from which height) and the evidence each node holds."})
final class AuditCommand implements Callable<Integer> {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;
    @Mixin
    JsonOption json;
    @Option(names = "--data", description = "Offline: the node's data directory (holds ledger/ and wal/). Stop the node first or audit a copy.")
    Path data;
    @Option(names = "--online", description = "Online: audit all running nodes listed in genesis (with --backup: check the"
            + " backup against them instead).")
    boolean online;
    @Option(names = "--backup", description = "A backup directory (from `bftledger backup`): verify it from genesis.")
    Path backup;
    @Mixin
    GenesisOption genesis;
    @Option(names = "--timeout", defaultValue = "10s", description = "Per-call timeout for --online (default: ${DEFAULT-VALUE}).")
    String timeout;
    @Mixin
    ClientTransportOptions transport;

    @Override
    public Integer call() throws Exception {
        if (backup != null) {
            if (data != null) {
                throw new UserError("give --backup <dir> or --data <dir>, not both.");
            }
            return BackupAudit.run(this, backup);
        }
        if (online == (data != null)) {
            throw new UserError("give exactly one of --data <dir> (offline audit of one node), --online (all running nodes)"
                    + " or --backup <dir> (a backup).");
        }
        if (online) {
            return OnlineAudit.run(spec, json.json, genesis.read(), transport, Arguments.duration(timeout));
        }
        return offline();
    }

    private int offline() throws Exception {
        ChainGenesis chainGenesis = genesis.read();
        Path ledger = data.resolve("ledger");
        if (!Files.isDirectory(ledger)) {
            throw new UserError(ledger + " does not exist; --data must be a node's data directory (data.dir in its config).");
        }
        LedgerVerifier.Report report;
        try {
            report = verify(ledger, chainGenesis);
        } catch (StoreInUseException e) {
            throw new UserError(e.getMessage() + " (the offline audit reads a stopped node; for running nodes use --online)");
        }
        Map<String, Object> m = new LinkedHashMap<>();
        String text = describe(report, m);
        CommandOutput.print(spec, json.json, m, text);
        return report.ok() ? 0 : 1;
    }

    /** The offline audit of the block store in {@code ledger}, with a progress line unless --json. */
    LedgerVerifier.Report verify(Path ledger, ChainGenesis chainGenesis) {
        PrintWriter err = spec.commandLine().getErr();
        long[] last = {0};
        LedgerVerifier.Report report = LedgerVerifier.verify(ledger, chainGenesis, (h, tip) -> {
            if (!json.json && (h == tip || h - last[0] >= Math.max(1, tip / 20))) {
                last[0] = h;
                err.printf("\rverified %d/%d blocks", h, tip);
                err.flush();
            }
        });
        if (!json.json) {
            err.println();
        }
        return report;
    }

    /** Puts the report's fields into {@code m} and returns its text. */
    static String describe(LedgerVerifier.Report report, Map<String, Object> m) {
        List<Object> problems = new ArrayList<>();
        boolean pruned = report.prunedBelow() > 1;
        StringBuilder text = new StringBuilder((report.ok() ? "audit passed: " : "audit FAILED: ") + report.blocksChecked()
                + " blocks, " + report.transactionsChecked() + " transactions checked, " + report.problemCount() + " problems"
                + "\n  headers certified (commit certificates over anchoring batches"
                + (pruned ? ")" : ", state roots re-executed)") + " up to height "
                + report.certifiedHeight() + (report.blocksChecked() > report.certifiedHeight() ? "; the "
                + (report.blocksChecked() - report.certifiedHeight()) + " block(s) above wait for a later block to certify them" : ""));
        if (pruned) {
            text.append("\n  pruned: blocks 1-").append(report.prunedBelow() - 1).append(" hold their headers, certificates and"
                    + " receipts only, checked from genesis (links, certificates, blocks_root, anchors, receipts); blocks from ")
                    .append(report.prunedBelow()).append(" checked whole without re-execution; ")
                    .append(report.stateProven() ? "the stored state is the one the certified header at height "
                            + report.certifiedHeight() + " names"
                            : "the stored state matches the tip's state root, which no certified header in this store names"
                            + " (a block above " + report.certifiedHeight() + " changed it): not proven by this store alone");
        }
        for (LedgerProblem p : report.problems()) {
            problems.add(CommandOutput.fields("height", p.height(), "kind", p.kind().name(), "message", p.message()));
            if (problems.size() <= 50) {
                text.append("\n  height ").append(p.height()).append(" ").append(p.kind()).append(": ").append(p.message());
            }
        }
        m.put("passed", report.ok());
        m.put("blocks_checked", report.blocksChecked());
        m.put("transactions_checked", report.transactionsChecked());
        m.put("problem_count", report.problemCount());
        m.put("certified_height", report.certifiedHeight());
        m.put("pruned_below", report.prunedBelow());
        m.put("state_proven", report.stateProven());
        m.put("problems", problems);
        return text.toString();
    }
}
