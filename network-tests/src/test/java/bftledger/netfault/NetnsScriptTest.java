package bftledger.netfault;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * scripts/netns.sh refusing to run: exit 3 with the reason. These create no namespace, so they
 * run anywhere bash runs; the not-root case needs root to drop to another user.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class NetnsScriptTest {
    private static final long NOBODY = 65534;

    private record Run(int exit, String output) {}

    private static Run run(List<String> command, Optional<Path> pathOnly) throws IOException, InterruptedException {
        ProcessBuilder pb = new ProcessBuilder(command).redirectErrorStream(true);
        pathOnly.ifPresent(dir -> pb.environment().put("PATH", dir.toString()));
        Process p = pb.start();
        assertTrue(p.waitFor(30, TimeUnit.SECONDS), "netns.sh hung");
        return new Run(p.exitValue(), new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8));
    }

    private static String script() throws IOException {
        return NetnsScript.require().toString();
    }

    private static boolean root() throws IOException {
        return Files.readAllLines(Path.of("/proc/self/status")).stream()
                .anyMatch(l -> l.startsWith("Uid:") && l.substring(4).trim().startsWith("0"));
    }

    @Test
    void refusesWithExitThreeWhenIptablesIsMissing() throws Exception {
        Path bin = Files.createTempDirectory("netns-path");
        try {
            refusesWithoutIptables(bin);
        } finally {
            try (var links = Files.list(bin)) {
                for (Path l : (Iterable<Path>) links::iterator) {
                    Files.delete(l);
                }
            }
            Files.delete(bin);
        }
    }

    private void refusesWithoutIptables(Path bin) throws Exception {
        // A PATH holding everything the script needs except iptables.
        for (String tool : List.of("bash", "id", "awk", "grep", "cut", "sed", "tr", "head", "cat", "rm", "seq", "sort", "ip", "kill")) {
            Optional<Path> found = which(tool);
            if (found.isPresent()) {
                Files.createSymbolicLink(bin.resolve(tool), found.get());
            }
        }
        Assumptions.assumeTrue(Files.exists(bin.resolve("bash")), "bash not found");
        Run r = run(List.of(bin.resolve("bash").toString(), script(), "status", "--name", "x"), Optional.of(bin));
        assertEquals(3, r.exit(), r.output());
        // As root the missing tool is named; as anyone else, the missing privilege comes first.
        assertTrue(r.output().contains(root() ? (Files.exists(bin.resolve("ip")) ? "iptables" : "ip (iproute2)") : "root"), r.output());
    }

    @Test
    void refusesWithExitThreeWhenNotRoot() throws Exception {
        Optional<Path> setpriv = which("setpriv");
        Assumptions.assumeTrue(root() && setpriv.isPresent(), "needs root and setpriv to run the script as another user");
        List<String> cmd = new ArrayList<>(List.of(setpriv.get().toString(), "--reuid=" + NOBODY, "--regid=" + NOBODY,
                "--clear-groups", "bash", script(), "up", "--name", "x", "--hosts", "1"));
        Run r = run(cmd, Optional.empty());
        assertEquals(3, r.exit(), r.output());
        assertTrue(r.output().contains("must run as root"), r.output());
    }

    @Test
    void usageErrorsExitTwo() throws Exception {
        Run unknown = run(List.of("bash", script(), "frobnicate"), Optional.empty());
        assertEquals(2, unknown.exit(), unknown.output());
        assertTrue(unknown.output().contains("unknown command"), unknown.output());
        if (root() && NetnsSupport.check().isEmpty()) {
            Run badName = run(List.of("bash", script(), "up", "--name", "a-b", "--hosts", "1"), Optional.empty());
            assertEquals(2, badName.exit(), badName.output());
            Run badHosts = run(List.of("bash", script(), "up", "--name", "ab", "--hosts", "65"), Optional.empty());
            assertEquals(2, badHosts.exit(), badHosts.output());
        }
    }

    private static Optional<Path> which(String tool) {
        for (String dir : (System.getenv("PATH") + ":/usr/sbin:/sbin:/usr/bin:/bin").split(":")) {
            Path p = Path.of(dir, tool);
            if (!dir.isEmpty() && Files.isExecutable(p)) {
                return Optional.of(p);
            }
        }
        return Optional.empty();
    }
}
