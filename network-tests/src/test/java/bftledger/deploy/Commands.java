package bftledger.deploy;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** Runs the project's scripts and tools from tests: bounded in time, output captured, the process killed when over. */
final class Commands {
    private Commands() {}

    record Result(int exitCode, String output) {}

    /** The repository root (tests run in the module's directory). */
    static Path root() {
        return Path.of("").toAbsolutePath().getParent();
    }

    static Result run(Path workDir, long timeoutSeconds, List<String> command) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(command).directory(workDir.toFile()).redirectErrorStream(true).start();
        StringBuilder out = new StringBuilder();
        Thread reader = new Thread(() -> {
            try {
                out.append(new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8));
            } catch (IOException ignored) {
                // the process was killed; what was read so far is kept
            }
        });
        reader.start();
        if (!p.waitFor(timeoutSeconds, TimeUnit.SECONDS)) {
            p.descendants().forEach(ProcessHandle::destroyForcibly);
            p.destroyForcibly();
            p.waitFor(10, TimeUnit.SECONDS);
            reader.join(5_000);
            throw new AssertionError("over " + timeoutSeconds + " s: " + String.join(" ", command) + "\n" + out);
        }
        reader.join(10_000);
        return new Result(p.exitValue(), out.toString());
    }

    /** Runs {@code command} and fails with its output unless it exits 0; returns the output. */
    static String ok(Path workDir, long timeoutSeconds, List<String> command) throws IOException, InterruptedException {
        Result r = run(workDir, timeoutSeconds, command);
        if (r.exitCode() != 0) {
            throw new AssertionError("exit " + r.exitCode() + ": " + String.join(" ", command) + "\n" + r.output());
        }
        return r.output();
    }

    /** Whether {@code tool} runs here ({@code tool args} exits 0). */
    static boolean available(String... toolAndArgs) {
        try {
            Process p = new ProcessBuilder(toolAndArgs).redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
            return p.waitFor(60, TimeUnit.SECONDS) && p.exitValue() == 0;
        } catch (IOException | InterruptedException e) {
            return false;
        }
    }
}
