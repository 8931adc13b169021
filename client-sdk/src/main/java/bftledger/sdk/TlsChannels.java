package bftledger.sdk;

import bftledger.ledger.ValidatorSets.ValidatorSet;
import com.google.protobuf.ByteString;
import io.grpc.ChannelCredentials;
import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.ManagedChannelBuilder;
import io.grpc.TlsChannelCredentials;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.cert.CertificateException;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import javax.net.ssl.KeyManager;
import javax.net.ssl.TrustManager;
import javax.net.ssl.TrustManagerFactory;
import javax.net.ssl.X509ExtendedTrustManager;

/**
 * gRPC channels to a network's replicas. Over TLS a channel trusts exactly one certificate
 * authority, the one genesis names, and checks the replica's certificate against the host name
 * of the replica's address (genesis's, or the one its later validator set names), also when
 * {@link Dialing#overrides()} sends the connection elsewhere (the authority stays that address).
 * Plaintext only when the network has no CA and the caller asked for it
 * ({@link Network#withPlaintext()}); every other combination is refused with the reason (see
 * NetworkTlsTest in the node module).
 */
public final class TlsChannels {
    private TlsChannels() {}

    /** A channel builder for replica {@code replica}, as a client (no client certificate). */
    public static ManagedChannelBuilder<?> builder(Network network, int replica) {
        return builder(network, replica, null);
    }

    /**
     * A channel builder for replica {@code replica}; {@code clientKey} (a node's own TLS key,
     * for mutual TLS between nodes) may be null.
     */
    public static ManagedChannelBuilder<?> builder(Network network, int replica, KeyManager clientKey) {
        return builder(network, network.validators().sets().get(0), replica, clientKey);
    }

    /**
     * A channel builder for validator {@code replica} of {@code set} (one of the sets
     * {@code network} follows): dialled at {@link Network#dialAddress(ValidatorSet, int)}, its
     * certificate checked against the host name of its address in that set.
     */
    public static ManagedChannelBuilder<?> builder(Network network, ValidatorSet set, int replica, KeyManager clientKey) {
        ManagedChannelBuilder<?> builder = Grpc.newChannelBuilder(network.dialAddress(set, replica), credentials(network, clientKey));
        if (network.tls()) {
            builder.overrideAuthority(set.validators().get(replica).getAddress());
        }
        java.net.InetAddress source = network.dialing().source();
        if (source != null) {
            if (!(builder instanceof io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder netty)) {
                throw new IllegalStateException("a source address needs gRPC's Netty transport; this one is "
                        + builder.getClass().getName());
            }
            netty.localSocketPicker(new io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder.LocalSocketPicker() {
                @Override
                public java.net.SocketAddress createSocketAddress(java.net.SocketAddress remote, io.grpc.Attributes attrs) {
                    return new java.net.InetSocketAddress(source, 0);
                }
            });
        }
        return builder;
    }

    /** The credentials for every channel to {@code network}; {@code clientKey} may be null. */
    public static ChannelCredentials credentials(Network network, KeyManager clientKey) {
        if (network.dialing().plaintext()) {
            if (network.tls()) {
                throw new IllegalArgumentException("the genesis of chain " + network.chainId() + " names a TLS CA: its nodes"
                        + " speak TLS only. Connect without asking for plaintext (drop --plaintext).");
            }
            return InsecureChannelCredentials.create();
        }
        if (!network.tls()) {
            throw new IllegalArgumentException("the genesis of chain " + network.chainId() + " names no TLS CA: the network"
                    + " was created without TLS (init --plaintext). Connecting without TLS must be asked for:"
                    + " --plaintext on the command line, Network.withPlaintext() in the SDK.");
        }
        return credentials(caCertificate(network.tlsCaCertificate()), clientKey);
    }

    /** TLS credentials that trust {@code ca} alone; {@code clientKey} may be null. */
    public static ChannelCredentials credentials(X509Certificate ca, KeyManager clientKey) {
        TlsChannelCredentials.Builder tls = TlsChannelCredentials.newBuilder().trustManager(trustManager(ca));
        if (clientKey != null) {
            tls.keyManager(clientKey);
        }
        return tls.build();
    }

    /** Parses the CA certificate genesis carries (DER). */
    public static X509Certificate caCertificate(ByteString der) {
        try {
            X509Certificate ca = (X509Certificate) CertificateFactory.getInstance("X.509")
                    .generateCertificate(new ByteArrayInputStream(der.toByteArray()));
            if (ca.getBasicConstraints() < 0) {
                throw new IllegalArgumentException("the TLS CA certificate in genesis is not a CA certificate ("
                        + ca.getSubjectX500Principal() + ")");
            }
            return ca;
        } catch (CertificateException e) {
            throw new IllegalArgumentException("the TLS CA certificate in genesis does not parse: " + e.getMessage(), e);
        }
    }

    /** A trust manager whose only anchor is {@code ca} (PKIX: chain, validity, key usage, host name when asked). */
    public static X509ExtendedTrustManager trustManager(X509Certificate ca) {
        try {
            KeyStore anchors = KeyStore.getInstance("PKCS12");
            anchors.load(null, null);
            anchors.setCertificateEntry("network-ca", ca);
            TrustManagerFactory factory = TrustManagerFactory.getInstance("PKIX");
            factory.init(anchors);
            for (TrustManager tm : factory.getTrustManagers()) {
                if (tm instanceof X509ExtendedTrustManager x509) {
                    return x509;
                }
            }
            throw new IllegalStateException("the JDK's PKIX trust manager factory made no X509ExtendedTrustManager");
        } catch (GeneralSecurityException | IOException e) {
            throw new IllegalStateException("cannot build a trust manager for the network CA: " + e, e);
        }
    }
}
