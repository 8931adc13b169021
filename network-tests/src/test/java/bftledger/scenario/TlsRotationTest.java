package bftledger.scenario;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import bftledger.crypto.KeyPair;
import bftledger.ledger.proto.Receipt;
import bftledger.node.cli.Main;
import bftledger.node.config.TlsCertificates;
import bftledger.sdk.Committed;
import bftledger.sdk.LedgerClient;
import bftledger.sdk.Network;
import bftledger.sdk.TlsChannels;
import java.math.BigInteger;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManager;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Certificate rotation on a running TLS network of real processes: node1 is issued a new
 * certificate by the network CA ({@code bftledger tls issue}) while it runs. It serves the new
 * one without restarting, nobody else restarts for it, and peers that connect afresh accept it in
 * both directions (node2, restarted, links to node1 and node1 links back, presenting the new
 * certificate as its client certificate), so all four keep committing.
 */
class TlsRotationTest {
    @TempDir
    Path tmp;

    private static Committed transfer(LedgerClient client, KeyPair from, KeyPair to) throws Exception {
        Committed c = client.submit(client.transactions().transfer(from, to.publicKey(), 1), Duration.ofSeconds(60));
        assertEquals(Receipt.Status.SUCCESS, c.receipt().getStatus());
        return c;
    }

    private static BigInteger servedSerial(String address, X509Certificate ca) throws Exception {
        SSLContext context = SSLContext.getInstance("TLS");
        context.init(null, new TrustManager[] {TlsChannels.trustManager(ca)}, new SecureRandom());
        int colon = address.lastIndexOf(':');
        try (SSLSocket socket = (SSLSocket) context.getSocketFactory().createSocket(address.substring(0, colon),
                Integer.parseInt(address.substring(colon + 1)))) {
            SSLParameters params = socket.getSSLParameters();
            params.setApplicationProtocols(new String[] {"h2"});
            socket.setSSLParameters(params);
            socket.startHandshake();
            return ((X509Certificate) socket.getSession().getPeerCertificates()[0]).getSerialNumber();
        }
    }

    @Test
    @Timeout(value = 5, unit = TimeUnit.MINUTES)
    void aRotatedCertificateIsAcceptedWithoutRestartingTheOthers() throws Exception {
        try (ScenarioCluster cluster = ScenarioCluster.loopback(tmp.resolve("net"), ScenarioCluster.Options.asInit(1).withTls())) {
            cluster.startAll();
            cluster.awaitReady(Duration.ofSeconds(90));
            Network network = cluster.clientNetwork();
            X509Certificate ca = TlsChannels.caCertificate(network.tlsCaCertificate());
            KeyPair a = cluster.accounts().get(0);
            KeyPair b = cluster.accounts().get(1);
            // A client of its own: connect dials with TLS and nothing but the genesis CA to trust.
            try (LedgerClient client = LedgerClient.connect(network)) {
                transfer(client, a, b);
                String node1 = network.addresses().get(1);
                BigInteger before = servedSerial(node1, ca);
                long[] pids = new long[4];
                for (int i = 0; i < 4; i++) {
                    pids[i] = cluster.process(i).pid();
                }

                assertEquals(0, Main.run("tls", "issue", "--genesis", cluster.genesisPath().toString(), "--node", "1"));
                BigInteger issued = TlsCertificates.readCertificate(cluster.dir().resolve("node1/tls/tls.crt")).getSerialNumber();
                assertNotEquals(before, issued);
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
                BigInteger served = before;
                while (!served.equals(issued) && System.nanoTime() < deadline) {
                    Thread.sleep(200);
                    served = servedSerial(node1, ca);
                }
                assertEquals(issued, served, "node1 serves its rotated certificate");
                for (int i = 0; i < 4; i++) {
                    assertTrue(cluster.running(i) && cluster.process(i).pid() == pids[i], "node" + i + " was not restarted");
                }

                // Fresh links both ways between node1 and a restarted node2 carry the new certificate.
                cluster.stop(2);
                cluster.start(2);
                cluster.awaitReady(Duration.ofSeconds(90), List.of(0, 1, 2, 3));
                Committed last = transfer(client, b, a);
                cluster.awaitSameHeight(last.height(), Duration.ofSeconds(60));
                for (int i : new int[] {0, 1, 3}) {
                    assertEquals(pids[i], cluster.process(i).pid(), "node" + i + " was not restarted");
                }
            }
        }
    }
}
