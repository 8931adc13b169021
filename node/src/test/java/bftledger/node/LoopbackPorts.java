package bftledger.node;

import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Loopback ports for the tests' networks, taken below the kernel's ephemeral range. A port the
 * kernel hands out for {@code new ServerSocket(0)} comes from that range, and any outgoing
 * connection on the machine may take it as its local port between the test's pick and its
 * bind ("Address already in use"). Below the range only another listener can take it.
 */
public final class LoopbackPorts {
    /** Lowest port picked: above the well-known and registered ports services usually listen on. */
    static final int LOW = 20_000;
    private static final Path EPHEMERAL_RANGE = Path.of("/proc/sys/net/ipv4/ip_local_port_range");
    private static final int ATTEMPTS = 200;

    private LoopbackPorts() {}

    /** The first of {@code n} consecutive loopback ports that are free right now. */
    public static int freeRange(int n) throws IOException {
        int high = ephemeralLow() - n;
        if (high <= LOW) {
            throw new IOException("no room below the ephemeral range (" + ephemeralLow() + ") for " + n + " ports");
        }
        for (int attempt = 0; attempt < ATTEMPTS; attempt++) {
            int base = LOW + ThreadLocalRandom.current().nextInt(high - LOW);
            if (allFree(base, n)) {
                return base;
            }
        }
        throw new IOException("no run of " + n + " free loopback ports found in " + LOW + ".." + high);
    }

    /** One free loopback port. */
    public static int free() throws IOException {
        return freeRange(1);
    }

    private static boolean allFree(int base, int n) {
        for (int p = base; p < base + n; p++) {
            try (ServerSocket s = new ServerSocket(p, 1, InetAddress.getLoopbackAddress())) {
                s.setReuseAddress(true);
            } catch (IOException taken) {
                return false;
            }
        }
        return true;
    }

    /** The kernel's lowest ephemeral port; Linux's default when the setting cannot be read. */
    static int ephemeralLow() {
        // Read as a stream: /proc files report a size of 0, and a sized read got only "3" here.
        try (java.io.BufferedReader in = Files.newBufferedReader(EPHEMERAL_RANGE)) {
            return Integer.parseInt(in.readLine().trim().split("\\s+")[0]);
        } catch (IOException | RuntimeException unreadable) {
            return 32_768;
        }
    }
}
