package bftledger.scenario;

import bftledger.api.proto.GetStatusResponse;
import bftledger.api.proto.LedgerApiGrpc;
import bftledger.crypto.Digest;
import bftledger.crypto.KeyPair;
import bftledger.crypto.PublicKey;
import bftledger.ledger.ChainGenesis;
import bftledger.ledger.proto.Validator;
import bftledger.netfault.FaultProxy;
import bftledger.netfault.NetnsNetwork;
import bftledger.netfault.Pauser;
import bftledger.node.cli.Main;
import bftledger.node.config.ConfigException;
import bftledger.node.config.GenesisFile;
import bftledger.node.config.Keys;
import bftledger.node.config.NetworkCa;
import bftledger.node.config.NodeConfig;
import bftledger.sdk.LedgerClient;
import bftledger.sdk.Network;
import bftledger.sdk.TlsChannels;
import com.google.protobuf.ByteString;
import io.grpc.ManagedChannel;
import io.grpc.Grpc;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Optional;
import java.util.SplittableRandom;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;

/**
 * n real node JVMs: the one launcher of every multi-process test and of the chaos run. Nodes run
 * on loopback (each node its own port, optionally behind a {@link FaultProxy} each) or each
 * inside its own host of a {@link NetnsNetwork} (each node its own address, so iptables faults
 * apply). {@link Options#defaults} shortens the consensus timeouts for scenarios;
 * {@link Options#asInit} runs nodes as {@code bftledger init} configures them (default tuning,
 * metrics endpoints on).
 *
 * <p>In namespace mode the network has n+1 hosts: host n is the client host, where a
 * {@link UnixRelay} forwards socket files to the nodes (the test JVM lives in the root namespace,
 * which cannot reach the hosts). The client's traffic therefore suffers the same cuts as a peer's.
 *
 * <p>Contract: {@link #close()} kills every process this cluster started, by its own handle
 * (SIGCONT first for paused ones, then SIGTERM, then SIGKILL), removes the namespace network by
 * name, and copies the logs to target/scenario-logs. Not thread-safe: one test thread drives it.
 */
public final class ScenarioCluster implements AutoCloseable {
    /**
     * Options for a cluster. The tuning's tick millis scale every consensus timeout (request
     * timeout = 200 ticks); with {@code metrics} each node serves /metrics on its own port; with
     * {@code tls} the network has a CA in {@code <dir>/ca/} (as {@code bftledger init} makes) and
     * nodes and clients speak TLS.
     */
    public record Options(int n, int accounts, long balance, NodeConfig.Tuning tuning, boolean metrics, String heap, long seed,
                          boolean tls, long pruneKeepBlocks, int spares) {
        /** Scenario settings: 20 ms ticks (a 4 s request timeout), 256 MiB stores, no metrics endpoint. */
        public static Options defaults(long seed) {
            NodeConfig.Tuning d = NodeConfig.Tuning.defaults();
            NodeConfig.Tuning scenario = new NodeConfig.Tuning(d.verifyThreads(), d.peerQueueMax(), d.inboundQueueMax(),
                    d.messageBytesMax(), d.transactionBytesMax(), d.pendingTransactionsMax(), d.submitWaitMaxMillis(),
                    20, 256L << 20, d.pipelineDepthMax());
            return new Options(4, 8, 10_000, scenario, false, "-Xmx256m", seed, false, 0, 0);
        }

        /** Nodes as {@code bftledger init} configures them: default tuning, metrics on; four funded accounts. */
        public static Options asInit(long seed) {
            return new Options(4, 4, 1_000_000_000L, NodeConfig.Tuning.defaults(), true, "-Xmx192m", seed, false, 0, 0);
        }

        /** The same options on a network that runs TLS between nodes and to clients. */
        public Options withTls() {
            return new Options(n, accounts, balance, tuning, metrics, heap, seed, true, pruneKeepBlocks, spares);
        }

        /** The same options with every node keeping only its last {@code keepBlocks} blocks whole. */
        public Options withPruning(long keepBlocks) {
            return new Options(n, accounts, balance, tuning, metrics, heap, seed, tls, keepBlocks, spares);
        }

        /**
         * The same options with {@code count} more nodes (n, n+1, ...) that genesis does not name:
         * keys, configs and ports ready for a validator-set change to add them (loopback only).
         */
        public Options withSpares(int count) {
            return new Options(n, accounts, balance, tuning, metrics, heap, seed, tls, pruneKeepBlocks, count);
        }

        /** Nodes with keys and configs: the genesis validators and the spares. */
        int nodes() {
            return n + spares;
        }
    }

