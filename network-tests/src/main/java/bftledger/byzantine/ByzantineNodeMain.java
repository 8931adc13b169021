package bftledger.byzantine;

import bftledger.crypto.PublicKey;
import bftledger.ledger.ChainGenesis;
import bftledger.node.config.ConfigException;
import bftledger.node.config.GenesisFile;
import bftledger.node.config.NodeConfig;
import bftledger.node.replica.ReplicaNode;
import bftledger.node.replica.ReplicaProcess;
import bftledger.sim.Strategies;
import com.google.protobuf.ByteString;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * A real replica process that misbehaves: the ordinary {@link ReplicaNode} (same config, key,
 * data directory and ports as the honest node it replaces) with one of the simulator's Byzantine
 * strategies applied to everything it sends, or, as {@value LyingAnswers#STRATEGY}, honest in
 * consensus and lying in every answer to clients ({@link LyingAnswers}).
 *
 * <pre>
 *   java -jar bftledger-byzantine.jar --config nodeI/node.properties --strategy equivocate-primary [--seed N]
 *   java -jar bftledger-byzantine.jar --list
 * </pre>
 *
 * Exit codes: 0 clean stop (SIGTERM), 2 bad usage, 1 bad config, 3 the core failed.
 */
public final class ByzantineNodeMain {
    private ByzantineNodeMain() {}

    public static void main(String[] args) throws Exception {
        System.exit(run(args, System.out, System.err));
    }

    static final String USAGE = "usage: bftledger-byzantine --config NODE.properties --strategy NAME [--seed N]\n"
            + "       bftledger-byzantine --list";

    static int run(String[] args, PrintStream out, PrintStream err) throws InterruptedException {
        Path config = null;
        String strategy = null;
        long seed = System.nanoTime();
        try {
            for (int i = 0; i < args.length; i++) {
                switch (args[i]) {
                    case "--list" -> {
                        list(out);
                        return 0;
                    }
                    case "--config" -> config = Path.of(args[++i]);
                    case "--strategy" -> strategy = args[++i];
                    case "--seed" -> seed = Long.parseLong(args[++i]);
                    case "-h", "--help" -> {
                        out.println(USAGE);
                        list(out);
                        return 0;
                    }
                    default -> throw new IllegalArgumentException("unknown option " + args[i]);
                }
            }
        } catch (ArrayIndexOutOfBoundsException | IllegalArgumentException e) {
            err.println("error: " + (e instanceof ArrayIndexOutOfBoundsException ? "an option is missing its value" : e.getMessage()));
            err.println(USAGE);
            return 2;
        }
        if (config == null || strategy == null) {
            err.println("error: --config and --strategy are required\n" + USAGE);
            return 2;
        }
        boolean lie = strategy.equals(LyingAnswers.STRATEGY);
        if (!lie && !Strategies.exists(strategy)) {
            err.println("error: unknown strategy " + strategy + "; run with --list to see them");
            return 2;
        }
        NodeConfig nodeConfig;
        List<PublicKey> clients;
        try {
            nodeConfig = NodeConfig.read(config);
            clients = clients(GenesisFile.read(nodeConfig.genesisFile()));
        } catch (ConfigException e) {
            err.println("error: " + e.getMessage());
            return 1;
        }
        String chosen = strategy;
        long chosenSeed = seed;
        ReplicaProcess process = new ReplicaProcess();
        Runtime.getRuntime().addShutdownHook(new Thread(process::stop, "shutdown"));
        // As an honest node does: one process across validator-set changes, the same strategy in each set.
        ReplicaProcess.End end;
        try {
            end = process.run(first -> lie
                    ? ReplicaNode.start(nodeConfig, bftledger.node.replica.OutboundInterceptor.HONEST, new LyingAnswers())
                    : ReplicaNode.start(nodeConfig, StrategyInterceptor.factory(chosen, chosenSeed, clients)), (node, handedOverAt) -> {
                        out.println("BYZANTINE node serving on port " + node.port() + " with strategy " + chosen + " (seed " + chosenSeed
                                + ")" + (handedOverAt < 0 ? "" : " after the handover at height " + handedOverAt) + ": "
                                + (lie ? LyingAnswers.DESCRIPTION : Strategies.description(chosen)));
                        out.flush();
                    });
        } catch (ConfigException e) {
            err.println("error: " + e.getMessage());
            return 1;
        }
        if (end instanceof ReplicaProcess.End.Left left) {
            out.println("BYZANTINE node left the validators at height " + left.lastHeight() + " and stops");
        } else if (end instanceof ReplicaProcess.End.Failed failed) {
            err.println("error: the consensus core failed: " + failed.failure());
            return 3;
        }
        return 0;
    }

    static void list(PrintStream out) {
        for (String name : Strategies.names()) {
            out.printf("%-18s %s%n", name, Strategies.description(name));
        }
        out.printf("%-18s %s%n", LyingAnswers.STRATEGY, LyingAnswers.DESCRIPTION);
    }

    /** The funded accounts of genesis: the clients a censoring primary picks its victim among. */
    static List<PublicKey> clients(ChainGenesis genesis) {
        List<PublicKey> out = new ArrayList<>();
        for (ByteString account : genesis.initialBalances().keySet()) {
            out.add(PublicKey.of(account.toByteArray()));
        }
        return out;
    }
}
