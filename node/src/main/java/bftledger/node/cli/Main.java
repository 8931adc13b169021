package bftledger.node.cli;

import bftledger.api.proto.GetAccountResponse;
import bftledger.api.proto.GetBlockRequest;
import bftledger.api.proto.GetBlockResponse;
import bftledger.api.proto.GetStatusResponse;
import bftledger.api.proto.GetTransactionResponse;
import bftledger.api.proto.LedgerApiGrpc;
import bftledger.crypto.Digest;
import bftledger.crypto.KeyFiles;
import bftledger.crypto.KeyPair;
import bftledger.crypto.PublicKey;
import bftledger.ledger.ChainGenesis;
import bftledger.ledger.LedgerProblem;
import bftledger.ledger.LedgerVerifier;
import bftledger.ledger.proto.Block;
import bftledger.ledger.proto.BlockHeader;
import bftledger.ledger.proto.Receipt;
import bftledger.ledger.proto.SignedTransaction;
import bftledger.ledger.proto.TransactionBody;
import bftledger.ledger.proto.Validator;
import bftledger.node.config.ConfigException;
import bftledger.node.config.GenesisFile;
import bftledger.node.config.Keys;
import bftledger.node.config.NodeConfig;
import bftledger.node.replica.ReplicaNode;
import bftledger.sdk.Committed;
import bftledger.sdk.LedgerClient;
import bftledger.sdk.LedgerClientException;
import bftledger.sdk.Network;
import bftledger.sdk.ProofVerifier;
import bftledger.sdk.Verdict;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.util.JsonFormat;
import io.grpc.ManagedChannel;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** The {@code bftledger} command line. Exit codes: 0 ok, 1 failure, 2 usage error. */
@Command(name = "bftledger", mixinStandardHelpOptions = true, version = "bftledger 0.1.0",
        description = "A Byzantine fault-tolerant replicated ledger: run nodes, submit and inspect transactions, audit.",
        subcommands = {Main.Keygen.class, Main.Init.class, Main.NodeCmd.class, Main.StatusCmd.class, Main.Transfer.class,
                Main.Put.class, Main.TxCmd.class, Main.AccountCmd.class, Main.BlockCmd.class, Main.Audit.class, DemoLoad.class,
                Bench.class, TlsCommand.class})
public final class Main implements Runnable {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    public static void main(String[] args) {
        System.exit(run(args));
    }

