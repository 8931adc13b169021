package bftledger.netfault;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

/**
 * Runs scripts/netns.sh, the one source of truth for namespace and firewall changes: the Java
 * side never issues ip or iptables commands of its own.
 */
final class NetnsScript {
    /** System property naming the script explicitly; otherwise it is found above the working directory. */
    static final String SCRIPT_PROPERTY = "bftledger.netns.script";
    /** Every script run is bounded; a 64-host `up` takes a few seconds. */
    static final Duration RUN_TIMEOUT = Duration.ofSeconds(120);
    private static final int PARENT_LEVELS_MAX = 6;

    record Result(int exitCode, String stdout, String stderr) {}

    private NetnsScript() {}

    /** The script, from the system property or the nearest scripts/netns.sh above user.dir. */
    static Optional<Path> locate() {
        String explicit = System.getProperty(SCRIPT_PROPERTY);
        if (explicit != null && !explicit.isBlank()) {
            Path p = Paths.get(explicit);
            return Files.isRegularFile(p) ? Optional.of(p.toAbsolutePath()) : Optional.empty();
        }
        Path dir = Paths.get(System.getProperty("user.dir")).toAbsolutePath();
        for (int i = 0; dir != null && i < PARENT_LEVELS_MAX; i++, dir = dir.getParent()) {
            Path p = dir.resolve("scripts").resolve("netns.sh");
            if (Files.isRegularFile(p)) {
                return Optional.of(p);
            }
        }
        return Optional.empty();
    }

    static Path require() throws IOException {
        return locate().orElseThrow(() -> new IOException(
                "scripts/netns.sh not found above " + System.getProperty("user.dir")
                        + "; set -D" + SCRIPT_PROPERTY + "=/path/to/netns.sh"));
    }

    /** Runs the script; a non-zero exit is returned, not thrown. */
    static Result run(List<String> args) throws IOException {
        List<String> command = new ArrayList<>();
        command.add("bash");
        command.add(require().toString());
        command.addAll(args);
        Path out = Files.createTempFile("netns-out", ".txt");
        Path err = Files.createTempFile("netns-err", ".txt");
        try {
            // Files rather than pipes: no reader threads, and no deadlock on a chatty stderr.
            Process p = new ProcessBuilder(command)
                    .redirectOutput(out.toFile())
                    .redirectError(err.toFile())
                    .redirectInput(ProcessBuilder.Redirect.from(Path.of("/dev/null").toFile()))
                    .start();
            boolean done;
            try {
                done = p.waitFor(RUN_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                p.descendants().forEach(ProcessHandle::destroyForcibly);
                p.destroyForcibly();
                throw new IOException("interrupted while running " + command, e);
            }
            if (!done) {
                p.descendants().forEach(ProcessHandle::destroyForcibly);
                p.destroyForcibly();
                throw new IOException(command + " did not finish within " + RUN_TIMEOUT);
            }
            return new Result(p.exitValue(),
                    Files.readString(out, StandardCharsets.UTF_8),
                    Files.readString(err, StandardCharsets.UTF_8));
        } finally {
            Files.deleteIfExists(out);
            Files.deleteIfExists(err);
        }
    }

    /** Runs the script and throws {@link NetnsException} with its stderr on a non-zero exit. */
    static String runOrThrow(List<String> args) throws IOException {
        Result r = run(args);
        if (r.exitCode() != 0) {
            throw new NetnsException("netns.sh " + String.join(" ", args), r.exitCode(), r.stderr());
        }
        return r.stdout();
    }
}
