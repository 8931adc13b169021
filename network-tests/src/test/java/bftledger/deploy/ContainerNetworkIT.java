package bftledger.deploy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Path;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The container network end to end, as {@code scripts/containernet.sh} runs it: the image built
 * without a Docker daemon, four containers on a podman bridge network addressed by their names
 * in genesis, TLS on; then the demo's flow from the host (signed transactions through the SDK,
 * the primary's container restarted as an equivocating Byzantine node, a view change, the online
 * audit naming it). Also checks the containers' runtime contract: non-root, read-only root
 * filesystem, heap sized from the memory limit. Needs root; podman, runc and mmdebstrap are
 * installed when missing, and the test is skipped, saying why, only when that is impossible.
 * Everything it starts is removed by name ({@code containernet.sh down}). An integration test
 * (failsafe, after {@code package}): the images are built from this reactor's two jars.
 */
class ContainerNetworkIT {
    private static final String PREFIX = "bftledger-citest";

    @TempDir
    Path tmp;

    @BeforeAll
    static void podman() throws Exception {
        if (!"root".equals(System.getProperty("user.name"))) {
            skip("not root (podman here runs containers as root)");
        }
        Commands.Result r = Commands.run(Commands.root(), 600,
                List.of("bash", "-c", "source scripts/lib/podman.sh && pm_require && pm info --format '{{.Host.OCIRuntime.Name}}'"));
        if (r.exitCode() != 0) {
            skip("podman, runc or mmdebstrap cannot be installed: " + r.output().strip());
        }
    }

    private static void skip(String why) {
        System.out.println("ContainerNetworkIT skipped: " + why);
        Assumptions.abort(why);
    }

    @Test
    @Timeout(1_500)
    void theDemoFlowPassesAgainstTheContainersWithTls() throws Exception {
        Path dir = tmp.resolve("containernet");
        int hostPort = freeRange();
        List<String> script = List.of("bash", "scripts/containernet.sh");
        try {
            String up = Commands.ok(Commands.root(), 1_200, concat(script, "up", "--dir", dir.toString(), "--prefix", PREFIX,
                    "--host-port", Integer.toString(hostPort), "--memory", "448m"));
            assertTrue(up.contains("The network is up"), up);
            for (int i = 0; i < 4; i++) {
                String runtime = Commands.ok(Commands.root(), 60, List.of("podman", "--runtime", "runc", "--cgroup-manager",
                        "cgroupfs", "inspect", "-f", "{{.Config.User}} {{.HostConfig.ReadonlyRootfs}}", PREFIX + "-node" + i)).strip();
                assertEquals("10001:10001 true", runtime, "node" + i + " runs as the image's user on a read-only root");
            }
            String demo = Commands.ok(Commands.root(), 600, concat(script, "demo", "--dir", dir.toString()));
            assertTrue(demo.contains("CONTAINERNET DEMO PASSED"), demo);
            String settings = Commands.ok(Commands.root(), 120, List.of("bash", "-c", "source scripts/lib/podman.sh && pm run --rm"
                    + " $(pm_ulimits) --read-only --memory 1000m localhost/bftledger:latest jvm-settings"));
            Matcher heap = Pattern.compile("Max\\. Heap Size \\(Estimated\\): ([0-9.]+)M").matcher(settings);
            assertTrue(heap.find(), settings);
            double heapMb = Double.parseDouble(heap.group(1));
            assertTrue(heapMb > 500 && heapMb < 620, "60% of a 1000 MB limit, got " + heapMb + " MB:\n" + settings);
        } finally {
            String down = Commands.ok(Commands.root(), 300, concat(script, "down", "--dir", dir.toString()));
            assertTrue(down.contains("removed"), down);
            String left = Commands.ok(Commands.root(), 60, List.of("podman", "--runtime", "runc", "--cgroup-manager", "cgroupfs",
                    "ps", "-a", "--filter", "name=" + PREFIX, "--format", "{{.Names}}"));
            assertEquals("", left.strip(), "containers left behind");
        }
    }

    private static List<String> concat(List<String> head, String... tail) {
        List<String> out = new java.util.ArrayList<>(head);
        out.addAll(List.of(tail));
        return out;
    }

    /** Eight consecutive loopback ports free now (gRPC and metrics of four nodes), below the ephemeral range. */
    private static int freeRange() throws IOException {
        java.util.Random random = new java.util.Random();
        for (int attempt = 0; attempt < 200; attempt++) {
            int base = 21_000 + random.nextInt(6_000);
            boolean free = true;
            for (int p : new int[] {base, base + 1, base + 2, base + 3, base + 2000, base + 2001, base + 2002, base + 2003}) {
                try (ServerSocket s = new ServerSocket(p, 1, InetAddress.getLoopbackAddress())) {
                    s.setReuseAddress(true);
                } catch (IOException e) {
                    free = false;
                    break;
                }
            }
            if (free) {
                return base;
            }
        }
        throw new IOException("no free loopback ports for the container network");
    }
}
