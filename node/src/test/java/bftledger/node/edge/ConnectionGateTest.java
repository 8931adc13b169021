package bftledger.node.edge;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import bftledger.api.Wire;
import bftledger.api.proto.GetStatusRequest;
import bftledger.api.proto.GetStatusResponse;
import bftledger.api.proto.LedgerApiGrpc;
import bftledger.api.proto.SubmitRequest;
import bftledger.api.proto.SubmitResponse;
import io.grpc.ManagedChannel;
import io.grpc.Server;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.stub.StreamObserver;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The connection gate on a real gRPC server, with clients leaving from two loopback addresses:
 * an address that spends its bad-signature budget loses its connections and is refused at TCP
 * until the budget comes back, an exempt (validator) address never is, and the bounds on open
 * connections per address hold.
 */
class ConnectionGateTest {
    private static final InetAddress FORGER = address("127.0.0.2");
    private static final InetAddress VALIDATOR = address("127.0.0.1");

    private final Map<String, AtomicInteger> refused = new ConcurrentHashMap<>();
    private final ExecutorService defaultExecutor = Executors.newFixedThreadPool(2);
    private final List<ManagedChannel> channels = new ArrayList<>();
    private Server server;
    private Bulkheads bulkheads;
    private ConnectionGate gate;

    @AfterEach
    void stop() throws InterruptedException {
        channels.forEach(ManagedChannel::shutdownNow);
        if (server != null) {
            server.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
        }
        if (gate != null) {
            gate.close();
        }
        if (bulkheads != null) {
            bulkheads.close();
        }
        defaultExecutor.shutdownNow();
    }

