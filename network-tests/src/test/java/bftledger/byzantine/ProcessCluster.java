package bftledger.byzantine;

import bftledger.api.proto.GetStatusResponse;
import bftledger.node.cli.Main;
import bftledger.sdk.LedgerClient;
import bftledger.sdk.Network;
import java.io.IOException;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

/**
 * Real node JVMs on loopback, some of them Byzantine: init through the CLI, one process per
 * node from the test classpath (honest: the node CLI; Byzantine: {@link ByzantineNodeMain}),
 * readiness by polling status, every process stopped by its own handle in {@link #close}.
 */
final class ProcessCluster implements AutoCloseable {
    final Path dir;
    final int n;
    final Process[] processes;
    private final String classpath;

    ProcessCluster(Path dir, int n) throws IOException {
        this.dir = dir;
        this.n = n;
        this.processes = new Process[n];
        String cp = System.getProperty("surefire.test.class.path");
        this.classpath = cp != null && !cp.isBlank() ? cp : System.getProperty("java.class.path");
        int base = freeRange(n);
        int rc = Main.run("init", "--nodes", Integer.toString(n), "--dir", dir.toString(), "--base-port", Integer.toString(base),
                "--metrics-base-port", "0", "--accounts", "4", "--balance", "1000000000");
        if (rc != 0) {
            throw new IllegalStateException("bftledger init failed with exit code " + rc);
        }
    }

    private static int freeRange(int n) throws IOException {
        for (int attempt = 0; attempt < 50; attempt++) {
            int base;
            try (ServerSocket s = new ServerSocket(0)) {
                base = s.getLocalPort();
            }
            if (base + n > 65535) {
                continue;
            }
            boolean free = true;
            for (int p = base; p < base + n && free; p++) {
                try (ServerSocket s = new ServerSocket(p, 1, java.net.InetAddress.getLoopbackAddress())) {
                    s.setReuseAddress(true);
                } catch (IOException e) {
                    free = false;
                }
            }
            if (free) {
                return base;
            }
        }
        throw new IOException("no run of " + n + " free ports found");
    }

    Path genesis() {
        return dir.resolve("genesis.bin");
    }

    Path account(int j) {
        return dir.resolve("accounts").resolve("account" + j + ".key");
    }

    Path log(int i) {
        return dir.resolve("node" + i + ".log");
    }

    Network network() throws IOException {
        return Network.fromGenesisBytes(Files.readAllBytes(genesis()));
    }

    private List<String> java() {
        return new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Xmx192m", "-XX:+UseSerialGC", "-XX:ActiveProcessorCount=1", "-XX:TieredStopAtLevel=1",
                "--add-opens", "java.base/java.nio=ALL-UNNAMED", "--add-opens", "java.base/sun.nio.ch=ALL-UNNAMED",
                "-cp", classpath));
    }

    void startHonest(int i) throws IOException {
        List<String> cmd = java();
        cmd.addAll(List.of(Main.class.getName(), "node", "start", "--config", config(i)));
        processes[i] = launch(cmd, log(i));
    }

    void startByzantine(int i, String strategy, long seed) throws IOException {
        List<String> cmd = java();
        cmd.addAll(List.of(ByzantineNodeMain.class.getName(), "--config", config(i), "--strategy", strategy, "--seed",
                Long.toString(seed)));
        processes[i] = launch(cmd, log(i));
    }

    private String config(int i) {
        return dir.resolve("node" + i).resolve("node.properties").toString();
    }

    private static Process launch(List<String> cmd, Path log) throws IOException {
        ProcessBuilder pb = new ProcessBuilder(cmd);
        pb.redirectErrorStream(true);
        pb.redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()));
        return pb.start();
    }

    /** Runs the CLI in its own JVM (as an operator would) and returns its exit code and stdout. */
    record CliResult(int exitCode, String out) {}

    CliResult cli(Duration timeout, String... args) throws IOException, InterruptedException {
        List<String> cmd = java();
        cmd.add(Main.class.getName());
        cmd.addAll(List.of(args));
        Path out = Files.createTempFile(dir, "cli", ".out");
        ProcessBuilder pb = new ProcessBuilder(cmd);
        pb.redirectOutput(out.toFile());
        pb.redirectError(ProcessBuilder.Redirect.appendTo(dir.resolve("cli.err").toFile()));
        Process p = pb.start();
        try {
            if (!p.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
                throw new AssertionError("bftledger " + String.join(" ", args) + " did not finish within " + timeout);
            }
        } finally {
            if (p.isAlive()) {
                p.destroyForcibly();
                p.waitFor(10, TimeUnit.SECONDS);
            }
        }
        return new CliResult(p.exitValue(), Files.readString(out, StandardCharsets.UTF_8));
    }

    /** Polls until every node in {@code nodes} answers status and sees the others, or fails with what it saw. */
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
                s.append(" node").append(i).append('=').append(st.map(r -> "peers" + r.getPeersConnectedList()).orElse("down"));
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

    /** Polls until the nodes in {@code nodes} report one height of at least {@code min} and one tip; returns their statuses. */
    List<GetStatusResponse> awaitAgreement(LedgerClient client, long min, Duration timeout, int... nodes)
            throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        List<Optional<GetStatusResponse>> last = List.of();
        while (System.nanoTime() < deadline) {
            last = client.statuses(Duration.ofSeconds(2));
            List<GetStatusResponse> out = new ArrayList<>();
            for (int i : nodes) {
                last.get(i).ifPresent(out::add);
            }
            if (out.size() == nodes.length && out.get(0).getHeight() >= min
                    && out.stream().allMatch(s -> s.getHeight() == out.get(0).getHeight()
                            && s.getLastBlockHash().equals(out.get(0).getLastBlockHash()))) {
                return out;
            }
            Thread.sleep(200);
        }
        throw new AssertionError("nodes " + java.util.Arrays.toString(nodes) + " did not agree on one tip >= " + min
                + " within " + timeout + ": " + last.stream().map(s -> s.map(r -> "h" + r.getHeight() + "/v" + r.getView())
                        .orElse("down")).toList());
    }

    void assertAlive(int i) {
        if (processes[i] != null && !processes[i].isAlive()) {
            throw new AssertionError("node" + i + " exited with " + processes[i].exitValue() + "; see " + log(i));
        }
    }

    /** SIGTERM every process this cluster started (by its own handle), then SIGKILL what is left. */
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
                if (!p.waitFor(20, TimeUnit.SECONDS)) {
                    p.destroyForcibly();
                    p.waitFor(10, TimeUnit.SECONDS);
                }
            } catch (InterruptedException e) {
                p.destroyForcibly();
                Thread.currentThread().interrupt();
            }
        }
    }
}
