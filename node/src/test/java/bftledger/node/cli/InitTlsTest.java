package bftledger.node.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import bftledger.ledger.ChainGenesis;
import bftledger.node.config.GenesisFile;
import bftledger.node.config.NodeConfig;
import bftledger.node.config.TlsCertificates;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** What {@code init} and {@code tls issue} write: the network CA, its pin in genesis, node certificates and configs. */
class InitTlsTest {
    @TempDir
    Path tmp;

    private static List<String> sans(X509Certificate c) throws Exception {
        List<String> out = new ArrayList<>();
        Collection<List<?>> names = c.getSubjectAlternativeNames();
        for (List<?> n : names) {
            out.add(String.valueOf(n.get(1)));
        }
        return out;
    }

    @Test
    void initMakesACaPinnedInGenesisAndACertificatePerNode() throws Exception {
        Path dir = tmp.resolve("net");
        assertEquals(0, Main.run("init", "--dir", dir.toString(), "--metrics-base-port", "0",
                "--addresses", "node0:7100,node1:7100,10.0.0.3:7100,node3:7100", "--listen-host", "0.0.0.0",
                "--tls-san", "1=node1.example.org", "--tls-san", "ledger.example.org", "--health-base-port", "7200"));
        ChainGenesis genesis = GenesisFile.read(dir.resolve("genesis.bin"));
        X509Certificate ca = TlsCertificates.readCertificate(dir.resolve("ca/ca.crt"));
        assertArrayEquals(ca.getEncoded(), genesis.genesis().getTlsCaCertificate().toByteArray(), "genesis pins the CA that init wrote");
        assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(dir.resolve("ca/ca.key"))));
        try (Stream<Path> files = Files.walk(dir)) {
            assertEquals(List.of(dir.resolve("ca/ca.key")), files.filter(p -> p.getFileName().toString().equals("ca.key")).toList(),
                    "the CA key lives in ca/ only, never in a node directory");
        }
        for (int i = 0; i < 4; i++) {
            Path nodeDir = dir.resolve("node" + i);
            NodeConfig config = NodeConfig.read(nodeDir.resolve("node.properties"));
            assertFalse(config.tls().plaintext());
            assertEquals("0.0.0.0", config.listenHost());
            assertEquals(7100, config.listenPort());
            assertEquals(7200, config.healthPort());
            X509Certificate cert = TlsCertificates.readCertificate(config.tls().certFile());
            assertEquals(null, TlsCertificates.problem(cert, TlsCertificates.readPrivateKey(config.tls().keyFile()), ca,
                    java.time.Instant.now()));
            assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(config.tls().keyFile())));
            String host = TlsCertificates.host(genesis.genesis().getValidators(i).getAddress());
            assertTrue(sans(cert).contains(host), "node" + i + " names its genesis host " + host + ": " + sans(cert));
            assertTrue(sans(cert).contains("ledger.example.org"), sans(cert).toString());
            assertEquals(i == 1, sans(cert).contains("node1.example.org"), "node" + i + ": " + sans(cert));
        }
    }

    @Test
    void plaintextIsAskedForAndWrittenDown() throws Exception {
        Path dir = tmp.resolve("plain");
        assertEquals(0, Main.run("init", "--dir", dir.toString(), "--metrics-base-port", "0", "--plaintext"));
        assertTrue(GenesisFile.read(dir.resolve("genesis.bin")).genesis().getTlsCaCertificate().isEmpty());
        assertFalse(Files.exists(dir.resolve("ca")));
        assertTrue(Files.readString(dir.resolve("node0/node.properties")).contains("tls.plaintext=true"));
        assertTrue(NodeConfig.read(dir.resolve("node0/node.properties")).tls().plaintext());
    }

    @Test
    void badDeploymentOptionsChangeNothing() {
        Path dir = tmp.resolve("bad");
        assertEquals(1, Main.run("init", "--dir", dir.toString(), "--addresses", "a:1,b:2"));
        assertEquals(1, Main.run("init", "--dir", dir.toString(), "--addresses", "a:1,b:2,c:3,nope"));
        assertEquals(1, Main.run("init", "--dir", dir.toString(), "--tls-san", "x=y=z"));
        assertEquals(1, Main.run("init", "--dir", dir.toString(), "--plaintext", "--tls-san", "a.example"));
        assertFalse(Files.exists(dir.resolve("genesis.bin")));
    }

    @Test
    void tlsIssueRotatesOneNodeAndRefusesAnotherNetworksCa() throws Exception {
        Path net = tmp.resolve("net");
        Path other = tmp.resolve("other");
        assertEquals(0, Main.run("init", "--dir", net.toString(), "--metrics-base-port", "0"));
        assertEquals(0, Main.run("init", "--dir", other.toString(), "--metrics-base-port", "0"));
        Path crt = net.resolve("node2/tls/tls.crt");
        byte[] before = Files.readAllBytes(crt);
        assertEquals(1, Main.run("tls", "issue", "--genesis", net.resolve("genesis.bin").toString(), "--node", "2",
                "--ca", other.resolve("ca").toString()));
        assertArrayEquals(before, Files.readAllBytes(crt), "a refused issue writes nothing");
        assertEquals(1, Main.run("tls", "issue", "--genesis", net.resolve("genesis.bin").toString(), "--node", "4"));
        assertEquals(0, Main.run("tls", "issue", "--genesis", net.resolve("genesis.bin").toString(), "--node", "2",
                "--san", "node2.example.org", "--days", "30"));
        X509Certificate rotated = TlsCertificates.readCertificate(crt);
        assertTrue(sans(rotated).containsAll(List.of("127.0.0.1", "node2.example.org")), sans(rotated).toString());
        assertEquals(null, TlsCertificates.problem(rotated, TlsCertificates.readPrivateKey(net.resolve("node2/tls/tls.key")),
                TlsCertificates.readCertificate(net.resolve("ca/ca.crt")), java.time.Instant.now()));
        assertTrue(rotated.getNotAfter().toInstant().isBefore(java.time.Instant.now().plus(java.time.Duration.ofDays(31))));
    }
}