    private static final int NETNS_PORT = 7000;
    private static final int NETNS_METRICS_PORT = 9100;

    private final Path dir;
    private final Options options;
    private final NetnsNetwork net;
    private final Process[] processes;
    private final List<KeyPair> accounts = new ArrayList<>();
    private final ChainGenesis genesis;
    private final Network clientNetwork;
    private final List<String> clientTargets;
    private final String classpath;
    private final String suffix;
    private final List<Integer> listenPorts = new ArrayList<>();
    private final List<Integer> metricsPorts = new ArrayList<>();
    private final List<FaultProxy> proxies = new ArrayList<>();
    private final Pauser pauser = new Pauser();
    private Process relay;
    private final List<ManagedChannel> channels = new ArrayList<>();
    /** Every node's key, address and name as a validator set names it (genesis validators, then spares). */
    private final List<Validator> nodeValidators = new ArrayList<>();
    private LedgerClient client;

    private ScenarioCluster(Path dir, Options options, NetnsNetwork net) throws IOException {
        this(dir, options, net, null, "", null, false);
    }

    /**
     * @param base null to create a new network in {@code dir}; otherwise share its genesis, keys
     *     and accounts (a second set of processes for the same validators: twins)
     * @param suffix names this set's config files, relay directory and log files ("" for the first)
     * @param dataNames per node, the data directory name under node<i>/ (null: "data" + suffix)
     */
    private ScenarioCluster(Path dir, Options options, NetnsNetwork net, ScenarioCluster base, String suffix,
                            List<String> dataNames, boolean proxied) throws IOException {
        this.dir = dir;
        this.options = options;
        this.net = net;
        this.suffix = suffix;
        this.processes = new Process[options.nodes()];
        if (options.spares() > 0 && (net != null || base != null || proxied)) {
            throw new IllegalArgumentException("spare nodes are for plain loopback clusters");
        }
        String cp = System.getProperty("surefire.test.class.path");
        this.classpath = cp != null && !cp.isBlank() ? cp : System.getProperty("java.class.path");
        Files.createDirectories(dir);
        List<String> hosts = new ArrayList<>();
        List<Integer> ports = new ArrayList<>();
        if (base != null) {
            this.genesis = base.genesis;
            this.accounts.addAll(base.accounts);
            Network g = Network.fromGenesisBytes(genesis.bytes());
            for (String a : g.addresses()) {
                int colon = a.lastIndexOf(':');
                hosts.add(a.substring(0, colon));
                ports.add(Integer.parseInt(a.substring(colon + 1)));
                listenPorts.add(Integer.parseInt(a.substring(colon + 1)));
            }
            metricsPorts.addAll(base.metricsPorts);
            writeConfigs(genesis, hosts, dataNames);
        } else {
            if (net == null) {
                // One run for the advertised ports and the metrics ports, so neither lands on the other.
                int nodes = options.nodes();
                int span = options.metrics() ? 2 * nodes : nodes;
                int basePort = freeRange(span);
                int listenBase = basePort;
                while (proxied && Math.abs(listenBase - basePort) < span) {
                    listenBase = freeRange(nodes);
                }
                for (int i = 0; i < nodes; i++) {
                    hosts.add("127.0.0.1");
                    ports.add(basePort + i);
                    listenPorts.add(listenBase + i);
                    metricsPorts.add(options.metrics() ? basePort + nodes + i : 0);
                }
            } else {
                for (int i = 0; i < options.n(); i++) {
                    hosts.add(net.address(i));
                    ports.add(NETNS_PORT);
                    listenPorts.add(NETNS_PORT);
                    metricsPorts.add(options.metrics() ? NETNS_METRICS_PORT : 0);
                }
            }
            this.genesis = init(hosts, ports, dataNames);
            if (proxied) {
                for (int i = 0; i < options.n(); i++) {
                    proxies.add(FaultProxy.start(FaultProxy.Config.of(new InetSocketAddress(hosts.get(i), listenPorts.get(i)))
                            .withListen(new InetSocketAddress(hosts.get(i), ports.get(i))).withSeed(options.seed() + i)));
                }
            }
        }
        Network fromGenesis = Network.fromGenesisBytes(genesis.bytes());
        if (net == null) {
            this.clientTargets = fromGenesis.addresses();
        } else {
            Path sockets = dir.resolve("relay" + suffix);
            List<String> targets = new ArrayList<>();
            for (int i = 0; i < options.n(); i++) {
                targets.add("unix://" + UnixRelay.socket(sockets, i).toAbsolutePath());
            }
            this.clientTargets = List.copyOf(targets);
        }
        // Clients reach netns nodes through the relay's unix sockets, in plaintext (the relay is not a TLS peer).
        Network reached = net == null ? fromGenesis
                : new Network(fromGenesis.chainId(), fromGenesis.validatorKeys(), clientTargets, fromGenesis.genesisHash());
        this.clientNetwork = reached.tls() ? reached : reached.withPlaintext();
    }

