package bftledger.node;

import bftledger.api.proto.GetStatusResponse;
import bftledger.node.cli.Main;
import bftledger.sdk.LedgerClient;
import bftledger.sdk.Network;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

/**
 * Real node JVMs on loopback for tests: init through the CLI, one process per node started
 * from the test classpath, readiness by polling status, and every process stopped by its own
 * handle (SIGTERM, then SIGKILL) in {@link #close}.
 */
final class LocalCluster implements AutoCloseable {
    final Path dir;
    final int n;
    final Process[] processes;
    private final String classpath;

    LocalCluster(Path dir, int n) throws IOException {
        this.dir = dir;
        this.n = n;
        this.processes = new Process[n];
        String cp = System.getProperty("surefire.test.class.path");
        this.classpath = cp != null && !cp.isBlank() ? cp : System.getProperty("java.class.path");
        // One run for both, so the metrics ports cannot land on the gRPC ports picked just before.
        int base = LoopbackPorts.freeRange(2 * n);
        int metricsBase = base + n;
        int rc = Main.run("init", "--nodes", Integer.toString(n), "--dir", dir.toString(), "--base-port", Integer.toString(base),
                "--metrics-base-port", Integer.toString(metricsBase), "--accounts", "4", "--balance", "1000000000");
        if (rc != 0) {
            throw new IllegalStateException("bftledger init failed with exit code " + rc);
        }
    }

    Path genesis() {
        return dir.resolve("genesis.bin");
    }

    Path account(int j) {
        return dir.resolve("accounts").resolve("account" + j + ".key");
    }

    Path data(int i) {
        return dir.resolve("node" + i).resolve("data");
    }

    Network network() throws IOException {
        return Network.fromGenesisBytes(Files.readAllBytes(genesis()));
    }

