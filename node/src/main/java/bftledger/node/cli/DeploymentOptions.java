package bftledger.node.cli;

import bftledger.ledger.ChainGenesis;
import bftledger.node.config.ConfigException;
import bftledger.node.config.NetworkCa;
import bftledger.node.config.NodeConfig;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import picocli.CommandLine.Option;

/**
 * What {@code init} needs to lay a network across machines: where each node is reached (its
 * genesis address), where it listens, and its TLS. By default {@code init} creates a network CA
 * ({@code <dir>/ca/}: its key stays there, never in a node directory), puts the CA certificate
 * in genesis, and issues every node a certificate for the host of its genesis address plus the
 * extra names given ({@code <dir>/node<i>/tls/}). {@code --plaintext} makes a network without
 * TLS. See InitTlsTest.
 */
final class DeploymentOptions {
    @Option(names = "--plaintext", description = "A network without TLS: genesis names no CA and every node config says"
            + " tls.plaintext=true. Clients then need --plaintext too. For loopback experiments only.")
    boolean plaintext;

    @Option(names = "--addresses", split = ",", paramLabel = "HOST:PORT",
            description = "Genesis address of each node, in order (e.g. node0:7100,node1:7100,...). Default:"
                    + " 127.0.0.1:<base-port + i>.")
    List<String> addresses = new ArrayList<>();

    @Option(names = "--listen-host", defaultValue = "127.0.0.1",
            description = "Address the nodes bind to (0.0.0.0 in containers or on hosts reached from outside; default: ${DEFAULT-VALUE}).")
    String listenHost;

    @Option(names = "--tls-san", paramLabel = "[I=]NAME",
            description = "Another host name or IP address for node I's certificate (for every node without I=). Repeatable."
                    + " The host of the node's genesis address is always named.")
    List<String> extraNames = new ArrayList<>();

    @Option(names = "--health-base-port", defaultValue = "0",
            description = "Plaintext gRPC health port of node0 (node i: base+i, or base for all with --addresses), for"
                    + " probes that cannot speak TLS; 0 = none (default).")
    int healthBasePort;

    void validate(int nodes) throws UserError {
        if (!addresses.isEmpty() && addresses.size() != nodes) {
            throw new UserError("--addresses lists " + addresses.size() + " addresses for " + nodes + " nodes.");
        }
        for (String a : addresses) {
            int colon = a.lastIndexOf(':');
            if (colon <= 0 || !a.substring(colon + 1).matches("\\d{1,5}")) {
                throw new UserError("--addresses: '" + a + "' is not HOST:PORT.");
            }
        }
        for (String name : extraNames) {
            if (name.contains("=") && !name.matches("\\d+=[^=]+")) {
                throw new UserError("--tls-san: '" + name + "' is neither NAME nor I=NAME.");
            }
        }
        if (plaintext && !extraNames.isEmpty()) {
            throw new UserError("--tls-san with --plaintext: a network without TLS has no certificates.");
        }
    }

    String address(int node, int basePort) {
        return addresses.isEmpty() ? "127.0.0.1:" + (basePort + node) : addresses.get(node);
    }

    int listenPort(int node, int basePort) {
        String a = address(node, basePort);
        return Integer.parseInt(a.substring(a.lastIndexOf(':') + 1));
    }

    int healthPort(int node) {
        return healthBasePort == 0 ? 0 : addresses.isEmpty() ? healthBasePort + node : healthBasePort;
    }

    /** Genesis as built, or (TLS) with a new network CA's certificate, the CA written to {@code <dir>/ca/}. */
    ChainGenesis withTls(ChainGenesis genesis, Path dir) throws ConfigException {
        return plaintext ? genesis : NetworkCa.create(genesis, dir);
    }

    /** Node {@code node}'s TLS config; with TLS, issues its certificate into {@code <dir>/node<i>/tls/}. */
    NodeConfig.Tls nodeTls(Path dir, ChainGenesis genesis, int node) throws ConfigException {
        return plaintext ? NodeConfig.Tls.plaintextOnPurpose() : NetworkCa.issueNode(dir, genesis, node, names(node));
    }

    /** The extra names for node {@code node}: the unqualified ones and those given as {@code node=NAME}. */
    List<String> names(int node) {
        List<String> out = new ArrayList<>();
        for (String name : extraNames) {
            int eq = name.indexOf('=');
            if (eq < 0) {
                out.add(name);
            } else if (Integer.parseInt(name.substring(0, eq)) == node) {
                out.add(name.substring(eq + 1));
            }
        }
        return out;
    }
}