    /** Nodes on loopback, each on its own port. */
    public static ScenarioCluster loopback(Path dir, Options options) throws IOException {
        return new ScenarioCluster(dir, options, null);
    }

    /**
     * Nodes on loopback behind one in-process {@link FaultProxy} each: genesis names the proxy's
     * port, the node listens on another, so every byte into node i (from peers and clients) goes
     * through proxy i, where latency, pauses and cuts are applied ({@link #proxy}).
     */
    public static ScenarioCluster loopbackProxied(Path dir, Options options) throws IOException {
        return new ScenarioCluster(dir, options, null, null, "", null, true);
    }

    /** The proxy in front of node i (loopbackProxied clusters only). */
    public FaultProxy proxy(int i) {
        if (proxies.isEmpty()) {
            throw new IllegalStateException("this cluster has no proxies; create it with loopbackProxied");
        }
        return proxies.get(i);
    }

    /**
     * Nodes inside namespace network {@code name} (created here, removed by {@link #close()}),
     * one host each, plus a client host running the relay. Needs root; check NetnsSupport first.
     */
    public static ScenarioCluster netns(Path dir, String name, Options options) throws IOException {
        return netns(dir, name, options, null, "", null);
    }

    /**
     * Another set of processes for the validators of {@code base}, in namespace network
     * {@code name}: same genesis, keys and addresses, data directories {@code dataNames} (per node,
     * under node<i>/). Two such sets in separate networks are twins: the same replica identities
     * running twice, each seeing a different part of the network.
     */
    public static ScenarioCluster netnsTwin(ScenarioCluster base, String name, String suffix, List<String> dataNames)
            throws IOException {
        return netns(base.dir, name, base.options, base, suffix, dataNames);
    }

    private static ScenarioCluster netns(Path dir, String name, Options options, ScenarioCluster base, String suffix,
                                         List<String> dataNames) throws IOException {
        if (options.tls()) {
            throw new IllegalArgumentException("namespace networks run in plaintext: clients reach them through a unix-socket relay");
        }
        NetnsNetwork net = NetnsNetwork.create(name, options.n() + 1);
        try {
            ScenarioCluster cluster = new ScenarioCluster(dir, options, net, base, suffix, dataNames, false);
            cluster.startRelay();
            return cluster;
        } catch (IOException | RuntimeException e) {
            net.close();
            throw e;
        }
    }

    private ChainGenesis init(List<String> hosts, List<Integer> ports, List<String> dataNames) throws IOException {
        try {
            SplittableRandom random = new SplittableRandom(options.seed());
            List<Validator> validators = new ArrayList<>();
            List<KeyPair> nodeKeys = new ArrayList<>();
            for (int i = 0; i < options.nodes(); i++) {
                KeyPair key = KeyPair.deterministic("scenario-node-" + i + "-" + random.nextLong());
                nodeKeys.add(key);
                Keys.write(dir.resolve("node" + i).resolve("node.key"), key);
                Validator v = ChainGenesis.validator(key.publicKey(), hosts.get(i) + ":" + ports.get(i), "node" + i);
                nodeValidators.add(v);
                if (i < options.n()) {
                    validators.add(v);
                }
            }
            TreeMap<PublicKey, Long> balances = new TreeMap<>();
            for (int j = 0; j < options.accounts(); j++) {
                KeyPair key = KeyPair.deterministic("scenario-account-" + j + "-" + random.nextLong());
                accounts.add(key);
                balances.put(key.publicKey(), options.balance());
            }
            ChainGenesis g = ChainGenesis.build("bftledger-scenario", validators, balances, 1_700_000_000_000L);
            if (options.tls()) {
                g = NetworkCa.create(g, dir);
            }
            GenesisFile.write(genesisPath(), g);
            writeConfigs(g, hosts, dataNames);
            return g;
        } catch (ConfigException e) {
            throw new IOException("cannot write the scenario network: " + e.getMessage(), e);
        }
    }

