package bftledger.node.cli;

import bftledger.node.config.ConfigException;
import bftledger.sdk.Network;
import java.time.Duration;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code --genesis} and {@code --timeout}, shared by the commands that call the network through the SDK. */
final class NetworkOptions extends GenesisOption {
    @Option(names = "--timeout", defaultValue = "30s", description = "How long to wait, e.g. 10s, 500ms (default: ${DEFAULT-VALUE}).")
    String timeout;
    @Mixin
    ClientTransportOptions transport;

    /** The network as this command reaches it: TLS by default, or as {@code --plaintext} and {@code --connect} say. */
    @Override
    Network network() throws ConfigException {
        return transport.apply(super.network());
    }

    Duration timeout() throws UserError {
        return Arguments.duration(timeout);
    }
}