    public static int run(String... args) {
        CommandLine cli = new CommandLine(new Main());
        cli.setExecutionExceptionHandler((e, commandLine, parseResult) -> {
            String message = e instanceof ConfigException || e instanceof LedgerClientException || e instanceof UserError
                    ? e.getMessage() : e.toString();
            boolean json = parseResult.subcommand() != null && hasJson(parseResult);
            if (json) {
                Map<String, Object> m = new LinkedHashMap<>();
                m.put("ok", false);
                m.put("error", message);
                commandLine.getOut().println(Json.write(m));
                commandLine.getOut().flush();
            }
            commandLine.getErr().println("error: " + message);
            if (!(e instanceof ConfigException || e instanceof LedgerClientException || e instanceof UserError)) {
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

    @Override
    public void run() {
        spec.commandLine().usage(spec.commandLine().getOut());
    }

    /** A mistake the user can fix; printed without a stack trace. */
    static final class UserError extends Exception {
        UserError(String message) {
            super(message);
        }
    }

    static final class JsonOption {
        @Option(names = "--json", description = "Print the result as one JSON object.")
        boolean json;
    }

    static final class NetworkOptions {
        @Option(names = "--genesis", defaultValue = "localnet/genesis.bin",
                description = "The network's genesis file (default: ${DEFAULT-VALUE}).")
        Path genesis;

        @Option(names = "--timeout", defaultValue = "30s", description = "How long to wait, e.g. 10s, 500ms (default: ${DEFAULT-VALUE}).")
        String timeout;
        @Mixin
        ClientTransportOptions transport;

        Network network() throws ConfigException {
            return transport.apply(Network.fromGenesisBytes(GenesisFile.read(genesis).bytes()));
        }

        Duration timeout() throws UserError {
            return parseDuration(timeout);
        }
    }

    static Duration parseDuration(String s) throws UserError {
        try {
            if (s.endsWith("ms")) {
                return Duration.ofMillis(Long.parseLong(s.substring(0, s.length() - 2)));
            }
            if (s.endsWith("s")) {
                return Duration.ofSeconds(Long.parseLong(s.substring(0, s.length() - 1)));
            }
            if (s.endsWith("m")) {
                return Duration.ofMinutes(Long.parseLong(s.substring(0, s.length() - 1)));
            }
            return Duration.ofSeconds(Long.parseLong(s));
        } catch (NumberFormatException e) {
            throw new UserError("'" + s + "' is not a duration; write e.g. 30s, 500ms or 2m.");
        }
    }

    static void print(CommandLine.Model.CommandSpec spec, boolean json, Map<String, Object> result, String text) {
        PrintWriter out = spec.commandLine().getOut();
        if (json) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("ok", true);
            m.putAll(result);
            out.println(Json.write(m));
        } else {
            out.println(text);
        }
        out.flush();
    }

    static PublicKey account(String value) throws UserError {
        try {
            if (value.matches("[0-9a-fA-F]{64}")) {
                return PublicKey.fromHex(value);
            }
            Path p = Path.of(value);
            if (Files.exists(p)) {
                String head = Files.readAllLines(p).stream().findFirst().orElse("");
                return head.equals(KeyFiles.PUBLIC_HEADER) ? KeyFiles.readPublicKey(p) : KeyFiles.readKeyPair(p).publicKey();
            }
        } catch (IOException | RuntimeException e) {
            throw new UserError("cannot read an account from '" + value + "': " + e.getMessage());
        }
        throw new UserError("'" + value + "' is neither a 64-hex-digit public key nor an existing key file.");
    }

    static String hex(com.google.protobuf.ByteString b) {
        return HexFormat.of().formatHex(b.toByteArray());
    }

    // ------------------------------------------------------------------------------------ keygen

    @Command(name = "keygen", mixinStandardHelpOptions = true, description = "Generate an Ed25519 key file (owner-only permissions).")
    static final class Keygen implements Callable<Integer> {
        @CommandLine.Spec
        CommandLine.Model.CommandSpec spec;
        @Mixin
        JsonOption json;
        @Option(names = "--out", required = true, description = "Where to write the secret key file; refuses to overwrite.")
        Path out;

        @Override
        public Integer call() throws ConfigException {
            KeyPair key = KeyPair.generate();
            Keys.write(out, key);
            print(spec, json.json, Map.of("file", out.toString(), "public_key", key.publicKey().hex()),
                    "wrote " + out + "\npublic key (account address): " + key.publicKey().hex());
            return 0;
        }
    }

    // -------------------------------------------------------------------------------------- init

    @Command(name = "init", mixinStandardHelpOptions = true,
            description = "Create a local network: node keys, genesis with funded demo accounts, one config per node.")
    static final class Init implements Callable<Integer> {
        @CommandLine.Spec
        CommandLine.Model.CommandSpec spec;
        @Mixin
        JsonOption json;
        @Option(names = "--nodes", defaultValue = "4", description = "Number of validators, 3f+1 (default: ${DEFAULT-VALUE}).")
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
            if (nodes < 4 || (nodes - 1) % 3 != 0) {
                throw new UserError("--nodes must be 3f+1 with f >= 1 (4, 7, 10, ...); got " + nodes + ".");
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
                accountList.add(Map.of("file", file.toString(), "public_key", key.publicKey().hex(), "balance", balance));
            }
            ChainGenesis genesis = deploy.withTls(ChainGenesis.build(chainId, validators, balances, System.currentTimeMillis()), dir);
            GenesisFile.write(genesisPath, genesis);
            Files.writeString(dir.resolve("genesis.json"), JsonFormat.printer().print(genesis.genesis()) + "\n");
            List<Object> nodeList = new ArrayList<>();
            for (int i = 0; i < nodes; i++) {
                Path nodeDir = dir.resolve("node" + i);
                NodeConfig config = new NodeConfig(i, deploy.listenHost, deploy.listenPort(i, basePort),
                        metricsBasePort == 0 ? 0 : metricsBasePort + i, Path.of("data"), Path.of("node.key"),
                        Path.of("../genesis.bin"), NodeConfig.Tuning.defaults(), deploy.nodeTls(dir, genesis, i), deploy.healthPort(i));
                Path configFile = nodeDir.resolve("node.properties");
                Files.writeString(configFile, config.toProperties());
                nodeList.add(Map.of("name", "node" + i, "config", configFile.toString(), "address", deploy.address(i, basePort)));
            }
            Map<String, Object> result = new LinkedHashMap<>();
            result.put("dir", dir.toString());
            result.put("genesis", genesisPath.toString());
            result.put("genesis_hash", genesis.hash().hex());
            result.put("tls", !deploy.plaintext);
            result.put("nodes", nodeList);
            result.put("accounts", accountList);
            print(spec, json.json, result, "created a " + nodes + "-node network in " + dir + " (chain " + chainId + ", genesis "
                    + genesis.hash().shortHex() + ")\n  start a node: bftledger node start --config " + dir.resolve("node0/node.properties")
                    + "\n  demo accounts: " + dir.resolve("accounts") + " (" + accounts + " x " + balance + ")");
            return 0;
        }
    }

    /** A command that only groups subcommands: run alone, it prints its usage. */
    abstract static class GroupCommand implements Runnable {
        @CommandLine.Spec
        CommandLine.Model.CommandSpec spec;

        @Override
        public void run() {
            spec.commandLine().usage(spec.commandLine().getOut());
        }
    }

    // -------------------------------------------------------------------------------------- node

    @Command(name = "node", mixinStandardHelpOptions = true, description = "Run a replica.", subcommands = NodeStart.class)
    static final class NodeCmd extends GroupCommand {
    }

    @Command(name = "start", mixinStandardHelpOptions = true,
            description = "Start a replica in the foreground; SIGTERM (or Ctrl-C) shuts it down cleanly.")
    static final class NodeStart implements Callable<Integer> {
        @CommandLine.Spec
        CommandLine.Model.CommandSpec spec;
        @Mixin
        JsonOption json;
        @Option(names = "--config", required = true, description = "The node's config file (node.properties).")
        Path config;

        @Override
        public Integer call() throws Exception {
            ReplicaNode node = ReplicaNode.start(NodeConfig.read(config));
            CountDownLatch stopped = new CountDownLatch(1);
            Thread hook = new Thread(() -> {
                node.close();
                stopped.countDown();
            }, "shutdown");
            Runtime.getRuntime().addShutdownHook(hook);
            print(spec, json.json, Map.of("port", node.port(), "metrics_port", node.metricsPort()),
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

    // ------------------------------------------------------------------------------------ status

    @Command(name = "status", mixinStandardHelpOptions = true, description = "Show every node's view, height, primary, checkpoint and peers.")
    static final class StatusCmd implements Callable<Integer> {
        @CommandLine.Spec
        CommandLine.Model.CommandSpec spec;
        @Mixin
        JsonOption json;
        @Mixin
        NetworkOptions net;

        @Override
        public Integer call() throws Exception {
            Network network = net.network();
            List<Object> rows = new ArrayList<>();
            StringBuilder text = new StringBuilder(String.format("%-6s %-22s %-6s %-6s %-8s %-10s %-9s %-10s %s%n",
                    "node", "address", "up", "view", "primary", "height", "stable", "tip", "peers"));
            int up = 0;
            try (LedgerClient client = LedgerClient.connect(network)) {
                List<Optional<GetStatusResponse>> statuses = client.statuses(net.timeout().compareTo(Duration.ofSeconds(5)) > 0
                        ? Duration.ofSeconds(5) : net.timeout());
                for (int i = 0; i < statuses.size(); i++) {
                    Map<String, Object> row = new LinkedHashMap<>();
                    row.put("replica", i);
                    row.put("address", network.addresses().get(i));
                    Optional<GetStatusResponse> s = statuses.get(i);
                    row.put("up", s.isPresent());
                    if (s.isPresent()) {
                        up++;
                        GetStatusResponse r = s.get();
                        row.put("view", r.getView());
                        row.put("primary", r.getPrimary());
                        row.put("height", r.getHeight());
                        row.put("stable_checkpoint", r.getStableCheckpoint());
                        row.put("last_block_hash", hex(r.getLastBlockHash()));
                        row.put("peers_connected", r.getPeersConnectedList());
                        row.put("view_changing", r.getViewChanging());
                        row.put("evidence", r.getEvidenceCount());
                        row.put("quorum_reachable", r.getQuorumReachable());
                        Map<String, Object> suspects = new LinkedHashMap<>();
                        for (bftledger.api.proto.PeerLiveness p : r.getPeerLivenessList()) {
                            if (p.getSuspected()) {
                                suspects.put(Integer.toString(p.getReplica()), p.getSuspicionsList());
                            }
                        }
                        row.put("suspected_peers", suspects);
                        text.append(String.format("%-6s %-22s %-6s %-6d %-8d %-10d %-9d %-10s %s%s%s%n", "node" + i,
                                network.addresses().get(i), "yes", r.getView(), r.getPrimary(), r.getHeight(),
                                r.getStableCheckpoint(), hex(r.getLastBlockHash()).substring(0, 8), r.getPeersConnectedList(),
                                r.getQuorumReachable() ? "" : " NO QUORUM", suspects.isEmpty() ? "" : " suspects " + suspects));
                    } else {
                        text.append(String.format("%-6s %-22s %-6s%n", "node" + i, network.addresses().get(i), "DOWN"));
                    }
                    rows.add(row);
                }
            }
            print(spec, json.json, Map.of("nodes", rows, "up", up, "n", network.n()), text.toString().stripTrailing());
            return up == network.n() ? 0 : 1;
        }
    }

    // ----------------------------------------------------------------------------- transfer, put

    static Map<String, Object> committedJson(Committed c) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("tx_id", c.txId().hex());
        m.put("height", c.height());
        m.put("block_hash", c.blockHash().hex());
        m.put("status", c.receipt().getStatus().name());
        m.put("reason", c.receipt().getReason());
        m.put("proof", c.evidence());
        return m;
    }

    static String committedText(Committed c) {
        return "committed " + c.txId().hex() + "\n  height " + c.height() + ", block " + c.blockHash().shortHex()
                + ", status " + c.receipt().getStatus() + (c.receipt().getReason().isEmpty() ? "" : " (" + c.receipt().getReason() + ")")
                + "\n  proven by " + c.evidence();
    }

    @Command(name = "transfer", mixinStandardHelpOptions = true, description = "Sign and submit a transfer; wait for the proven receipt.")
    static final class Transfer implements Callable<Integer> {
        @CommandLine.Spec
        CommandLine.Model.CommandSpec spec;
        @Mixin
        JsonOption json;
        @Mixin
        NetworkOptions net;
        @Option(names = "--key", required = true, description = "The sender's secret key file.")
        Path key;
        @Option(names = "--to", required = true, description = "Recipient: 64-hex public key or a key file.")
        String to;
        @Option(names = "--amount", required = true, description = "Amount in the smallest unit (> 0).")
        long amount;

        @Override
        public Integer call() throws Exception {
            KeyPair sender = Keys.read(key);
            PublicKey recipient = account(to);
            if (amount <= 0) {
                throw new UserError("--amount must be greater than zero.");
            }
            try (LedgerClient client = LedgerClient.connect(net.network())) {
                Committed c = client.submit(client.transactions().transfer(sender, recipient, amount), net.timeout());
                print(spec, json.json, committedJson(c), committedText(c));
                return c.receipt().getStatus() == Receipt.Status.SUCCESS ? 0 : 1;
            }
        }
    }

    @Command(name = "put", mixinStandardHelpOptions = true, description = "Sign and submit a record put under the sender's namespace.")
    static final class Put implements Callable<Integer> {
        @CommandLine.Spec
        CommandLine.Model.CommandSpec spec;
        @Mixin
        JsonOption json;
        @Mixin
        NetworkOptions net;
        @Option(names = "--key", required = true, description = "The sender's secret key file.")
        Path key;
        @Option(names = "--record-key", required = true, description = "Record key (1-256 bytes UTF-8).")
        String recordKey;
        @Option(names = "--value", required = true, description = "Record value (UTF-8 text, at most 4096 bytes).")
        String value;

        @Override
        public Integer call() throws Exception {
            KeyPair sender = Keys.read(key);
            try (LedgerClient client = LedgerClient.connect(net.network())) {
                Committed c = client.submit(client.transactions().put(sender, recordKey, value.getBytes(StandardCharsets.UTF_8)),
                        net.timeout());
                print(spec, json.json, committedJson(c), committedText(c));
                return c.receipt().getStatus() == Receipt.Status.SUCCESS ? 0 : 1;
            }
        }
    }

    // ----------------------------------------------------------------------------------- tx show

    @Command(name = "tx", mixinStandardHelpOptions = true, description = "Transactions.", subcommands = TxShow.class)
    static final class TxCmd extends GroupCommand {
    }

    @Command(name = "show", mixinStandardHelpOptions = true,
            description = "Show a committed transaction with its receipt, commit certificate and inclusion proof (verified against genesis).")
    static final class TxShow implements Callable<Integer> {
        @CommandLine.Spec
        CommandLine.Model.CommandSpec spec;
        @Mixin
        JsonOption json;
        @Mixin
        NetworkOptions net;
        @Option(names = "--id", required = true, description = "Transaction id (64 hex digits).")
        String id;

        @Override
        public Integer call() throws Exception {
            Digest txId;
            try {
                txId = Digest.fromHex(id);
            } catch (IllegalArgumentException e) {
                throw new UserError("--id must be 64 hex digits (a SHA-256 transaction id).");
            }
            try (LedgerClient client = LedgerClient.connect(net.network())) {
                Optional<GetTransactionResponse> found = client.transaction(txId, net.timeout());
                if (found.isEmpty()) {
                    throw new UserError("transaction " + txId.hex() + " is not committed (f+1 replicas do not hold it).");
                }
                var proof = found.get().getProof();
                TransactionBody body = TransactionBody.parseFrom(proof.getTransaction().getBody());
                BlockHeader header = BlockHeader.parseFrom(proof.getBlockHeader());
                Map<String, Object> m = new LinkedHashMap<>();
                m.put("tx_id", txId.hex());
                m.put("body", JsonFormat.printer().omittingInsignificantWhitespace().print(body));
                m.put("status", proof.getReceipt().getStatus().name());
                m.put("reason", proof.getReceipt().getReason());
                m.put("height", header.getHeight());
                m.put("index", proof.getReceipt().getIndex());
                m.put("block_hash", bftledger.crypto.Sha256.hash(proof.getBlockHeader().toByteArray()).hex());
                m.put("certificate_view", proof.getCertificate().getView());
                List<Integer> signers = proof.getCertificate().getSignaturesList().stream().map(s -> s.getReplica()).toList();
                m.put("certificate_signers", signers);
                m.put("inclusion_path", proof.getTxInclusion().getPathList().stream().map(Main::hex).toList());
                m.put("proof_verified", true);
                print(spec, json.json, m, "transaction " + txId.hex() + "\n  " + JsonFormat.printer().print(body).replace("\n", "\n  ")
                        + "\n  receipt: " + proof.getReceipt().getStatus() + (proof.getReceipt().getReason().isEmpty() ? ""
                        : " (" + proof.getReceipt().getReason() + ")") + "\n  block " + header.getHeight() + " index "
                        + proof.getReceipt().getIndex() + "\n  commit certificate: view " + proof.getCertificate().getView()
                        + ", signed by replicas " + signers + "\n  inclusion proof: " + proof.getTxInclusion().getPathCount()
                        + " hashes to tx_root " + hex(header.getTxRoot()).substring(0, 16) + "...\n  verified against genesis: yes");
                return 0;
            }
        }
    }

    // ------------------------------------------------------------------------------ account show

    @Command(name = "account", mixinStandardHelpOptions = true, description = "Accounts.", subcommands = AccountShow.class)
    static final class AccountCmd extends GroupCommand {
    }

    @Command(name = "show", mixinStandardHelpOptions = true, description = "Show an account's balance, as f+1 replicas state it at one height.")
    static final class AccountShow implements Callable<Integer> {
        @CommandLine.Spec
        CommandLine.Model.CommandSpec spec;
        @Mixin
        JsonOption json;
        @Mixin
        NetworkOptions net;
        @Option(names = "--account", required = true, description = "64-hex public key or a key file.")
        String account;

        @Override
        public Integer call() throws Exception {
            PublicKey key = account(account);
            try (LedgerClient client = LedgerClient.connect(net.network())) {
                GetAccountResponse r = client.account(key, net.timeout());
                print(spec, json.json, Map.of("account", key.hex(), "balance", r.getBalance(), "height", r.getHeight(),
                        "block_hash", hex(r.getBlockHash())), "account " + key.hex() + "\n  balance " + r.getBalance()
                        + " at height " + r.getHeight() + " (block " + hex(r.getBlockHash()).substring(0, 8) + ", agreed by f+1 replicas)");
                return 0;
            }
        }
    }

    // -------------------------------------------------------------------------------- block show

    @Command(name = "block", mixinStandardHelpOptions = true, description = "Blocks.", subcommands = BlockShow.class)
    static final class BlockCmd extends GroupCommand {
    }

    @Command(name = "show", mixinStandardHelpOptions = true,
            description = "Show a block; its commit certificate is verified against genesis, so one replica's copy suffices.")
    static final class BlockShow implements Callable<Integer> {
        @CommandLine.Spec
        CommandLine.Model.CommandSpec spec;
        @Mixin
        JsonOption json;
        @Mixin
        NetworkOptions net;
        @Option(names = "--height", defaultValue = "0", description = "Block height; 0 = the latest (default).")
        long height;

        @Override
        public Integer call() throws Exception {
            Network network = net.network();
            ProofVerifier verifier = new ProofVerifier(network);
            List<String> seen = new ArrayList<>();
            for (int i = 0; i < network.n(); i++) {
                ManagedChannel channel = bftledger.sdk.TlsChannels.builder(network, i).maxInboundMessageSize(64 << 20).build();
                try {
                    GetBlockResponse r = LedgerApiGrpc.newBlockingStub(channel).withDeadlineAfter(net.timeout().toMillis(),
                            TimeUnit.MILLISECONDS).getBlock(GetBlockRequest.newBuilder().setHeight(height).build());
                    if (!r.getFound()) {
                        seen.add("node" + i + ": no such block");
                        continue;
                    }
                    Block block = r.getBlock();
                    BlockHeader header = BlockHeader.parseFrom(block.getHeader());
                    Verdict v = verifier.verifyCertificate(header, block.getCertificate());
                    if (!v.ok()) {
                        seen.add("node" + i + ": invalid certificate (" + v.reason() + ")");
                        continue;
                    }
                    List<Object> txs = new ArrayList<>();
                    for (int t = 0; t < block.getTransactionsCount(); t++) {
                        SignedTransaction tx = block.getTransactions(t);
                        Receipt receipt = block.getReceipts(t);
                        txs.add(Map.of("tx_id", hex(receipt.getTxId()), "status", receipt.getStatus().name(),
                                "body", JsonFormat.printer().omittingInsignificantWhitespace().print(TransactionBody.parseFrom(tx.getBody()))));
                    }
                    Map<String, Object> m = new LinkedHashMap<>();
                    m.put("height", header.getHeight());
                    m.put("block_hash", hex(r.getBlockHash()));
                    m.put("previous_hash", hex(header.getPreviousHash()));
                    m.put("timestamp_millis", header.getTimestampMillis());
                    m.put("tx_count", header.getTxCount());
                    m.put("state_root", hex(header.getStateRoot()));
                    m.put("certificate_view", block.getCertificate().getView());
                    m.put("certificate_signers", block.getCertificate().getSignaturesList().stream().map(s -> s.getReplica()).toList());
                    m.put("served_by", i);
                    m.put("transactions", txs);
                    StringBuilder text = new StringBuilder("block " + header.getHeight() + " " + hex(r.getBlockHash())
                            + "\n  previous " + hex(header.getPreviousHash()) + "\n  " + header.getTxCount() + " transactions, timestamp "
                            + header.getTimestampMillis() + "\n  certificate: view " + block.getCertificate().getView()
                            + ", signers " + m.get("certificate_signers") + " (verified against genesis; served by node" + i + ")");
                    for (Object tx : txs) {
                        text.append("\n  ").append(tx);
                    }
                    print(spec, json.json, m, text.toString());
                    return 0;
                } catch (InvalidProtocolBufferException e) {
                    seen.add("node" + i + ": malformed block");
                } catch (RuntimeException e) {
                    seen.add("node" + i + ": unreachable (" + e.getMessage() + ")");
                } finally {
                    channel.shutdownNow();
                }
            }
            throw new UserError("no replica served block " + (height == 0 ? "(latest)" : height) + " with a valid certificate: " + seen);
        }
    }

    // ------------------------------------------------------------------------------------- audit

    @Command(name = "audit", mixinStandardHelpOptions = true,
            description = {"Verify a ledger.",
                    "Offline (--data): one node's data directory: hash chain, commit certificates, transaction signatures,"
                            + " re-execution of state, indexes.",
                    "Online (--online): every node of the network: each block's certificate and chain link, cross-node"
                            + " agreement (which nodes diverge and from which height) and the evidence each node holds."})
    static final class Audit implements Callable<Integer> {
        @CommandLine.Spec
        CommandLine.Model.CommandSpec spec;
        @Mixin
        JsonOption json;
        @Option(names = "--data", description = "Offline: the node's data directory (holds ledger/ and wal/). Stop the node first or audit a copy.")
        Path data;
        @Option(names = "--online", description = "Online: audit all running nodes listed in genesis.")
        boolean online;
        @Option(names = "--genesis", defaultValue = "localnet/genesis.bin", description = "The network's genesis file (default: ${DEFAULT-VALUE}).")
        Path genesisPath;
        @Option(names = "--timeout", defaultValue = "10s", description = "Per-call timeout for --online (default: ${DEFAULT-VALUE}).")
        String timeout;
        @Mixin
        ClientTransportOptions transport;

        @Override
        public Integer call() throws Exception {
            if (online == (data != null)) {
                throw new UserError("give exactly one of --data <dir> (offline audit of one node) or --online (all running nodes).");
            }
            if (online) {
                return OnlineAudit.run(spec, json.json, GenesisFile.read(genesisPath), transport, parseDuration(timeout));
            }
            return offline();
        }

        private int offline() throws Exception {
            ChainGenesis genesis = GenesisFile.read(genesisPath);
            Path ledger = data.resolve("ledger");
            if (!Files.isDirectory(ledger)) {
                throw new UserError(ledger + " does not exist; --data must be a node's data directory (data.dir in its config).");
            }
            PrintWriter err = spec.commandLine().getErr();
            long[] last = {0};
            LedgerVerifier.Report report;
            try {
                report = LedgerVerifier.verify(ledger, genesis, (h, tip) -> {
                    if (!json.json && (h == tip || h - last[0] >= Math.max(1, tip / 20))) {
                        last[0] = h;
                        err.printf("\rverified %d/%d blocks", h, tip);
                        err.flush();
                    }
                });
            } catch (bftledger.ledger.StoreInUseException e) {
                throw new UserError(e.getMessage() + " (the offline audit reads a stopped node; for running nodes use --online)");
            }
            if (!json.json) {
                err.println();
            }
            List<Object> problems = new ArrayList<>();
            StringBuilder text = new StringBuilder((report.ok() ? "audit passed: " : "audit FAILED: ") + report.blocksChecked()
                    + " blocks, " + report.transactionsChecked() + " transactions checked, " + report.problemCount() + " problems");
            for (LedgerProblem p : report.problems()) {
                problems.add(Map.of("height", p.height(), "kind", p.kind().name(), "message", p.message()));
                if (problems.size() <= 50) {
                    text.append("\n  height ").append(p.height()).append(" ").append(p.kind()).append(": ").append(p.message());
                }
            }
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("passed", report.ok());
            m.put("blocks_checked", report.blocksChecked());
            m.put("transactions_checked", report.transactionsChecked());
            m.put("problem_count", report.problemCount());
            m.put("problems", problems);
            print(spec, json.json, m, text.toString());
            return report.ok() ? 0 : 1;
        }
    }
}
