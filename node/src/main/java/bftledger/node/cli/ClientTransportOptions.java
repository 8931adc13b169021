package bftledger.node.cli;

import bftledger.node.config.ConfigException;
import bftledger.sdk.Network;
import java.util.ArrayList;
import java.util.List;
import picocli.CommandLine.Option;

/**
 * How a client command reaches the replicas: TLS by default (trusting only the CA genesis
 * names), {@code --plaintext} for a network made without TLS, and {@code --connect I=HOST:PORT}
 * to dial a replica somewhere other than its genesis address (a port published by a container,
 * a tunnel) while its certificate is still checked against its genesis name.
 */
final class ClientTransportOptions {
    @Option(names = "--plaintext", description = "Connect without TLS: only to a network created with `init --plaintext`.")
    boolean plaintext;

    @Option(names = "--connect", split = ",", paramLabel = "I=HOST:PORT",
            description = "Dial replica I at HOST:PORT instead of its genesis address; its TLS certificate is still checked"
                    + " against the genesis name. Repeatable or comma-separated.")
    List<String> connect = new ArrayList<>();

    /** {@code network} as this command reaches it; a malformed option or a TLS mismatch is a ConfigException. */
    Network apply(Network network) throws ConfigException {
        Network out = network;
        if (plaintext) {
            if (network.tls()) {
                throw new ConfigException("--plaintext, but genesis names a TLS CA: the network runs TLS. Drop --plaintext.");
            }
            out = out.withPlaintext();
        } else if (!network.tls()) {
            throw new ConfigException("genesis names no TLS CA: the network was created with `init --plaintext`."
                    + " Add --plaintext to connect to it without TLS.");
        }
        for (String spec : connect) {
            int eq = spec.indexOf('=');
            try {
                out = out.withDialAddress(Integer.parseInt(spec.substring(0, Math.max(0, eq))), spec.substring(eq + 1));
            } catch (IllegalArgumentException e) {
                throw new ConfigException("--connect '" + spec + "': write I=HOST:PORT with I a replica index of the network"
                        + " (0.." + (network.n() - 1) + ").", e);
            }
        }
        return out;
    }
}
