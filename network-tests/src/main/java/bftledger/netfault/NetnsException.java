package bftledger.netfault;

import java.io.IOException;

/**
 * scripts/netns.sh failed. Carries the script's exit code (1 operation failed, 2 usage error,
 * 3 cannot run here) and its stderr, which says why.
 */
public final class NetnsException extends IOException {
    private final int exitCode;
    private final String stderr;

    public NetnsException(String command, int exitCode, String stderr) {
        super(command + " exited " + exitCode + ": " + stderr.strip());
        this.exitCode = exitCode;
        this.stderr = stderr;
    }

    public int exitCode() {
        return exitCode;
    }

    public String stderr() {
        return stderr;
    }
}
