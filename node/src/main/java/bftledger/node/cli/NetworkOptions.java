package bftledger.node.cli;

import java.time.Duration;
import picocli.CommandLine.Option;

/** {@code --genesis} and {@code --timeout}, shared by the commands that call the network through the SDK. */
final class NetworkOptions extends GenesisOption {
    @Option(names = "--timeout", defaultValue = "30s", description = "How long to wait, e.g. 10s, 500ms (default: ${DEFAULT-VALUE}).")
    String timeout;

    Duration timeout() throws UserError {
        return Arguments.duration(timeout);
    }
}
