package bftledger.sdk;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import bftledger.api.proto.GetStatusRequest;
import bftledger.api.proto.GetStatusResponse;
import bftledger.api.proto.LedgerApiGrpc;
import bftledger.crypto.KeyPair;
import bftledger.crypto.Sha256;
import io.grpc.Context;
import io.grpc.Contexts;
import io.grpc.Grpc;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.Server;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.stub.StreamObserver;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;

/** The client's own choice of route: its connections leave from the source address it names. */
class DialingTest {
    private static final Context.Key<InetSocketAddress> REMOTE = Context.key("remote");

    @Test
    void connectionsLeaveFromTheChosenSourceAddress() throws Exception {
        Server server = NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0))
                .addService(new LedgerApiGrpc.LedgerApiImplBase() {
                    @Override
                    public void getStatus(GetStatusRequest request, StreamObserver<GetStatusResponse> out) {
                        out.onNext(GetStatusResponse.newBuilder().setName(REMOTE.get().getAddress().getHostAddress()).build());
                        out.onCompleted();
                    }
                })
                .intercept(new ServerInterceptor() {
                    @Override
                    public <Q, R> ServerCall.Listener<Q> interceptCall(ServerCall<Q, R> call, Metadata headers,
                                                                      ServerCallHandler<Q, R> next) {
                        InetSocketAddress from = (InetSocketAddress) call.getAttributes().get(Grpc.TRANSPORT_ATTR_REMOTE_ADDR);
                        return Contexts.interceptCall(Context.current().withValue(REMOTE, from), call, headers, next);
                    }
                }).build().start();
        try {
            List<KeyPair> keys = IntStream.range(0, 4).mapToObj(i -> KeyPair.generate()).toList();
            String address = "127.0.0.1:" + server.getPort();
            Network network = new Network("dialing-test", keys.stream().map(KeyPair::publicKey).toList(),
                    List.of(address, address, address, address), Sha256.hash(new byte[] {1})).withPlaintext();
            assertNull(network.dialing().source());
            assertEquals("127.0.0.1", statusName(network));
            Network fromElsewhere = network.withSourceAddress(InetAddress.getByName("127.0.0.2"));
            assertEquals("127.0.0.2", statusName(fromElsewhere), "the replica sees the chosen source address");
            assertEquals(true, fromElsewhere.withDialAddress(1, address).dialing().plaintext());
            assertEquals(InetAddress.getByName("127.0.0.2"), fromElsewhere.withDialAddress(1, address).dialing().source(),
                    "other dialing choices keep the source");
        } finally {
            server.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
        }
    }

    private static String statusName(Network network) throws InterruptedException {
        ManagedChannel channel = TlsChannels.builder(network, 0).build();
        try {
            return LedgerApiGrpc.newBlockingStub(channel).withDeadlineAfter(20, TimeUnit.SECONDS)
                    .getStatus(GetStatusRequest.getDefaultInstance()).getName();
        } finally {
            channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
        }
    }
}
