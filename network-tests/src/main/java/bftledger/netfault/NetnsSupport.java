package bftledger.netfault;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Optional;

/**
 * Whether namespace tests can run on this machine, and if not, why. Tests call
 * {@code Assumptions.assumeTrue(NetnsSupport.check().isEmpty(), ...)} so a skipped test says
 * why it was skipped instead of passing silently.
 */
public final class NetnsSupport {
    private static volatile Optional<String> cached;

    private NetnsSupport() {}

    /**
     * Empty when namespaces, veths and iptables work here; otherwise the reason (not Linux, not
     * root, ip or iptables missing, namespace creation failed, script not found). The script's
     * {@code check} command does the real probe: it creates and deletes a scratch namespace and
     * runs iptables inside it. The answer is computed once per JVM.
     */
    public static Optional<String> check() {
        Optional<String> r = cached;
        if (r == null) {
            synchronized (NetnsSupport.class) {
                r = cached;
                if (r == null) {
                    r = probe();
                    cached = r;
                }
            }
        }
        return r;
    }

    private static Optional<String> probe() {
        String os = System.getProperty("os.name", "").toLowerCase(Locale.ROOT);
        if (!os.contains("linux")) {
            return Optional.of("network namespaces need Linux; this is " + System.getProperty("os.name"));
        }
        try {
            long uid = realUid();
            if (uid != 0) {
                return Optional.of("not root (uid " + uid + "): network namespaces and iptables need root");
            }
        } catch (IOException e) {
            return Optional.of("cannot read /proc/self/status to learn the uid: " + e.getMessage());
        }
        if (NetnsScript.locate().isEmpty()) {
            return Optional.of("scripts/netns.sh not found above " + System.getProperty("user.dir")
                    + " (set -D" + NetnsScript.SCRIPT_PROPERTY + ")");
        }
        try {
            NetnsScript.Result r = NetnsScript.run(List.of("check"));
            if (r.exitCode() == 0) {
                return Optional.empty();
            }
            String why = r.stderr().strip();
            return Optional.of(why.isEmpty() ? "netns.sh check exited " + r.exitCode() : why);
        } catch (IOException e) {
            return Optional.of("netns.sh check could not run: " + e.getMessage());
        }
    }

    private static long realUid() throws IOException {
        for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
            if (line.startsWith("Uid:")) {
                return Long.parseLong(line.substring(4).trim().split("\\s+")[0]);
            }
        }
        throw new IOException("no Uid line");
    }
}