    /** Every submission is forged: it charges one bad signature to its caller, as the node does. */
    private void start(long badSignatureBurst, int perAddressMax) throws Exception {
        AdmissionLimits limits = new AdmissionLimits(100, 100, 16, 4, 1_000, 10_000, 10_000, 1_000, 1_000, 1,
                badSignatureBurst, 100, 250);
        gate = new ConnectionGate(a -> bulkheads.badSignatureWaitMillis(a), () -> Set.of(VALIDATOR),
                (reason, count) -> refused.computeIfAbsent(reason, k -> new AtomicInteger()).addAndGet(count), 1,
                perAddressMax, 1_000);
        bulkheads = new Bulkheads(limits, System::nanoTime, (lane, reason) -> { }, gate::closeConnections);
        server = NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0)).executor(defaultExecutor)
                .channelFactory(gate.channelFactory()).bossEventLoopGroup(gate.boss()).workerEventLoopGroup(gate.workers())
                .callExecutor(bulkheads).intercept(bulkheads.interceptor())
                .addService(new LedgerApiGrpc.LedgerApiImplBase() {
                    @Override
                    public void submitTransaction(SubmitRequest request, StreamObserver<SubmitResponse> out) {
                        bulkheads.badSignatures(1);
                        out.onNext(SubmitResponse.getDefaultInstance());
                        out.onCompleted();
                    }

                    @Override
                    public void getStatus(GetStatusRequest request, StreamObserver<GetStatusResponse> out) {
                        out.onNext(GetStatusResponse.newBuilder().setName("alive").build());
                        out.onCompleted();
                    }
                }).build().start();
    }

    private ManagedChannel channelFrom(InetAddress source) {
        ManagedChannel channel = NettyChannelBuilder.forAddress("127.0.0.1", server.getPort()).usePlaintext()
                .localSocketPicker(new NettyChannelBuilder.LocalSocketPicker() {
                    @Override
                    public SocketAddress createSocketAddress(SocketAddress remote, io.grpc.Attributes attrs) {
                        return new InetSocketAddress(source, 0);
                    }
                }).build();
        channels.add(channel);
        return channel;
    }

    private static LedgerApiGrpc.LedgerApiBlockingStub stub(ManagedChannel channel) {
        return LedgerApiGrpc.newBlockingStub(channel).withDeadlineAfter(20, TimeUnit.SECONDS);
    }

    @Test
    void anAddressThatSpendsItsBudgetLosesItsConnectionsUntilTheBudgetComesBack() throws Exception {
        start(3, 100);
        ManagedChannel forger = channelFrom(FORGER);
        ManagedChannel reader = channelFrom(FORGER);
        assertEquals("alive", stub(reader).getStatus(GetStatusRequest.getDefaultInstance()).getName());
        assertEquals("alive", stub(forger).getStatus(GetStatusRequest.getDefaultInstance()).getName());
        assertEquals(2, gate.tracked(), "both connections from the gated address are tracked");
        for (int i = 0; i < 2; i++) {
            stub(forger).submitTransaction(SubmitRequest.getDefaultInstance());
        }
        // The third bad signature spends the budget: the address's connections are closed, the
        // one carrying this call included (its answer may or may not get out first).
        try {
            stub(forger).submitTransaction(SubmitRequest.getDefaultInstance());
        } catch (StatusRuntimeException closed) {
            assertEquals(Status.Code.UNAVAILABLE, closed.getStatus().getCode());
        }
        assertEquals(2, refused.get("bad-signatures-closed").get());
        waitUntil(() -> gate.tracked() == 0, "closed connections are forgotten");
        // A new connection from it is held unanswered: the call waits, and never reaches gRPC's server.
        ManagedChannel again = channelFrom(FORGER);
        StatusRuntimeException held = assertThrows(StatusRuntimeException.class, () -> LedgerApiGrpc.newBlockingStub(again)
                .withDeadlineAfter(300, TimeUnit.MILLISECONDS).getStatus(GetStatusRequest.getDefaultInstance()));
        assertEquals(Status.Code.DEADLINE_EXCEEDED, held.getStatus().getCode());
        assertEquals(1, refused.getOrDefault("bad-signatures", new AtomicInteger()).get(), "held at accept: " + refused);
        assertEquals(1, gate.tracked(), "the held connection counts against the address's bound");
        // One bad signature is forgiven a second: the held connection is closed then, and the
        // client's next connection is served.
        assertEquals("alive", stub(again).withWaitForReady().getStatus(GetStatusRequest.getDefaultInstance()).getName());
    }

    @Test
    void aValidatorsAddressKeepsItsConnectionsAndIsRefusedPerCall() throws Exception {
        start(2, 100);
        ManagedChannel fromValidator = channelFrom(VALIDATOR);
        stub(fromValidator).submitTransaction(SubmitRequest.getDefaultInstance());
        stub(fromValidator).submitTransaction(SubmitRequest.getDefaultInstance());
        StatusRuntimeException perCall = assertThrows(StatusRuntimeException.class,
                () -> stub(fromValidator).submitTransaction(SubmitRequest.getDefaultInstance()));
        assertEquals(Status.Code.RESOURCE_EXHAUSTED, perCall.getStatus().getCode());
        assertEquals("bad-signatures", perCall.getTrailers().get(Wire.REFUSAL_REASON));
        assertEquals("alive", stub(fromValidator).getStatus(GetStatusRequest.getDefaultInstance()).getName(),
                "the same connection still serves reads");
        assertEquals("alive", stub(channelFrom(VALIDATOR)).getStatus(GetStatusRequest.getDefaultInstance()).getName(),
                "and new connections are accepted");
        assertEquals(Map.of(), Map.copyOf(refused), "nothing refused or closed at the connection level");
        assertEquals(0, gate.tracked(), "exempt connections are not tracked");
    }

    @Test
    void connectionsBeyondTheBoundPerAddressAreRefused() throws Exception {
        start(100, 2);
        for (int i = 0; i < 2; i++) {
            assertEquals("alive", stub(channelFrom(FORGER)).getStatus(GetStatusRequest.getDefaultInstance()).getName());
        }
        StatusRuntimeException third = assertThrows(StatusRuntimeException.class,
                () -> stub(channelFrom(FORGER)).getStatus(GetStatusRequest.getDefaultInstance()));
        assertEquals(Status.Code.UNAVAILABLE, third.getStatus().getCode());
        assertEquals(1, refused.get("connections-per-address").get());
        assertEquals("alive", stub(channelFrom(VALIDATOR)).getStatus(GetStatusRequest.getDefaultInstance()).getName(),
                "another address is not affected");
    }

    private static void waitUntil(java.util.function.BooleanSupplier condition, String what) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("timed out: " + what);
            }
            Thread.sleep(20);
        }
    }

    private static InetAddress address(String literal) {
        try {
            return InetAddress.getByName(literal);
        } catch (java.net.UnknownHostException e) {
            throw new IllegalStateException(e);
        }
    }
}
