package bftledger.netfault;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStreamWriter;
import java.io.Writer;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/** Test-side handle on a running {@link Probe} (or {@link FaultProxy#main}) JVM: one command, one answer. */
final class ProbeProcess implements AutoCloseable {
    /** Bound on any single answer, including JVM start-up on a loaded 2-core machine. */
    static final long ANSWER_TIMEOUT_SECONDS = 60;

    final Process process;
    private final Writer stdin;
    private final BlockingQueue<String> lines = new LinkedBlockingQueue<>();
    final String firstLine;

    private ProbeProcess(Process process) throws IOException {
        this.process = process;
        this.stdin = new OutputStreamWriter(process.getOutputStream(), StandardCharsets.UTF_8);
        Thread reader = new Thread(() -> {
            try (BufferedReader r = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
                String line;
                while ((line = r.readLine()) != null) {
                    lines.add(line);
                }
            } catch (IOException e) {
                // The process died; answer() reports the missing line.
            }
        }, "probe-stdout-" + process.pid());
        reader.setDaemon(true);
        reader.start();
        this.firstLine = answer();
    }

    /** The java command line running {@code mainClass} from this test's classes (JDK only). */
    static List<String> javaCommand(Class<?> mainClass, String... args) {
        String javaBin = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        String classes;
        try {
            classes = Path.of(Probe.class.getProtectionDomain().getCodeSource().getLocation().toURI()).toString();
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
        String main;
        try {
            main = Path.of(FaultProxy.class.getProtectionDomain().getCodeSource().getLocation().toURI()).toString();
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
        List<String> cmd = new java.util.ArrayList<>(List.of(javaBin, "-Xmx48m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
                "-Xshare:auto", "-cp", classes + java.io.File.pathSeparator + main, mainClass.getName()));
        cmd.addAll(List.of(args));
        return cmd;
    }

    /** Wraps an already started process whose first stdout line is its readiness line. */
    static ProbeProcess attach(Process p) throws IOException {
        return new ProbeProcess(p);
    }

    /** Starts a Probe in this (root) namespace. */
    static ProbeProcess startLocal(int tcpPort, int udpPort) throws IOException {
        ProcessBuilder pb = new ProcessBuilder(javaCommand(Probe.class, Integer.toString(tcpPort), Integer.toString(udpPort)));
        pb.redirectError(ProcessBuilder.Redirect.INHERIT);
        return new ProbeProcess(pb.start());
    }

    /** Starts a Probe on host i of the network. */
    static ProbeProcess startOn(NetnsNetwork net, int host, int tcpPort, int udpPort) throws IOException {
        ProcessBuilder pb = new ProcessBuilder(javaCommand(Probe.class, Integer.toString(tcpPort), Integer.toString(udpPort)));
        pb.redirectError(ProcessBuilder.Redirect.INHERIT);
        return new ProbeProcess(net.start(host, pb));
    }

    String command(String line) throws IOException {
        stdin.write(line + "\n");
        stdin.flush();
        return answer();
    }

    private String answer() throws IOException {
        try {
            String l = lines.poll(ANSWER_TIMEOUT_SECONDS, TimeUnit.SECONDS);
            if (l == null) {
                throw new IOException("no answer from pid " + process.pid() + " within " + ANSWER_TIMEOUT_SECONDS
                        + " s (alive: " + process.isAlive() + ")");
            }
            return l;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted", e);
        }
    }

    int tcpPort() {
        return Integer.parseInt(firstLine.split(" ")[1]);
    }

    int udpPort() {
        return Integer.parseInt(firstLine.split(" ")[2]);
    }

    @Override
    public void close() {
        process.descendants().forEach(ProcessHandle::destroyForcibly);
        process.destroyForcibly();
        try {
            process.waitFor(10, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
