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
