package bftledger.node.cli;

import bftledger.node.config.NodeConfig;
import bftledger.node.replica.ReplicaNode;
import bftledger.node.replica.ReplicaProcess;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code bftledger node start}: one replica in the foreground until SIGTERM. */
@Command(name = "start", mixinStandardHelpOptions = true,
        description = "Start a replica in the foreground; SIGTERM (or Ctrl-C) shuts it down cleanly.")
final class NodeStartCommand implements Callable<Integer> {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;
    @Mixin
    JsonOption json;
    @Option(names = "--config", required = true, description = "The node's config file (node.properties).")
    Path config;
    @Option(names = "--verify-store", description = "Read every stored block through its integrity check at start"
            + " (the default checks the tip and the state tree); damaged blocks are repaired from peers.")
    boolean verifyStore;
    @Option(names = "--rejoin-non-voting", description = "If the consensus WAL is lost, damaged or older than the signing"
            + " mark says, set it aside and rejoin without voting instead of refusing to start (the node config's"
            + " rejoin.non.voting=true; see docs/storage-faults.md).")
    boolean rejoinNonVoting;
    @Option(names = "--state-sync", description = "If this node has no block store yet, build it from its peers' state"
            + " snapshots, each part checked against genesis, instead of replaying every block (the node config's"
            + " state.sync=true; see docs/operations.md, State sync).")
    boolean stateSync;
    @Option(names = "--join", description = "This node's key was added to the validator set by a change: if the set in"
            + " force does not name it yet, follow the chain from the validators (every block checked) until it does,"
            + " then take part. Only for a key that has never signed: the node starts with no record of earlier votes"
            + " (see docs/operations.md, Changing the validators).")
    boolean join;

    @Override
    public Integer call() throws Exception {
        NodeConfig read = NodeConfig.read(config);
        if (rejoinNonVoting) {
            read = read.withRejoinNonVoting(true);
        }
        if (stateSync) {
            NodeConfig.StateSync s = read.stateSync();
            read = read.withStateSync(new NodeConfig.StateSync(true, s.snapshotIntervalBlocks(), s.snapshotsKept()));
        }
        ReplicaProcess process = new ReplicaProcess();
        Runtime.getRuntime().addShutdownHook(new Thread(process::stop, "shutdown"));
        NodeConfig nodeConfig = read;
        // Joining is for the first start: a node its set dropped at a handover stops.
        ReplicaProcess.End end = process.run(first -> ReplicaNode.start(nodeConfig,
                bftledger.node.replica.OutboundInterceptor.HONEST, null, join && first), (node, handedOverAt) -> {
                    if (handedOverAt >= 0) {
                        return;
                    }
                    if (verifyStore) {
                        java.util.List<Long> damaged = node.verifyStoredBlocks();
                        spec.commandLine().getErr().println(damaged.isEmpty() ? "store verified: every block intact"
                                : "store verified: damaged blocks at heights " + damaged + ", being repaired from peers");
                    }
                    CommandOutput.print(spec, json.json, CommandOutput.fields("port", node.port(), "metrics_port", node.metricsPort()),
                            "node serving on port " + node.port() + (node.metricsPort() > 0 ? ", metrics on port " + node.metricsPort() : ""));
                });
        if (end instanceof ReplicaProcess.End.Left left) {
            CommandOutput.print(spec, json.json, CommandOutput.fields("left_at_height", left.lastHeight()),
                    "this node's key is not in the validator set that signs from height " + (left.lastHeight() + 1)
                            + ": it was removed or rotated out, and stops here");
        } else if (end instanceof ReplicaProcess.End.Failed failed) {
            spec.commandLine().getErr().println("error: the consensus core failed: " + failed.failure()
                    + ". The node stopped; its stores are intact. Report this with the log.");
            return 3;
        }
        return 0;
    }
}
