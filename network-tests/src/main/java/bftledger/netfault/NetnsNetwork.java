package bftledger.netfault;

import java.io.IOException;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Locale;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;

/**
 * A named test network of hosts h0..h(n-1), each its own network namespace with its own address,
 * joined by a bridge in a namespace of its own (see scripts/netns.sh for the layout). Every change
 * to namespaces or firewall rules goes through the script, so the shell and the Java API cannot
 * drift apart.
 *
 * <p>Contract: {@link #close()} kills every process started through {@link #exec} or
 * {@link #start}, then removes the network by name (`netns.sh down`), which also kills any other
 * process left in its namespaces. A JVM shutdown hook does the same if close is never reached.
 * Faults accumulate until {@link #heal()}: partitions, one-way cuts and isolations add rules;
 * {@link #drop} replaces the loss setting of the hosts it names.
 *
 * <p>Not thread-safe: one test thread drives a network.
 */
public final class NetnsNetwork implements AutoCloseable {
    /** How long close waits for each killed process to be reaped before moving on. */
    private static final long REAP_TIMEOUT_MILLIS = 5_000;

    private final String name;
    private final List<String> namespaces;
    private final List<String> addresses;
    private final List<Process> started = new ArrayList<>();
    private final Thread shutdownHook;
    private volatile boolean closed;

    private NetnsNetwork(String name, List<String> namespaces, List<String> addresses) {
        this.name = name;
        this.namespaces = List.copyOf(namespaces);
        this.addresses = List.copyOf(addresses);
        this.shutdownHook = new Thread(this::downQuietly, "netns-down-" + name);
        Runtime.getRuntime().addShutdownHook(shutdownHook);
    }

    /**
     * Brings up network {@code name} with {@code hosts} hosts (idempotent for the same size).
     * Names are 1-24 characters of [A-Za-z0-9_]; use one unique per test run, e.g. "bft" + pid.
     */
    public static NetnsNetwork create(String name, int hosts) throws IOException {
        String out = NetnsScript.runOrThrow(List.of("up", "--name", name, "--hosts", Integer.toString(hosts)));
        return fromAddresses(name, hosts, out);
    }

    /** Names of the networks currently up on this machine, e.g. to find ones a killed JVM left. */
    public static List<String> networks() throws IOException {
        String out = NetnsScript.runOrThrow(List.of("list")).strip();
        return out.isEmpty() ? List.of() : List.of(out.split("\n"));
    }

    /**
     * Removes network {@code name} by name, killing any process left in it. For leftovers of a
     * JVM that died before {@link #close()}; a live network is closed through its handle instead.
     */
    public static void down(String name) throws IOException {
        NetnsScript.runOrThrow(List.of("down", "--name", name));
    }

    private static NetnsNetwork fromAddresses(String name, int hosts, String out) throws IOException {
        // Lines "h<i> <namespace> <address>", in host order.
        List<String> namespaces = new ArrayList<>();
        List<String> addresses = new ArrayList<>();
        for (String line : out.strip().split("\n")) {
            String[] f = line.strip().split("\\s+");
            if (f.length != 3 || !f[0].equals("h" + namespaces.size())) {
                throw new IOException("unexpected line from netns.sh up: '" + line + "' in:\n" + out);
            }
            namespaces.add(f[1]);
            addresses.add(f[2]);
        }
        if (namespaces.size() != hosts) {
            throw new IOException("netns.sh up reported " + namespaces.size() + " hosts, wanted " + hosts);
        }
        return new NetnsNetwork(name, namespaces, addresses);
    }

    public String name() {
        return name;
    }

    public int hosts() {
        return namespaces.size();
    }

    /** The namespace of host i, e.g. "bft123-h0". */
    public String namespace(int host) {
        return namespaces.get(checkHost(host));
    }

    /** The IPv4 address of host i in dotted form, e.g. "10.77.0.1". */
    public String address(int host) {
        return addresses.get(checkHost(host));
    }

    /** Starts {@code command} inside host i's namespace; killed by {@link #close()}. */
    public Process exec(int host, String... command) throws IOException {
        return start(host, new ProcessBuilder(command));
    }

