package bftledger.node.config;

import bftledger.ledger.ChainGenesis;
import bftledger.sdk.TlsChannels;
import io.grpc.BindableService;
import io.grpc.ChannelCredentials;
import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.InsecureServerCredentials;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerCredentials;
import io.grpc.ServerInterceptor;
import io.grpc.ServerInterceptors;
import io.grpc.ServerServiceDefinition;
import io.grpc.Status;
import io.grpc.TlsServerCredentials;
import java.security.cert.Certificate;
import java.security.cert.X509Certificate;
import javax.net.ssl.SSLPeerUnverifiedException;
import javax.net.ssl.SSLSession;

/**
 * A node's transport security, bound to the network: genesis carries the network CA's
 * certificate, and the node trusts nothing else. The node serves TLS with its own certificate
 * (issued by that CA; reloaded when its files change, {@link ReloadingKeyManager}); clients need
 * no certificate, but the peer transport accepts only callers that present one issued by the
 * network CA (mutual TLS between nodes, {@link #peersOnly}); the node's own links to peers
 * present its certificate and check the peer's against the peer's genesis host name.
 *
 * <p>Plaintext needs both: a genesis without a CA ({@code init --plaintext}) and
 * {@code tls.plaintext=true} in the node config. Either one alone is refused at start with the
 * reason, so a node never silently drops to plaintext (see NetworkTlsTest).
 */
public final class NetworkTls {
    private final X509Certificate ca;
    private final ReloadingKeyManager keys;

    private NetworkTls(X509Certificate ca, ReloadingKeyManager keys) {
        this.ca = ca;
        this.keys = keys;
    }

    /** The node's TLS from its config and genesis; a mismatch or a bad file is a {@link ConfigException}. */
    public static NetworkTls forNode(NodeConfig.Tls tls, ChainGenesis genesis) throws ConfigException {
        boolean genesisTls = !genesis.genesis().getTlsCaCertificate().isEmpty();
        if (tls.plaintext()) {
            if (genesisTls) {
                throw new ConfigException("the node config says tls.plaintext=true, but genesis names a TLS CA: the network"
                        + " runs TLS. Remove tls.plaintext and set tls.cert.file and tls.key.file (node<i>/tls/ from init).");
            }
            return new NetworkTls(null, null);
        }
        if (!genesisTls) {
            throw new ConfigException("genesis names no TLS CA (the network was created with `init --plaintext`), but the"
                    + " node config asks for TLS. Set tls.plaintext=true to run this network without TLS.");
        }
        X509Certificate ca;
        try {
            ca = TlsChannels.caCertificate(genesis.genesis().getTlsCaCertificate());
        } catch (IllegalArgumentException e) {
            throw new ConfigException(e.getMessage() + ". Copy the network's genesis.bin again.", e);
        }
        return new NetworkTls(ca, new ReloadingKeyManager(tls.certFile(), tls.keyFile(), ca, System::nanoTime));
    }

    public boolean plaintext() {
        return keys == null;
    }

    /** The certificate the node serves now (null on plaintext). */
    public X509Certificate certificate() {
        return keys == null ? null : keys.certificate();
    }

    /** For the node's gRPC server: TLS with its certificate; a client certificate is asked for but not required. */
    public ServerCredentials serverCredentials() {
        if (plaintext()) {
            return InsecureServerCredentials.create();
        }
        return TlsServerCredentials.newBuilder().keyManager(keys).trustManager(TlsChannels.trustManager(ca))
                .clientAuth(TlsServerCredentials.ClientAuth.OPTIONAL).build();
    }

    /** For the node's links to its peers: TLS trusting the network CA, presenting the node's certificate. */
    public ChannelCredentials peerCredentials() {
        return plaintext() ? InsecureChannelCredentials.create() : TlsChannels.credentials(ca, keys);
    }

    /**
     * {@code service} (the peer transport) reachable only by callers whose TLS client certificate
     * the network CA issued; others get UNAUTHENTICATED before any handler runs. On a plaintext
     * network the service is returned as it is (peers are then known by their signed hello alone).
     */
    public ServerServiceDefinition peersOnly(BindableService service) {
        if (plaintext()) {
            return service.bindService();
        }
        return ServerInterceptors.intercept(service, new ServerInterceptor() {
            @Override
            public <Q, A> ServerCall.Listener<Q> interceptCall(ServerCall<Q, A> call, Metadata headers, ServerCallHandler<Q, A> next) {
                String refusal = refusal(call.getAttributes().get(Grpc.TRANSPORT_ATTR_SSL_SESSION));
                if (refusal != null) {
                    call.close(Status.UNAUTHENTICATED.withDescription(refusal), new Metadata());
                    return new ServerCall.Listener<>() {};
                }
                return next.startCall(call, headers);
            }
        });
    }

    /** Why a caller of the peer transport is refused, or null (the TLS layer has checked the chain to the CA already). */
    static String refusal(SSLSession session) {
        if (session == null) {
            return "the peer transport needs TLS";
        }
        try {
            Certificate[] chain = session.getPeerCertificates();
            return chain.length > 0 ? null : "the peer transport needs a node certificate";
        } catch (SSLPeerUnverifiedException e) {
            return "the peer transport needs a client certificate issued by the network CA (a node's)";
        }
    }
}