    void start(int i) throws IOException {
        Path log = dir.resolve("node" + i + ".log");
        ProcessBuilder pb = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Xmx192m", "-XX:+UseSerialGC", "-XX:ActiveProcessorCount=1", "-XX:TieredStopAtLevel=1",
                "--add-opens", "java.base/java.nio=ALL-UNNAMED", "--add-opens", "java.base/sun.nio.ch=ALL-UNNAMED",
                "-cp", classpath, Main.class.getName(), "node", "start", "--config",
                dir.resolve("node" + i).resolve("node.properties").toString());
        pb.redirectErrorStream(true);
        pb.redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()));
        processes[i] = pb.start();
    }

    void startAll() throws IOException {
        for (int i = 0; i < n; i++) {
            start(i);
        }
    }

    /** SIGKILL: the process gets no chance to flush or close anything. */
    void kill(int i) throws InterruptedException {
        Process p = processes[i];
        if (p != null) {
            p.destroyForcibly();
            p.waitFor(20, TimeUnit.SECONDS);
        }
    }

    /** SIGTERM and wait for the clean shutdown; returns the exit code. */
    int stop(int i) throws InterruptedException {
        Process p = processes[i];
        p.destroy();
        if (!p.waitFor(30, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            p.waitFor(10, TimeUnit.SECONDS);
            throw new AssertionError("node" + i + " did not stop within 30 s of SIGTERM; see " + dir.resolve("node" + i + ".log"));
        }
        return p.exitValue();
    }

    /** Polls until every node in {@code nodes} answers status and sees all its peers, or fails with what it saw. */
    void awaitReady(LedgerClient client, Duration timeout, int... nodes) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        String seen = "";
        while (System.nanoTime() < deadline) {
            List<Optional<GetStatusResponse>> statuses = client.statuses(Duration.ofSeconds(2));
            boolean ready = true;
            StringBuilder s = new StringBuilder();
            for (int i : nodes) {
                assertAlive(i);
                Optional<GetStatusResponse> st = statuses.get(i);
                s.append(" node").append(i).append('=').append(st.map(r -> "h" + r.getHeight() + " peers" + r.getPeersConnectedList())
                        .orElse("down"));
                ready &= st.isPresent() && st.get().getPeersConnectedCount() >= nodes.length - 1;
            }
            seen = s.toString();
            if (ready) {
                return;
            }
            Thread.sleep(200);
        }
        throw new AssertionError("cluster not ready within " + timeout + ":" + seen);
    }

    /** Polls until all nodes report the same height of at least {@code min}; returns the statuses. */
    List<GetStatusResponse> awaitSameHeight(LedgerClient client, long min, Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        List<Optional<GetStatusResponse>> last = List.of();
        while (System.nanoTime() < deadline) {
            last = client.statuses(Duration.ofSeconds(2));
            if (last.stream().allMatch(Optional::isPresent)) {
                long h = last.get(0).get().getHeight();
                if (h >= min && last.stream().allMatch(s -> s.get().getHeight() == h)) {
                    List<GetStatusResponse> out = new ArrayList<>();
                    last.forEach(s -> out.add(s.get()));
                    return out;
                }
            }
            Thread.sleep(200);
        }
        throw new AssertionError("nodes did not converge to one height >= " + min + " within " + timeout + ": "
                + last.stream().map(s -> s.map(r -> "h" + r.getHeight() + "/v" + r.getView()).orElse("down")).toList());
    }

    /** Submits {@code count} transfers among the demo accounts, at most {@code window} in flight; all must commit. Their ids. */
    List<bftledger.crypto.Digest> transfers(LedgerClient client, java.util.SplittableRandom random, int count, int window)
            throws Exception {
        List<bftledger.crypto.KeyPair> senders = new ArrayList<>();
        for (int j = 0; j < 4; j++) {
            senders.add(bftledger.crypto.KeyFiles.readKeyPair(account(j)));
        }
        java.util.concurrent.Semaphore inFlight = new java.util.concurrent.Semaphore(window);
        List<java.util.concurrent.CompletableFuture<bftledger.sdk.Committed>> results = new ArrayList<>();
        for (int t = 0; t < count; t++) {
            bftledger.crypto.KeyPair from = senders.get(random.nextInt(senders.size()));
            inFlight.acquire();
            var f = client.submitAsync(client.transactions().transfer(from,
                    bftledger.crypto.KeyPair.deterministic("payee" + random.nextInt(20)).publicKey(), 1 + random.nextInt(9)),
                    Duration.ofSeconds(120));
            f.whenComplete((c, e) -> inFlight.release());
            results.add(f);
        }
        List<bftledger.crypto.Digest> acked = new ArrayList<>();
        for (var f : results) {
            acked.add(f.get(150, TimeUnit.SECONDS).txId());
        }
        return acked;
    }

    /** Node i's log so far. */
    String log(int i) throws IOException {
        Path log = dir.resolve("node" + i + ".log");
        return Files.exists(log) ? Files.readString(log) : "";
    }

    /** Waits for node i's process to end by itself; its exit code. */
    int awaitExit(int i, Duration timeout) throws InterruptedException {
        Process p = processes[i];
        if (!p.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
            throw new AssertionError("node" + i + " still runs after " + timeout + "; see " + dir.resolve("node" + i + ".log"));
        }
        return p.exitValue();
    }

    /** Sets {@code key} in node i's node.properties (the node reads it at its next start). */
    void configure(int i, String key, String value) throws IOException {
        Path file = dir.resolve("node" + i).resolve("node.properties");
        java.util.Properties props = new java.util.Properties();
        try (var in = Files.newInputStream(file)) {
            props.load(in);
        }
        props.setProperty(key, value);
        try (var out = Files.newOutputStream(file)) {
            props.store(out, "bftledger node config");
        }
    }

    /** Node i's Prometheus metrics, as scraped. */
    String metrics(int i) throws IOException, InterruptedException {
        java.util.Properties props = new java.util.Properties();
        try (var in = Files.newInputStream(dir.resolve("node" + i).resolve("node.properties"))) {
            props.load(in);
        }
        int port = Integer.parseInt(props.getProperty("metrics.port"));
        return java.net.http.HttpClient.newHttpClient().send(java.net.http.HttpRequest
                .newBuilder(java.net.URI.create("http://127.0.0.1:" + port + "/metrics")).timeout(Duration.ofSeconds(10)).build(),
                java.net.http.HttpResponse.BodyHandlers.ofString()).body();
    }

    /** The value of metric {@code name} (tagged or not) in a scrape; fails when absent. */
    static double gauge(String metrics, String name) {
        for (String line : metrics.split("\n")) {
            if (line.startsWith(name + "{") || line.startsWith(name + " ")) {
                return Double.parseDouble(line.substring(line.lastIndexOf(' ') + 1));
            }
        }
        throw new AssertionError("no " + name + " in metrics");
    }

    /** Every acknowledged id is found through the client (f+1 replicas agree). */
    static void assertAllPresent(LedgerClient client, List<bftledger.crypto.Digest> acknowledged, String why) throws Exception {
        for (bftledger.crypto.Digest id : acknowledged) {
            if (client.transaction(id, Duration.ofSeconds(30)).isEmpty()) {
                throw new AssertionError(why + ": acknowledged " + id + " lost");
            }
        }
    }

    /** Stops every node (SIGTERM), then the offline audit must pass on each data directory. */
    void stopAllAndAudit() throws InterruptedException {
        for (int i = 0; i < n; i++) {
            if (processes[i] != null && processes[i].isAlive()) {
                stop(i);
            }
        }
        for (int i = 0; i < n; i++) {
            int rc = Main.run("audit", "--data", data(i).toString(), "--genesis", genesis().toString(), "--json");
            if (rc != 0) {
                throw new AssertionError("offline audit of node" + i + " exited " + rc);
            }
        }
    }

    void assertAlive(int i) {
        if (processes[i] != null && !processes[i].isAlive()) {
            throw new AssertionError("node" + i + " exited with " + processes[i].exitValue() + "; see "
                    + dir.resolve("node" + i + ".log"));
        }
    }

    /** Keeps the node logs under target/cluster-logs/ for a look after a failure. */
    private void keepLogs() {
        try {
            Path to = Path.of("target", "cluster-logs", dir.getParent().getFileName() + "-" + System.currentTimeMillis());
            Files.createDirectories(to);
            for (int i = 0; i < n; i++) {
                Path log = dir.resolve("node" + i + ".log");
                if (Files.exists(log)) {
                    Files.copy(log, to.resolve("node" + i + ".log"));
                }
            }
        } catch (IOException e) {
            System.err.println("could not keep the cluster logs: " + e);
        }
    }

    @Override
    public void close() {
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
        keepLogs();
    }
}
