package bftledger.node.config;

import java.net.Socket;
import java.nio.file.Path;
import java.security.Principal;
import java.security.PrivateKey;
import java.security.cert.X509Certificate;
import java.time.Instant;
import java.util.Arrays;
import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.X509ExtendedKeyManager;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A node's TLS key and certificate, read from its two files and read again when they change, so
 * a rotated certificate is served from the next handshake on without restarting anything.
 * Connections already open keep the certificate they were made with. The files are looked at
 * when a handshake asks for the key, at most once per {@link #CHECK_INTERVAL_MILLIS}. New files
 * are taken only whole and valid (issued by the network CA, in their validity period, the key
 * matching): anything else is logged ({@code event=tls-reload-refused}) and the current material
 * stays, since a half-written or wrong pair must not take a running node off the network. See
 * NetworkTlsTest#aRotatedCertificateIsServedWithoutRestart and #aBadRotationKeepsTheOldCertificate.
 */
final class ReloadingKeyManager extends X509ExtendedKeyManager {
    private static final Logger log = LoggerFactory.getLogger(ReloadingKeyManager.class);
    static final long CHECK_INTERVAL_MILLIS = 1_000;
    private static final String ALIAS_PREFIX = "node-";

    /**
     * One generation of key material. A handshake names the generation it chose (its alias) and
     * then asks for that generation's certificate and key, so a reload between the two calls
     * cannot pair one generation's certificate with another's key.
     */
    private record Material(long generation, X509Certificate certificate, PrivateKey key, byte[] certBytes, byte[] keyBytes) {
        String alias() {
            return ALIAS_PREFIX + generation;
        }
    }

    private final Path certFile;
    private final Path keyFile;
    private final X509Certificate ca;
    private final LongSupplier nanoClock;
    private volatile Material current;
    /** The generation before {@link #current}, for handshakes that chose it just before a reload. */
    private volatile Material previous;
    private long nextCheckNanos;

    /** Loads the files once; a problem with them is the node's start failing with the reason. */
    ReloadingKeyManager(Path certFile, Path keyFile, X509Certificate ca, LongSupplier nanoClock) throws ConfigException {
        this.certFile = certFile;
        this.keyFile = keyFile;
        this.ca = ca;
        this.nanoClock = nanoClock;
        this.current = load(0, TlsCertificates.read(certFile), TlsCertificates.read(keyFile));
        this.previous = current;
        this.nextCheckNanos = nanoClock.getAsLong() + TimeUnit.MILLISECONDS.toNanos(CHECK_INTERVAL_MILLIS);
    }

    private Material load(long generation, byte[] certBytes, byte[] keyBytes) throws ConfigException {
        X509Certificate certificate = TlsCertificates.parseCertificate(certBytes, certFile.toString());
        PrivateKey key = TlsCertificates.parsePrivateKey(keyBytes, keyFile.toString());
        String problem = TlsCertificates.problem(certificate, key, ca, Instant.now());
        if (problem != null) {
            throw new ConfigException(certFile + " and " + keyFile + ": " + problem + ". Issue the node a certificate from"
                    + " the network CA: `bftledger tls issue`.");
        }
        return new Material(generation, certificate, key, certBytes, keyBytes);
    }

    /** The certificate served now. */
    X509Certificate certificate() {
        return current.certificate();
    }

    /** Re-reads the files if the check interval has passed and they changed. */
    void maybeReload() {
        synchronized (this) {
            long now = nanoClock.getAsLong();
            if (now - nextCheckNanos < 0) {
                return;
            }
            nextCheckNanos = now + TimeUnit.MILLISECONDS.toNanos(CHECK_INTERVAL_MILLIS);
            Material was = current;
            byte[] certBytes;
            byte[] keyBytes;
            try {
                certBytes = TlsCertificates.read(certFile);
                keyBytes = TlsCertificates.read(keyFile);
            } catch (ConfigException e) {
                log.error("event=tls-reload-refused reason=\"{}\" the current certificate stays", e.getMessage());
                return;
            }
            if (Arrays.equals(certBytes, was.certBytes()) && Arrays.equals(keyBytes, was.keyBytes())) {
                return;
            }
            try {
                Material next = load(was.generation() + 1, certBytes, keyBytes);
                previous = was;
                current = next;
                log.info("event=tls-reloaded subject=\"{}\" serial={} not-after={}", current.certificate().getSubjectX500Principal(),
                        current.certificate().getSerialNumber().toString(16), current.certificate().getNotAfter().toInstant());
            } catch (ConfigException e) {
                log.error("event=tls-reload-refused reason=\"{}\" the current certificate stays", e.getMessage());
            }
        }
    }

    @Override
    public String chooseEngineServerAlias(String keyType, Principal[] issuers, SSLEngine engine) {
        maybeReload();
        return current.alias();
    }

    @Override
    public String chooseServerAlias(String keyType, Principal[] issuers, Socket socket) {
        maybeReload();
        return current.alias();
    }

    @Override
    public String chooseEngineClientAlias(String[] keyType, Principal[] issuers, SSLEngine engine) {
        maybeReload();
        return current.alias();
    }

    @Override
    public String chooseClientAlias(String[] keyType, Principal[] issuers, Socket socket) {
        maybeReload();
        return current.alias();
    }

    @Override
    public String[] getClientAliases(String keyType, Principal[] issuers) {
        return new String[] {current.alias()};
    }

    @Override
    public String[] getServerAliases(String keyType, Principal[] issuers) {
        return new String[] {current.alias()};
    }

    @Override
    public X509Certificate[] getCertificateChain(String alias) {
        Material m = generation(alias);
        return m == null ? null : new X509Certificate[] {m.certificate()};
    }

    @Override
    public PrivateKey getPrivateKey(String alias) {
        Material m = generation(alias);
        return m == null ? null : m.key();
    }

    private Material generation(String alias) {
        Material now = current;
        if (now.alias().equals(alias)) {
            return now;
        }
        Material before = previous;
        return before.alias().equals(alias) ? before : null;
    }
}