    /**
     * Starts the builder's command inside host i's namespace, keeping its redirects, directory and
     * environment; killed by {@link #close()}. `ip netns exec` execs the command in place (no
     * fork), so the returned process's pid is the command's own: {@link Pauser} can stop it.
     */
    public Process start(int host, ProcessBuilder builder) throws IOException {
        ensureOpen();
        List<String> original = List.copyOf(builder.command());
        if (original.isEmpty()) {
            throw new IllegalArgumentException("empty command");
        }
        List<String> wrapped = new ArrayList<>(List.of("ip", "netns", "exec", namespace(host)));
        wrapped.addAll(original);
        builder.command(wrapped);
        try {
            Process p = builder.start();
            started.removeIf(q -> !q.isAlive());
            started.add(p);
            return p;
        } finally {
            builder.command(original);
        }
    }

    /** Cuts all traffic between the two groups, both ways. */
    public void partition(Collection<Integer> groupA, Collection<Integer> groupB) throws IOException {
        script("partition", hostList(groupA), hostList(groupB));
    }

    /** Drops packets from {@code from} to {@code to}; the reverse direction still flows. */
    public void oneway(int from, int to) throws IOException {
        script("oneway", "--from", host(from), "--to", host(to));
    }

    /** Cuts host i from every other host. */
    public void isolate(int host) throws IOException {
        script("isolate", host(host));
    }

    /** Every packet into every host is dropped with probability percent/100; 0 clears. */
    public void drop(double percent) throws IOException {
        script("drop", "--percent", percent(percent));
    }

    /** Packets into and out of host i are dropped with probability percent/100; 0 clears. */
    public void drop(double percent, int host) throws IOException {
        script("drop", "--percent", percent(percent), host(host));
    }

    /** Removes every cut and loss rule. */
    public void heal() throws IOException {
        script("heal");
    }

    /** The script's human-readable status: addresses and the fault rules of each host. */
    public String status() throws IOException {
        return script("status");
    }

    /** Kills the processes started here, then deletes the network's namespaces. Idempotent. */
    @Override
    public void close() throws IOException {
        if (closed) {
            return;
        }
        closed = true;
        killStarted();
        try {
            NetnsScript.runOrThrow(List.of("down", "--name", name));
        } finally {
            try {
                Runtime.getRuntime().removeShutdownHook(shutdownHook);
            } catch (IllegalStateException alreadyShuttingDown) {
                // The hook is running or about to; it will find nothing left to remove.
            }
        }
    }

    private void killStarted() {
        for (Process p : started) {
            p.descendants().forEach(ProcessHandle::destroyForcibly);
            p.destroyForcibly();
        }
        for (Process p : started) {
            try {
                p.waitFor(REAP_TIMEOUT_MILLIS, TimeUnit.MILLISECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
        }
        started.clear();
    }

    private void downQuietly() {
        if (closed) {
            return;
        }
        for (Process p : started) {
            p.destroyForcibly();
        }
        try {
            NetnsScript.run(List.of("down", "--name", name));
        } catch (IOException e) {
            System.err.println("netns network " + name + " could not be removed at exit: " + e.getMessage());
        }
    }

    private String script(String command, String... args) throws IOException {
        ensureOpen();
        List<String> all = new ArrayList<>(List.of(command, "--name", name));
        all.addAll(List.of(args));
        return NetnsScript.runOrThrow(all);
    }

    private void ensureOpen() {
        if (closed) {
            throw new IllegalStateException("network " + name + " is closed");
        }
    }

    private int checkHost(int host) {
        if (host < 0 || host >= namespaces.size()) {
            throw new IllegalArgumentException("no host " + host + " in " + name + " (0.." + (namespaces.size() - 1) + ")");
        }
        return host;
    }

    private String host(int host) {
        return "h" + checkHost(host);
    }

    private String hostList(Collection<Integer> group) {
        if (group.isEmpty()) {
            throw new IllegalArgumentException("empty host group");
        }
        return new TreeSet<>(group).stream().map(this::host).collect(Collectors.joining(","));
    }

    private static String percent(double percent) {
        if (!(percent >= 0 && percent <= 100)) {
            throw new IllegalArgumentException("percent must be in [0, 100]: " + percent);
        }
        return String.format(Locale.ROOT, "%.4f", percent);
    }
}