    private void writeConfigs(ChainGenesis g, List<String> hosts, List<String> dataNames) throws IOException {
        try {
            for (int i = 0; i < processes.length; i++) {
                String data = dataNames == null ? "data" + suffix : dataNames.get(i);
                NodeConfig.Tls tls = options.tls() ? NetworkCa.issueNode(dir, g, i, List.of()) : NodeConfig.Tls.plaintextOnPurpose();
                // One signing mark per data directory: twins share a key but each writes its own WAL.
                NodeConfig config = new NodeConfig(i, hosts.get(i), listenPorts.get(i), metricsPorts.get(i), Path.of(data),
                        Path.of("node.key"), Path.of("../genesis.bin"), options.tuning(), tls, 0,
                        Path.of(data + ".signing-mark"), false, options.pruneKeepBlocks(),
                        NodeConfig.StateSync.defaults());
                Files.createDirectories(configPath(i).getParent());
                Files.writeString(configPath(i), config.toProperties());
            }
        } catch (ConfigException e) {
            throw new IOException("cannot write the scenario network's node configs: " + e.getMessage(), e);
        }
    }

    /**
     * A run of n consecutive loopback ports that are free right now, below the kernel's ephemeral
     * range: a port from that range (what {@code new ServerSocket(0)} returns) may be taken by any
     * outgoing connection, a starting node's peer links included, before its node binds it.
     */
    private static int freeRange(int n) throws IOException {
        int low = 20_000;
        int high = ephemeralLow() - n;
        for (int attempt = 0; attempt < 200 && high > low; attempt++) {
            int base = low + java.util.concurrent.ThreadLocalRandom.current().nextInt(high - low);
            boolean free = true;
            for (int p = base; p < base + n && free; p++) {
                try (ServerSocket s = new ServerSocket(p, 1, InetAddress.getLoopbackAddress())) {
                    s.setReuseAddress(true);
                } catch (IOException e) {
                    free = false;
                }
            }
            if (free) {
                return base;
            }
        }
        throw new IOException("no run of " + n + " free ports found below the ephemeral range");
    }

    /** The kernel's lowest ephemeral port (read as a stream: /proc files report a size of 0); Linux's default otherwise. */
    private static int ephemeralLow() {
        try (java.io.BufferedReader in = Files.newBufferedReader(Path.of("/proc/sys/net/ipv4/ip_local_port_range"))) {
            return Integer.parseInt(in.readLine().trim().split("\\s+")[0]);
        } catch (IOException | RuntimeException unreadable) {
            return 32_768;
        }
    }

