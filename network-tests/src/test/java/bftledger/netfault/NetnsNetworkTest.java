package bftledger.netfault;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Real namespaces, veths and iptables rules: needs root, iproute2 and iptables, and is skipped
 * with the reason otherwise. One 3-host network serves the class (a Probe JVM on each host, TCP
 * echo on 7000, UDP on 7001); faults are healed after each test. Every namespace carries this
 * run's pid in its name and is removed by name in @AfterAll even when a test fails.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class NetnsNetworkTest {
    private static final int TCP = 7000;
    private static final int UDP = 7001;
    /** Short enough to keep the suite quick; a cut link never answers, a healthy one does in microseconds. */
    private static final int CUT_TIMEOUT_MILLIS = 500;
    private static final int HEALTHY_TIMEOUT_MILLIS = 10_000;

    private static final String RUN = "bft" + ProcessHandle.current().pid();
    private static final Pattern LEFTOVER = Pattern.compile("bft([0-9]+)[nd]");
    private static NetnsNetwork net;
    private static final List<ProbeProcess> probes = new ArrayList<>();

    @BeforeAll
    static void up() throws IOException {
        Optional<String> unavailable = NetnsSupport.check();
        if (unavailable.isPresent()) {
            // Also on stderr, so the build log says why these tests did not run.
            System.err.println("NetnsNetworkTest SKIPPED: " + unavailable.get());
        }
        Assumptions.assumeTrue(unavailable.isEmpty(), () -> "network namespaces unavailable: " + unavailable.get());
        removeLeftoversOfDeadRuns();
        net = NetnsNetwork.create(RUN + "n", 3);
        for (int i = 0; i < net.hosts(); i++) {
            probes.add(ProbeProcess.startOn(net, i, TCP, UDP));
        }
    }

    /** Networks named by this test for a pid that no longer runs: a JVM killed before @AfterAll. */
    private static void removeLeftoversOfDeadRuns() throws IOException {
        for (String name : NetnsNetwork.networks()) {
            Matcher m = LEFTOVER.matcher(name);
            if (m.matches() && ProcessHandle.of(Long.parseLong(m.group(1))).isEmpty()) {
                System.err.println("removing network " + name + " left by dead pid " + m.group(1));
                NetnsNetwork.down(name);
            }
        }
    }

    @AfterEach
    void heal() throws IOException {
        if (net != null) {
            net.heal();
        }
    }

    @AfterAll
    static void down() throws IOException {
        for (ProbeProcess p : probes) {
            p.close();
        }
        probes.clear();
        if (net != null) {
            String name = net.name();
            net.close();
            net = null;
            assertNoTrace(name);
        }
    }

    private static String tcp(int from, int to, int port, int timeoutMillis) throws IOException {
        return probes.get(from).command("tcp " + net.address(to) + " " + port + " " + timeoutMillis);
    }

    private static void assertReaches(int from, int to) throws IOException {
        assertEquals("OK", tcp(from, to, TCP, HEALTHY_TIMEOUT_MILLIS), "h" + from + " -> h" + to);
    }

    private static void assertCut(int from, int to) throws IOException {
        String r = tcp(from, to, TCP, CUT_TIMEOUT_MILLIS);
        assertTrue(r.startsWith("FAIL"), "h" + from + " -> h" + to + " should be cut, got " + r);
    }

    /** Sends {@code count} datagrams from one host to another; returns how many arrived. */
    private static int udp(int from, int to, String prefix, int count, long waitMillis) throws IOException {
        assertEquals("SENT " + count, probes.get(from).command("udp " + net.address(to) + " " + UDP + " " + prefix + " " + count));
        String r = probes.get(to).command("count " + prefix + " " + count + " " + waitMillis);
        assertTrue(r.startsWith("COUNT "), r);
        return Integer.parseInt(r.substring(6));
    }

    @Test
    void everyHostReachesEveryOther() throws IOException {
        for (int a = 0; a < 3; a++) {
            for (int b = 0; b < 3; b++) {
                if (a != b) {
                    assertReaches(a, b);
                }
            }
        }
        assertEquals("10.77.0.1", net.address(0));
        assertEquals(RUN + "n-h2", net.namespace(2));
    }

    @Test
    void partitionCutsBetweenGroupsOnlyAndHealRestores() throws IOException {
        net.partition(Set.of(0), Set.of(1, 2));
        assertCut(0, 1);
        assertCut(1, 0);
        assertCut(0, 2);
        assertReaches(1, 2);
        assertReaches(2, 1);

        net.heal();
        assertReaches(0, 1);
        assertReaches(2, 0);
    }

    @Test
    void isolateCutsOneHostFromAll() throws IOException {
        net.isolate(1);
        assertCut(0, 1);
        assertCut(2, 1);
        assertCut(1, 0);
        assertReaches(0, 2);
        net.heal();
        assertReaches(0, 1);
    }

    @Test
    void onewayDropsOneDirectionOnly() throws IOException {
        net.oneway(0, 1);
        assertEquals(0, udp(0, 1, "fwd", 20, CUT_TIMEOUT_MILLIS), "h0 -> h1 datagrams got through a one-way cut");
        assertTrue(udp(1, 0, "rev", 20, HEALTHY_TIMEOUT_MILLIS) > 0, "h1 -> h0 datagrams lost though only h0 -> h1 is cut");
        // TCP needs both directions, so it fails either way; other pairs are untouched.
        assertCut(0, 1);
        assertReaches(0, 2);
        assertReaches(2, 1);
    }

    @Test
    void randomDropLosesSomeButNotAllAndPerHostDropIsLocal() throws IOException {
        net.drop(50);
        assertTrue(net.status().contains("statistic"), net.status());
        int n = udp(0, 1, "loss", 200, 1_000);
        // At 50% loss, all or none of 200 datagrams arriving has probability 2^-199.
        assertTrue(n > 0 && n < 200, "received " + n + " of 200 datagrams at 50% loss");

        net.drop(0);
        net.drop(100, 2);
        assertCut(0, 2);
        assertCut(2, 1);
        assertReaches(0, 1);
        net.drop(0, 2);
        assertReaches(0, 2);
    }

    @Test
    void processesRunInTheirNamespaceAndCanBePaused() throws IOException {
        ProbeProcess h1 = probes.get(1);
        // `ip netns exec` execs in place: the pid we hold is the probe's own, so signals reach it.
        assertEquals("PID " + h1.process.pid(), h1.command("pid"));
        try (Pauser pauser = new Pauser()) {
            pauser.pause(h1.process);
            assertCut(0, 1);
            pauser.resume(h1.process);
        }
        assertReaches(0, 1);
    }

    @Test
    void faultProxyRunsInsideANamespace() throws IOException {
        // h1 relays h1:7100 -> h2:7000 with 100 ms each way.
        Process p = net.start(1, new ProcessBuilder(ProbeProcess.javaCommand(FaultProxy.class,
                "0.0.0.0:7100", net.address(2) + ":" + TCP, "100", "0")).redirectError(ProcessBuilder.Redirect.INHERIT));
        try (ProbeProcess proxy = ProbeProcess.attach(p)) {
            assertTrue(proxy.firstLine.startsWith("LISTENING "), proxy.firstLine);
            assertEquals("OK", tcp(0, 1, 7100, HEALTHY_TIMEOUT_MILLIS));
            assertEquals("OK", proxy.command("pause"));
            assertTrue(tcp(0, 1, 7100, CUT_TIMEOUT_MILLIS).startsWith("FAIL"), "paused proxy relayed");
            assertEquals("OK", proxy.command("unpause"));
            assertEquals("OK", tcp(0, 1, 7100, HEALTHY_TIMEOUT_MILLIS));
            // The relay's own path obeys the namespace faults too.
            net.partition(Set.of(1), Set.of(2));
            assertTrue(tcp(0, 1, 7100, CUT_TIMEOUT_MILLIS).startsWith("FAIL"), "relay reached a partitioned target");
        }
    }

    @Test
    void upIsIdempotentAndDownLeavesNothing() throws IOException {
        String name = RUN + "d";
        NetnsNetwork a = NetnsNetwork.create(name, 2);
        try {
            NetnsNetwork again = NetnsNetwork.create(name, 2);
            assertEquals(a.address(1), again.address(1));
            NetnsException wrongSize = assertThrows(NetnsException.class, () -> NetnsNetwork.create(name, 3));
            assertEquals(1, wrongSize.exitCode(), wrongSize.getMessage());
            assertTrue(wrongSize.stderr().contains("run down first"), wrongSize.stderr());

            a.isolate(0);
            a.drop(10, 1);
            Process sleeper = a.exec(0, "sleep", "600");
            assertTrue(sleeper.isAlive());
            assertTrue(netnsList().contains(name + "-h0"));
            assertTrue(NetnsNetwork.networks().contains(name), NetnsNetwork.networks().toString());
            a.close();
            assertFalse(sleeper.isAlive(), "process started in the network survived close");
            assertNoTrace(name);
            // The second handle's close finds nothing left and still succeeds.
            again.close();
        } finally {
            a.close();
        }
        assertNoTrace(name);
        assertThrows(IllegalStateException.class, () -> a.heal());
    }

    @Test
    void scriptUsageErrorsExitTwoWithAReason() throws IOException {
        NetnsException e = assertThrows(NetnsException.class, () -> net.partition(Set.of(0, 1), Set.of(1)));
        assertEquals(2, e.exitCode());
        assertTrue(e.stderr().contains("both groups"), e.stderr());
        assertThrows(IllegalArgumentException.class, () -> net.isolate(3));
        assertThrows(IllegalArgumentException.class, () -> net.drop(101));
    }

    /** No namespace of the network remains, and nothing of it ever appeared in the root namespace. */
    private static void assertNoTrace(String name) throws IOException {
        for (String line : netnsList().split("\n")) {
            assertFalse(line.startsWith(name + "-"), "namespace left behind: " + line);
        }
        String rootLinks = run("ip", "-o", "link");
        assertFalse(rootLinks.contains(name), "interface of " + name + " in the root namespace:\n" + rootLinks);
        String rootRules = run("iptables", "-w", "-S");
        assertFalse(rootRules.contains("NETFAULT"), "fault rules in the root namespace:\n" + rootRules);
    }

    private static String netnsList() throws IOException {
        return run("ip", "netns", "list");
    }

    private static String run(String... command) throws IOException {
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        try {
            if (!p.waitFor(30, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw new IOException(String.join(" ", command) + " hung");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException(e);
        }
        return new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    }
}
