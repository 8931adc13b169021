package bftledger.node.cli;

import bftledger.ledger.ChainGenesis;
import bftledger.node.backup.BackupCheck;
import bftledger.node.backup.Restore;
import bftledger.node.config.GenesisFile;
import bftledger.node.config.NodeConfig;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code bftledger restore}: checks a backup (manifest, checksums, network, head) and installs it
 * as a stopped node's data directory ({@link Restore}). The node then starts only with
 * {@code --rejoin-non-voting}: the backup holds no consensus WAL, so the node's signing mark bounds
 * what it may have signed and it votes only past that (docs/operations.md).
 */
@Command(name = "restore", mixinStandardHelpOptions = true,
        description = {"Install a backup as a stopped node's data directory, after checking its manifest, every file's"
                + " SHA-256 and that it is of this node's network.",
                "The node then starts with `node start --rejoin-non-voting`, catches up from its peers and votes again once"
                        + " the network is past anything it may have signed."})
final class RestoreCommand implements Callable<Integer> {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;
    @Mixin
    JsonOption json;
    @Option(names = "--from", required = true, description = "The backup directory (made by `bftledger backup`).")
    Path from;
    @Option(names = "--config", required = true, description = "The config file of the node to restore (node.properties).")
    Path config;
    @Option(names = "--replace", description = "If the node's data directory holds stores, move it aside"
            + " (to <data>.replaced-<time>) and put the backup in its place. Without it such a directory is refused.")
    boolean replace;

    @Override
    public Integer call() throws Exception {
        NodeConfig node = NodeConfig.read(config);
        ChainGenesis genesis = GenesisFile.read(node.genesisFile());
        BackupCheck.Verified backup = BackupCheck.verify(from, genesis);
        Restore.Installed installed = Restore.install(backup, genesis, node.dataDir(), replace, node.tuning().mapSizeBytes());
        boolean marked = Files.exists(node.signingMarkFile());
        String next = marked
                ? "start it with: bftledger node start --config " + config + " --rejoin-non-voting\n  (the backup holds no"
                        + " consensus WAL: the node follows without voting until the network is past what its signing mark "
                        + node.signingMarkFile() + " says it may have signed, then votes again by itself)"
                : "WARNING: there is no signing mark at " + node.signingMarkFile() + ". Nothing then bounds what this"
                        + " node's key signed before, and the node will refuse to start. Put back the mark of this key's"
                        + " last run (it lives outside data/), then start with --rejoin-non-voting.";
        Map<String, Object> m = CommandOutput.fields("data_dir", installed.dataDir().toString(), "height", installed.height(),
                "last_block_hash", backup.manifest().lastBlockHash(), "backup_replica", backup.manifest().replica(),
                "replaced_moved_to", installed.setAside().map(Path::toString).orElse(null), "signing_mark_present", marked,
                "next", next);
        String from = backup.manifest().replica() == node.replica() ? ""
                : " (a backup of node" + backup.manifest().replica() + ": the ledger is the same on every honest node)";
        CommandOutput.print(spec, json.json, m, "restored " + installed.dataDir() + " to height " + installed.height()
                + ", last block " + backup.manifest().lastBlockHash() + from
                + installed.setAside().map(p -> "\n  the former data directory is in " + p).orElse("") + "\n" + next);
        if (!marked && !json.json) {
            spec.commandLine().getErr().println(next);
        }
        return 0;
    }
}