    private void startRelay() throws IOException {
        Path sockets = dir.resolve("relay" + suffix);
        Files.createDirectories(sockets);
        List<String> command = new ArrayList<>(List.of(java(), "-Xmx48m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
                "-cp", classpath, UnixRelay.class.getName(), sockets.toAbsolutePath().toString()));
        for (String a : Network.fromGenesisBytes(genesis.bytes()).addresses()) {
            command.add(a);
        }
        ProcessBuilder pb = new ProcessBuilder(command).redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.appendTo(dir.resolve("relay" + suffix + ".log").toFile()));
        relay = net.start(options.n(), pb);
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (!Files.exists(UnixRelay.readyFile(sockets))) {
            if (!relay.isAlive() || System.nanoTime() > deadline) {
                throw new IOException("the client relay did not start; see " + dir.resolve("relay" + suffix + ".log"));
            }
            sleep(50);
        }
    }

    private static String java() {
        return Path.of(System.getProperty("java.home"), "bin", "java").toString();
    }

    public int n() {
        return options.n();
    }

    public int f() {
        return (options.n() - 1) / 3;
    }

    public Path dir() {
        return dir;
    }

    public Path genesisPath() {
        return dir.resolve("genesis.bin");
    }

    public ChainGenesis genesis() {
        return genesis;
    }

    public Path configPath(int i) {
        return dir.resolve("node" + i).resolve("node" + suffix + ".properties");
    }

    /** Node i's data directory, as its config names it. */
    public Path data(int i) {
        try {
            return NodeConfig.read(configPath(i)).dataDir();
        } catch (ConfigException e) {
            throw new IllegalStateException(e.getMessage(), e);
        }
    }

    /** The port of node i's /metrics endpoint; 0 when the cluster runs without them. */
    public int metricsPort(int i) {
        return metricsPorts.get(i);
    }

    /**
     * Node i's Prometheus scrape (GET /metrics on loopback). Throws when the cluster runs without
     * metrics endpoints or the node does not answer 200 within 10 s.
     */
    public String metrics(int i) throws IOException, InterruptedException {
        if (metricsPort(i) == 0 || net != null) {
            throw new IllegalStateException("node" + i + " has no metrics endpoint this JVM reaches; use Options.asInit on loopback");
        }
        HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();
        HttpResponse<String> response = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + metricsPort(i) + "/metrics"))
                .timeout(Duration.ofSeconds(10)).build(), HttpResponse.BodyHandlers.ofString());
        if (response.statusCode() != 200) {
            throw new IOException("node" + i + " answered /metrics with HTTP " + response.statusCode());
        }
        return response.body();
    }

    public Path log(int i) {
        return dir.resolve("node" + i + suffix + ".log");
    }

    /** Sets {@code key} to {@code value} in node i's config; the node reads it at its next start. */
    public void configure(int i, String key, String value) throws IOException {
        java.util.Properties props = new java.util.Properties();
        try (var in = Files.newInputStream(configPath(i))) {
            props.load(in);
        }
        props.setProperty(key, value);
        try (var out = Files.newOutputStream(configPath(i))) {
            props.store(out, "bftledger node config");
        }
    }

    public List<KeyPair> accounts() {
        return List.copyOf(accounts);
    }

    public long totalBalance() {
        return options.balance() * options.accounts();
    }

    /** The namespace network, for partitions and drops; empty on loopback. */
    public Optional<NetnsNetwork> netns() {
        return Optional.ofNullable(net);
    }

    /** The network as this JVM reaches it: genesis keys and hash, client-reachable addresses. */
    public Network clientNetwork() {
        return clientNetwork;
    }

    /** The shared SDK client (created on first use, closed by {@link #close()}). */
    public synchronized LedgerClient client() {
        if (client == null) {
            client = LedgerClient.over(clientNetwork, channels());
        }
        return client;
    }

    /** One channel per node, for asking a single node (the checker compares nodes one by one). */
    public synchronized List<ManagedChannel> channels() {
        if (channels.isEmpty()) {
            for (String target : clientTargets) {
                // Grpc.newChannelBuilder picks a transport that supports the target's address type (unix: needs the UDS one).
                channels.add(Grpc.newChannelBuilder(target, TlsChannels.credentials(clientNetwork, null))
                        .maxInboundMessageSize(64 << 20).build());
            }
        }
        return List.copyOf(channels);
    }

    public LedgerApiGrpc.LedgerApiBlockingStub stub(int i, Duration timeout) {
        return LedgerApiGrpc.newBlockingStub(channels().get(i)).withDeadlineAfter(timeout.toMillis(), TimeUnit.MILLISECONDS);
    }

    /** Starts node i as an honest replica. */
    public void start(int i) throws IOException {
        launch(i, List.of(Main.class.getName(), "node", "start", "--config", configPath(i).toString()));
    }

    /** Starts node i with {@code --join}: it follows the chain until a validator set names its key. */
    public void startJoining(int i) throws IOException {
        launch(i, List.of(Main.class.getName(), "node", "start", "--config", configPath(i).toString(), "--join"));
    }

    /** Node i's key, address and name as a validator set would list it (its current key file). */
    public Validator validator(int i) throws IOException {
        try {
            return nodeValidators.get(i).toBuilder()
                    .setPublicKey(bytes(Keys.read(dir.resolve("node" + i).resolve("node.key")).publicKey())).build();
        } catch (ConfigException e) {
            throw new IOException(e.getMessage(), e);
        }
    }

    /** Node i's signing key, as its key file holds it now. */
    public KeyPair nodeKey(int i) throws IOException {
        try {
            return Keys.read(dir.resolve("node" + i).resolve("node.key"));
        } catch (ConfigException e) {
            throw new IOException(e.getMessage(), e);
        }
    }

    /** Replaces node i's key file (a rotation: its next start signs with {@code key}). */
    public void replaceKey(int i, KeyPair key) throws IOException {
        Path file = dir.resolve("node" + i).resolve("node.key");
        Files.delete(file);
        try {
            Keys.write(file, key);
        } catch (ConfigException e) {
            throw new IOException(e.getMessage(), e);
        }
    }

    /**
     * Starts node i as a Byzantine replica with one of the simulator's strategies (same key, data
     * directory and ports as the honest node): {@code bftledger.byzantine.ByzantineNodeMain}.
     */
    public void startByzantine(int i, String strategy) throws IOException {
        launch(i, List.of("bftledger.byzantine.ByzantineNodeMain", "--config", configPath(i).toString(),
                "--strategy", strategy, "--seed", Long.toString(options.seed() + i)));
    }

    private void launch(int i, List<String> mainAndArgs) throws IOException {
        if (processes[i] != null && processes[i].isAlive()) {
            throw new IllegalStateException("node" + i + " is already running");
        }
        List<String> command = new ArrayList<>(List.of(java(), options.heap(), "-XX:+UseSerialGC", "-XX:ActiveProcessorCount=1",
                "-XX:TieredStopAtLevel=1", "--add-opens", "java.base/java.nio=ALL-UNNAMED",
                "--add-opens", "java.base/sun.nio.ch=ALL-UNNAMED", "-cp", classpath));
        command.addAll(mainAndArgs);
        ProcessBuilder pb = new ProcessBuilder(command);
        pb.redirectErrorStream(true);
        pb.redirectOutput(ProcessBuilder.Redirect.appendTo(log(i).toFile()));
        processes[i] = net == null ? pb.start() : net.start(i, pb);
    }

    public void startAll() throws IOException {
        for (int i = 0; i < options.n(); i++) {
            start(i);
        }
    }

    public Process process(int i) {
        return processes[i];
    }

    public boolean running(int i) {
        return processes[i] != null && processes[i].isAlive();
    }

    /** SIGKILL: no chance to flush or close anything. Returns once the process has exited (bounded). */
    public void kill9(int i) throws IOException {
        Process p = processes[i];
        if (p == null) {
            return;
        }
        // Our own handle, not Pauser.kill9: a process that dies on its own between a liveness check
        // and the signal is not an error here.
        p.destroyForcibly();
        try {
            if (!p.waitFor(20, TimeUnit.SECONDS)) {
                throw new IOException("node" + i + " (pid " + p.pid() + ") still alive 20 s after SIGKILL");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted waiting for node" + i + " to die", e);
        }
    }

    /** SIGKILL to every node at once (no node sees another die first), then waits for all. */
    public void kill9All() throws IOException {
        for (Process p : processes) {
            if (p != null) {
                p.destroyForcibly();
            }
        }
        for (int i = 0; i < processes.length; i++) {
            kill9(i);
        }
    }

    /** SIGTERM and wait for the clean shutdown (SIGKILL after 30 s); returns the exit code. */
    public int stop(int i) throws InterruptedException {
        Process p = processes[i];
        if (p == null) {
            return -1;
        }
        p.destroy();
        if (!p.waitFor(30, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            p.waitFor(10, TimeUnit.SECONDS);
        }
        return p.exitValue();
    }

    public void stopAll() throws InterruptedException {
        for (int i = 0; i < processes.length; i++) {
            if (processes[i] != null) {
                processes[i].destroy();
            }
        }
        for (int i = 0; i < processes.length; i++) {
            stop(i);
        }
    }

    /** SIGSTOP: the node keeps its sockets but answers nothing. */
    public void pause(int i) throws IOException {
        pauser.pause(processes[i]);
    }

    public void resume(int i) throws IOException {
        pauser.resume(processes[i]);
    }

    /** The status of every node, empty where a node did not answer in time. */
    public List<Optional<GetStatusResponse>> statuses() {
        return client().statuses(Duration.ofSeconds(2));
    }

    /**
     * Polls until every node in {@code nodes} reports one height and tip, unchanged for
     * {@code settle}, or {@code timeout} passes (returns quietly then: the checks that follow say
     * what differs). Stopping a cluster right after a load leaves a race otherwise: an idle
     * primary's empty batch certifying the last block may be executed on some nodes and not yet
     * on others when they stop, and the offline audit finds different heights.
     */
    public void awaitSettled(Collection<Integer> nodes, Duration settle, Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        String tip = null;
        long since = System.nanoTime();
        while (System.nanoTime() < deadline) {
            List<Optional<GetStatusResponse>> statuses = statuses();
            java.util.Set<String> tips = new java.util.HashSet<>();
            for (int i : nodes) {
                tips.add(statuses.get(i).map(r -> r.getHeight() + "/" + r.getLastBlockHash()).orElse("none"));
            }
            String now = tips.size() == 1 && !tips.contains("none") ? tips.iterator().next() : null;
            if (now == null || !now.equals(tip)) {
                tip = now;
                since = System.nanoTime();
            } else if (System.nanoTime() - since >= settle.toNanos()) {
                return;
            }
            sleep(100);
        }
    }

    /** Polls until every node in {@code nodes} answers and sees the others of the set; fails with what it saw. */
    public void awaitReady(Duration timeout, Collection<Integer> nodes) {
        long deadline = System.nanoTime() + timeout.toNanos();
        String seen = "";
        while (System.nanoTime() < deadline) {
            List<Optional<GetStatusResponse>> statuses = statuses();
            boolean ready = true;
            StringBuilder s = new StringBuilder();
            for (int i : nodes) {
                assertAlive(i);
                Optional<GetStatusResponse> st = statuses.get(i);
                s.append(" node").append(i).append('=').append(st.map(r -> "h" + r.getHeight() + "/v" + r.getView()
                        + " peers" + r.getPeersConnectedList()).orElse("down"));
                ready &= st.isPresent() && st.get().getPeersConnectedList().containsAll(
                        nodes.stream().filter(j -> j != st.get().getReplica()).toList());
            }
            seen = s.toString();
            if (ready) {
                return;
            }
            sleep(200);
        }
        throw new AssertionError("cluster not ready within " + timeout + ":" + seen);
    }

    public void awaitReady(Duration timeout) {
        List<Integer> all = new ArrayList<>();
        for (int i = 0; i < options.n(); i++) {
            all.add(i);
        }
        awaitReady(timeout, all);
    }

    /** Polls until every node reports the same height of at least {@code min}; returns their statuses. */
    public List<GetStatusResponse> awaitSameHeight(long min, Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        List<Optional<GetStatusResponse>> last = List.of();
        while (System.nanoTime() < deadline) {
            last = statuses();
            if (last.stream().allMatch(Optional::isPresent)) {
                long h = last.get(0).get().getHeight();
                if (h >= min && last.stream().allMatch(s -> s.get().getHeight() == h)) {
                    return last.stream().map(Optional::get).toList();
                }
            }
            sleep(200);
        }
        throw new AssertionError("nodes did not converge to one height >= " + min + " within " + timeout + ": "
                + last.stream().map(s -> s.map(r -> "h" + r.getHeight() + "/v" + r.getView()).orElse("down")).toList());
    }

    /** Polls until every node answers status (connected or not); fails with what it saw. */
    public void awaitAnswering(Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (System.nanoTime() < deadline) {
            if (statuses().stream().allMatch(Optional::isPresent)) {
                return;
            }
            for (int i = 0; i < options.n(); i++) {
                assertAlive(i);
            }
            sleep(200);
        }
        throw new AssertionError("nodes not all answering within " + timeout + ":" + describe());
    }

    /**
     * Runs the bftledger CLI ({@code Main args}) where the client sits (the client host in a
     * namespace network, this machine on loopback) and returns what it printed on stdout; the CLI
     * then reaches the nodes at their genesis addresses. Bounded by {@code timeout}.
     */
    public String runInClientHost(Duration timeout, String... args) throws IOException, InterruptedException {
        // Full JIT (unlike the nodes here): an online audit of a long chaos run checks hundreds of
        // thousands of signatures, about three times slower in C1-only code.
        List<String> command = new ArrayList<>(List.of(java(), "-Xmx128m", "-XX:+UseSerialGC",
                "--add-opens", "java.base/java.nio=ALL-UNNAMED", "--add-opens", "java.base/sun.nio.ch=ALL-UNNAMED",
                "-cp", classpath, Main.class.getName()));
        command.addAll(List.of(args));
        Path out = Files.createTempFile(dir, "cli", ".out");
        ProcessBuilder pb = new ProcessBuilder(command).redirectOutput(out.toFile())
                .redirectError(ProcessBuilder.Redirect.appendTo(dir.resolve("cli" + suffix + ".log").toFile()));
        Process p = net == null ? pb.start() : net.start(options.n(), pb);
        if (!p.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
            p.destroyForcibly();
            p.waitFor(10, TimeUnit.SECONDS);
            throw new IOException("bftledger " + String.join(" ", args) + " did not finish within " + timeout);
        }
        return Files.readString(out);
    }

    /** Node i's log so far ("" before its first start). */
    public String logText(int i) throws IOException {
        return Files.exists(log(i)) ? Files.readString(log(i)) : "";
    }

    /** Waits for node i's process to end by itself; its exit code. */
    public int awaitExit(int i, Duration timeout) throws InterruptedException {
        Process p = processes[i];
        if (!p.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
            throw new AssertionError("node" + i + " still runs after " + timeout + "; see " + log(i));
        }
        return p.exitValue();
    }

    public void assertAlive(int i) {
        if (processes[i] != null && !processes[i].isAlive()) {
            throw new AssertionError("node" + i + " exited with " + processes[i].exitValue() + "; see " + log(i));
        }
    }

    /** The primary as the given nodes see it: the one reported by most of them, or -1 if none answers. */
    public int primary(Collection<Integer> nodes) {
        List<Optional<GetStatusResponse>> statuses = statuses();
        int[] votes = new int[options.n()];
        for (int i : nodes) {
            statuses.get(i).ifPresent(s -> votes[s.getPrimary() % votes.length]++);
        }
        int best = -1;
        for (int p = 0; p < votes.length; p++) {
            if (votes[p] > 0 && (best < 0 || votes[p] > votes[best])) {
                best = p;
            }
        }
        return best;
    }

    /** A short human summary of every node's status, for failure messages. */
    public String describe() {
        StringBuilder s = new StringBuilder();
        List<Optional<GetStatusResponse>> statuses = statuses();
        for (int i = 0; i < options.n(); i++) {
            s.append(" node").append(i).append('=').append(statuses.get(i).map(r -> "h" + r.getHeight() + "/v" + r.getView()
                    + (r.getViewChanging() ? "(vc)" : "") + " tip " + Digest.of(r.getLastBlockHash().toByteArray()).shortHex())
                    .orElse(running(i) ? "no answer" : "down"));
        }
        return s.toString();
    }

    static ByteString bytes(PublicKey key) {
        return ByteString.copyFrom(key.bytes());
    }

    private static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted", e);
        }
    }

    private void keepLogs() {
        try {
            Path to = Path.of("target", "scenario-logs", dir.getFileName() + suffix + "-" + System.currentTimeMillis());
            Files.createDirectories(to);
            for (int i = 0; i < processes.length; i++) {
                if (Files.exists(log(i))) {
                    Files.copy(log(i), to.resolve("node" + i + ".log"));
                }
            }
            if (Files.exists(dir.resolve("relay" + suffix + ".log"))) {
                Files.copy(dir.resolve("relay" + suffix + ".log"), to.resolve("relay.log"));
            }
        } catch (IOException e) {
            System.err.println("could not keep the scenario logs: " + e);
        }
    }

    @Override
    public void close() throws IOException {
        IOException first = null;
        try {
            pauser.close();
        } catch (IOException e) {
            first = e;
        }
        if (client != null) {
            client.close();
        }
        for (ManagedChannel c : channels) {
            c.shutdownNow();
        }
        for (Process p : processes) {
            if (p != null && p.isAlive()) {
                p.destroy();
            }
        }
        for (Process p : processes) {
            if (p == null) {
                continue;
            }
            try {
                if (!p.waitFor(15, TimeUnit.SECONDS)) {
                    p.destroyForcibly();
                    p.waitFor(10, TimeUnit.SECONDS);
                }
            } catch (InterruptedException e) {
                p.destroyForcibly();
                Thread.currentThread().interrupt();
            }
        }
        if (relay != null) {
            relay.destroyForcibly();
        }
        for (FaultProxy p : proxies) {
            p.close();
        }
        if (net != null) {
            try {
                net.close();
            } catch (IOException e) {
                first = first == null ? e : first;
            }
        }
        keepLogs();
        if (first != null) {
            throw first;
        }
    }
}
