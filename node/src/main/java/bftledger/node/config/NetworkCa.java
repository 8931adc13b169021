package bftledger.node.config;

import bftledger.ledger.ChainGenesis;
import com.google.protobuf.ByteString;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.security.PrivateKey;
import java.security.cert.CertificateEncodingException;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * A network's TLS certificate authority on disk: {@code <network>/ca/ca.key} and {@code ca.crt}
 * (the key never goes into a node directory), and node certificates issued from it into
 * {@code <network>/node<i>/tls/}. {@code bftledger init} and {@code bftledger tls issue} use it,
 * and so do test networks that run with TLS. See InitTlsTest and TlsRotationTest.
 */
public final class NetworkCa {
    /** The CA directory beside genesis. */
    public static final String CA_DIR = "ca";
    /** A node's TLS directory inside its node directory. */
    public static final String NODE_TLS_DIR = "tls";

    private NetworkCa() {
    }

    /** Creates a new CA in {@code <dir>/ca/} and returns {@code genesis} naming its certificate. */
    public static ChainGenesis create(ChainGenesis genesis, Path dir) throws ConfigException {
        KeyPair ca = TlsCertificates.newKeyPair();
        X509Certificate caCertificate = TlsCertificates.createCa(genesis.chainId(), ca, Instant.now());
        TlsCertificates.writePrivateKey(dir.resolve(CA_DIR).resolve("ca.key"), ca.getPrivate());
        TlsCertificates.writeCertificate(dir.resolve(CA_DIR).resolve("ca.crt"), caCertificate);
        return ChainGenesis.of(genesis.genesis().toBuilder().setTlsCaCertificate(ByteString.copyFrom(encoded(caCertificate))).build());
    }

    /**
     * Issues node {@code node} its certificate from the CA in {@code <dir>/ca/} into
     * {@code <dir>/node<i>/tls/} and returns the node config's TLS section (paths relative to the
     * node directory).
     */
    public static NodeConfig.Tls issueNode(Path dir, ChainGenesis genesis, int node, List<String> extraNames)
            throws ConfigException {
        Path caDir = dir.resolve(CA_DIR);
        issue(TlsCertificates.readCertificate(caDir.resolve("ca.crt")), TlsCertificates.readPrivateKey(caDir.resolve("ca.key")),
                genesis, node, extraNames, dir.resolve("node" + node).resolve(NODE_TLS_DIR), TlsCertificates.NODE_VALIDITY);
        return NodeConfig.Tls.files(Path.of(NODE_TLS_DIR, "tls.crt"), Path.of(NODE_TLS_DIR, "tls.key"));
    }

    /**
     * Issues node {@code node} of {@code genesis} a certificate from the CA for the host of its
     * genesis address and {@code extraNames}, and writes {@code tls.crt} and {@code tls.key} into
     * {@code outDir} (each atomically; the key first, so a node reloading between the two
     * refuses the mismatched pair and keeps its old one until the certificate follows).
     */
    public static X509Certificate issue(X509Certificate ca, PrivateKey caKey, ChainGenesis genesis, int node, List<String> extraNames,
                                        Path outDir, Duration validity) throws ConfigException {
        return issue(ca, caKey, genesis, genesis.genesis().getValidators(node).getAddress(),
                genesis.genesis().getValidators(node).getName(), extraNames, outDir, validity);
    }

    /**
     * As above for a node genesis does not name (a validator a set change adds), by the address
     * and name the change gives it.
     */
    public static X509Certificate issue(X509Certificate ca, PrivateKey caKey, ChainGenesis genesis, String address, String name,
                                        List<String> extraNames, Path outDir, Duration validity) throws ConfigException {
        if (!ByteString.copyFrom(encoded(ca)).equals(genesis.genesis().getTlsCaCertificate())) {
            throw new ConfigException("the CA certificate given is not the one this network's genesis names; use the"
                    + " network's own CA directory (<network>/ca).");
        }
        if (!TlsCertificates.keyMatchesCertificate(ca, caKey)) {
            throw new ConfigException("the CA key does not belong to the CA certificate.");
        }
        Set<String> names = new LinkedHashSet<>();
        names.add(TlsCertificates.host(address));
        names.addAll(extraNames);
        KeyPair key = TlsCertificates.newKeyPair();
        X509Certificate certificate = TlsCertificates.issue(ca, caKey, key.getPublic(), name, List.copyOf(names), Instant.now(),
                validity);
        try {
            Files.createDirectories(outDir);
        } catch (IOException e) {
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
            throw new IllegalStateException("a certificate does not encode", e);
        }
    }
}
