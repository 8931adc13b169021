package bftledger.node.cli;

import bftledger.node.config.NodeConfig;
import bftledger.node.replica.ReplicaNode;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
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
        ReplicaNode node = ReplicaNode.start(read);
        if (verifyStore) {
            java.util.List<Long> damaged = node.verifyStoredBlocks();
            spec.commandLine().getErr().println(damaged.isEmpty() ? "store verified: every block intact"
                    : "store verified: damaged blocks at heights " + damaged + ", being repaired from peers");
        }
        CountDownLatch stopped = new CountDownLatch(1);
        Thread hook = new Thread(() -> {
            node.close();
            stopped.countDown();
        }, "shutdown");
        Runtime.getRuntime().addShutdownHook(hook);
        CommandOutput.print(spec, json.json, CommandOutput.fields("port", node.port(), "metrics_port", node.metricsPort()),
                "node serving on port " + node.port() + (node.metricsPort() > 0 ? ", metrics on port " + node.metricsPort() : ""));
        Throwable failure = node.awaitTermination();
        if (failure != null) {
            spec.commandLine().getErr().println("error: the consensus core failed: " + failure
                    + ". The node stopped; its stores are intact. Report this with the log.");
            return 3;
        }
        stopped.await(10, TimeUnit.SECONDS);
        return 0;
    }
}
