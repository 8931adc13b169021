package bftledger.node.cli;

import bftledger.ledger.ChainGenesis;
import bftledger.node.config.ConfigException;
import bftledger.node.config.NodeConfig;
import bftledger.node.config.TlsCertificates;
import com.google.protobuf.ByteString;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.security.PrivateKey;
import java.security.cert.CertificateEncodingException;
import java.security.cert.X509Certificate;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
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
    static final String CA_DIR = "ca";
    static final String NODE_TLS_DIR = "tls";

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

    void validate(int nodes) throws Main.UserError {
        if (!addresses.isEmpty() && addresses.size() != nodes) {
            throw new Main.UserError("--addresses lists " + addresses.size() + " addresses for " + nodes + " nodes.");
        }
        for (String a : addresses) {
            int colon = a.lastIndexOf(':');
            if (colon <= 0 || !a.substring(colon + 1).matches("\\d{1,5}")) {
                throw new Main.UserError("--addresses: '" + a + "' is not HOST:PORT.");
            }
        }
        for (String name : extraNames) {
            if (name.contains("=") && !name.matches("\\d+=[^=]+")) {
                throw new Main.UserError("--tls-san: '" + name + "' is neither NAME nor I=NAME.");
            }
        }
        if (plaintext && !extraNames.isEmpty()) {
            throw new Main.UserError("--tls-san with --plaintext: a network without TLS has no certificates.");
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
        if (plaintext) {
            return genesis;
        }
        KeyPair ca = TlsCertificates.newKeyPair();
        X509Certificate caCertificate = TlsCertificates.createCa(genesis.chainId(), ca, Instant.now());
        TlsCertificates.writePrivateKey(dir.resolve(CA_DIR).resolve("ca.key"), ca.getPrivate());
        TlsCertificates.writeCertificate(dir.resolve(CA_DIR).resolve("ca.crt"), caCertificate);
        try {
            return ChainGenesis.of(genesis.genesis().toBuilder()
                    .setTlsCaCertificate(ByteString.copyFrom(caCertificate.getEncoded())).build());
        } catch (CertificateEncodingException e) {
            throw new IllegalStateException("a certificate just made does not encode", e);
        }
    }

    /** Node {@code node}'s TLS config; with TLS, issues its certificate into {@code <dir>/node<i>/tls/}. */
    NodeConfig.Tls nodeTls(Path dir, ChainGenesis genesis, int node) throws ConfigException {
        if (plaintext) {
            return NodeConfig.Tls.plaintextOnPurpose();
        }
        Path caDir = dir.resolve(CA_DIR);
        issue(TlsCertificates.readCertificate(caDir.resolve("ca.crt")), TlsCertificates.readPrivateKey(caDir.resolve("ca.key")),
                genesis, node, names(node), dir.resolve("node" + node).resolve(NODE_TLS_DIR), TlsCertificates.NODE_VALIDITY);
        return NodeConfig.Tls.files(Path.of(NODE_TLS_DIR, "tls.crt"), Path.of(NODE_TLS_DIR, "tls.key"));
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

    /**
     * Issues node {@code node} of {@code genesis} a certificate from the CA for the host of its
     * genesis address and {@code extraNames}, and writes {@code tls.crt} and {@code tls.key} into
     * {@code outDir} (each atomically; the key first, so a node reloading between the two
     * refuses the mismatched pair and keeps its old one until the certificate follows).
     */
    static X509Certificate issue(X509Certificate ca, PrivateKey caKey, ChainGenesis genesis, int node, List<String> extraNames,
                                 Path outDir, java.time.Duration validity) throws ConfigException {
        if (!ByteString.copyFrom(encoded(ca)).equals(genesis.genesis().getTlsCaCertificate())) {
            throw new ConfigException("the CA certificate given is not the one this network's genesis names; use the"
                    + " network's own CA directory (<network>/ca).");
        }
        if (!TlsCertificates.keyMatchesCertificate(ca, caKey)) {
            throw new ConfigException("the CA key does not belong to the CA certificate.");
        }
        Set<String> names = new LinkedHashSet<>();
        names.add(TlsCertificates.host(genesis.genesis().getValidators(node).getAddress()));
        names.addAll(extraNames);
        KeyPair key = TlsCertificates.newKeyPair();
        X509Certificate certificate = TlsCertificates.issue(ca, caKey, key.getPublic(),
                genesis.genesis().getValidators(node).getName(), List.copyOf(names), Instant.now(), validity);
        try {
            Files.createDirectories(outDir);
        } catch (java.io.IOException e) {
            throw new ConfigException("cannot create " + outDir + ": " + e.getMessage(), e);
        }
        TlsCertificates.writePrivateKey(outDir.resolve("tls.key"), key.getPrivate());
        TlsCertificates.writeCertificate(outDir.resolve("tls.crt"), certificate);
        return certificate;
    }

    private static byte[] encoded(X509Certificate c) {
        try {
            return c.getEncoded();
        } catch (CertificateEncodingException e) {
            throw new IllegalStateException("a parsed certificate does not encode", e);
        }
    }
}
