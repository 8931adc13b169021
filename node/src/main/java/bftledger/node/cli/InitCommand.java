package bftledger.node.cli;

import bftledger.crypto.KeyPair;
import bftledger.crypto.PublicKey;
import bftledger.ledger.ChainGenesis;
import bftledger.ledger.proto.Validator;
import bftledger.node.config.GenesisFile;
import bftledger.node.config.Keys;
import bftledger.node.config.NodeConfig;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code bftledger init}: a local network's node keys, genesis, demo accounts and node configs in one directory. */
@Command(name = "init", mixinStandardHelpOptions = true,
        description = "Create a local network: node keys, genesis with funded demo accounts, one config per node.")
final class InitCommand implements Callable<Integer> {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;
    @Mixin
    JsonOption json;
    @Option(names = "--nodes", defaultValue = "4", description = "Number of validators, at least 4; f is the largest with n >= 3f+1 (default: ${DEFAULT-VALUE}).")
    int nodes;
    @Option(names = "--dir", defaultValue = "localnet", description = "Directory to create (default: ${DEFAULT-VALUE}).")
    Path dir;
    @Option(names = "--base-port", defaultValue = "7100", description = "gRPC port of node0; node i uses base+i (default: ${DEFAULT-VALUE}).")
    int basePort;
    @Option(names = "--metrics-base-port", defaultValue = "9100", description = "Metrics port of node0; 0 disables (default: ${DEFAULT-VALUE}).")
    int metricsBasePort;
    @Option(names = "--accounts", defaultValue = "4", description = "Funded demo accounts (default: ${DEFAULT-VALUE}).")
    int accounts;
    @Option(names = "--balance", defaultValue = "1000000000", description = "Initial balance of each demo account (default: ${DEFAULT-VALUE}).")
    long balance;
    @Option(names = "--chain-id", defaultValue = "bftledger-localnet", description = "Chain id (default: ${DEFAULT-VALUE}).")
    String chainId;
    @Mixin
    DeploymentOptions deploy;

    @Override
    public Integer call() throws Exception {
        if (nodes < 4 || nodes > bftledger.ledger.ChainGenesis.MAX_VALIDATORS) {
            throw new UserError("--nodes must be 4 to " + bftledger.ledger.ChainGenesis.MAX_VALIDATORS + " (f >= 1); got " + nodes + ".");
        }
        if (accounts < 0 || balance <= 0) {
            throw new UserError("--accounts must be >= 0 and --balance > 0.");
        }
        deploy.validate(nodes);
        Path genesisPath = dir.resolve("genesis.bin");
        if (Files.exists(genesisPath)) {
            throw new UserError(genesisPath + " already exists: " + dir + " holds a network. Remove the directory"
                    + " (after `scripts/localnet.sh down`) or choose another --dir.");
        }
        Files.createDirectories(dir);
        List<Validator> validators = new ArrayList<>();
        for (int i = 0; i < nodes; i++) {
            KeyPair key = KeyPair.generate();
            Keys.write(dir.resolve("node" + i).resolve("node.key"), key);
            validators.add(ChainGenesis.validator(key.publicKey(), deploy.address(i, basePort), "node" + i));
        }
        TreeMap<PublicKey, Long> balances = new TreeMap<>();
        List<Object> accountList = new ArrayList<>();
        Files.createDirectories(dir.resolve("accounts"));
        for (int j = 0; j < accounts; j++) {
            KeyPair key = KeyPair.generate();
            Path file = dir.resolve("accounts").resolve("account" + j + ".key");
            Keys.write(file, key);
            balances.put(key.publicKey(), balance);
            accountList.add(CommandOutput.fields("file", file.toString(), "public_key", key.publicKey().hex(), "balance", balance));
        }
        ChainGenesis genesis = deploy.withTls(ChainGenesis.build(chainId, validators, balances, System.currentTimeMillis()), dir);
        GenesisFile.write(genesisPath, genesis);
        Files.writeString(dir.resolve("genesis.json"), CommandOutput.toIndentedJson(ProtoJson.object(genesis.genesis())) + "\n");
        List<Object> nodeList = new ArrayList<>();
        for (int i = 0; i < nodes; i++) {
            Path nodeDir = dir.resolve("node" + i);
            NodeConfig config = new NodeConfig(i, deploy.listenHost, deploy.listenPort(i, basePort),
                    metricsBasePort == 0 ? 0 : metricsBasePort + i, Path.of("data"), Path.of("node.key"),
                    Path.of("../genesis.bin"), NodeConfig.Tuning.defaults(), deploy.nodeTls(dir, genesis, i), deploy.healthPort(i));
            Path configFile = nodeDir.resolve("node.properties");
            Files.writeString(configFile, config.toProperties());
            nodeList.add(CommandOutput.fields("name", "node" + i, "config", configFile.toString(), "address", deploy.address(i, basePort)));
        }
        Map<String, Object> result = new LinkedHashMap<>();
        result.put("dir", dir.toString());
        result.put("genesis", genesisPath.toString());
        result.put("genesis_hash", genesis.hash().hex());
        result.put("tls", !deploy.plaintext);
        result.put("nodes", nodeList);
        result.put("accounts", accountList);
        CommandOutput.print(spec, json.json, result, "created a " + nodes + "-node network in " + dir + " (chain " + chainId
                + ", genesis " + genesis.hash().shortHex() + ")\n  start a node: bftledger node start --config "
                + dir.resolve("node0/node.properties") + "\n  demo accounts: " + dir.resolve("accounts") + " (" + accounts
                + " x " + balance + ")");
        return 0;
    }
}
