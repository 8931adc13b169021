package bftledger.node.edge;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import bftledger.api.Wire;
import bftledger.api.proto.GetStatusRequest;
import bftledger.api.proto.GetStatusResponse;
import bftledger.api.proto.LedgerApiGrpc;
import bftledger.api.proto.SubmitRequest;
import bftledger.api.proto.SubmitResponse;
import bftledger.ledger.proto.Block;
import bftledger.node.proto.FetchBlocksRequest;
import bftledger.node.proto.PeerTransportGrpc;
import com.google.common.util.concurrent.ListenableFuture;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import io.grpc.Server;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.stub.StreamObserver;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executors;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The bulkheads on a real gRPC server: a submission lane whose threads are all stuck does not
 * hold up catch-up or queries, and calls beyond its cap are refused at once with
 * RESOURCE_EXHAUSTED and a retry-after hint, never queued.
 */
class BulkheadsTest {
    private final CountDownLatch release = new CountDownLatch(1);
    private final CountDownLatch stuck = new CountDownLatch(2);
    private final Map<String, AtomicInteger> shed = new ConcurrentHashMap<>();
    private final ExecutorService defaultExecutor = Executors.newFixedThreadPool(2);
    private Server server;
    private ManagedChannel channel;
    private Bulkheads bulkheads;
    /** When set, a submission charges one bad signature to its caller and is answered at once. */
    private volatile boolean submissionsAreForged;

    @AfterEach
    void stop() throws InterruptedException {
        release.countDown();
        if (channel != null) {
            channel.shutdownNow();
        }
        if (server != null) {
            server.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
        }
        if (bulkheads != null) {
            bulkheads.close();
        }
        defaultExecutor.shutdownNow();
    }

    private void start(AdmissionLimits limits) throws Exception {
        bulkheads = new Bulkheads(limits, System::nanoTime, (lane, reason) -> shed.computeIfAbsent(lane + "/" + reason,
                k -> new AtomicInteger()).incrementAndGet());
        server = NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0)).executor(defaultExecutor)
                .callExecutor(bulkheads).intercept(bulkheads.interceptor())
                .addService(new LedgerApiGrpc.LedgerApiImplBase() {
                    @Override
                    public void submitTransaction(SubmitRequest request, StreamObserver<SubmitResponse> out) {
                        if (submissionsAreForged) {
                            bulkheads.badSignatures(1);
                            out.onNext(SubmitResponse.getDefaultInstance());
                            out.onCompleted();
                            return;
                        }
                        // Holds a submission-lane thread, as a slow signature check under a flood would.
                        stuck.countDown();
                        try {
                            release.await(30, TimeUnit.SECONDS);
                        } catch (InterruptedException e) {
                            Thread.currentThread().interrupt();
                        }
                        out.onNext(SubmitResponse.getDefaultInstance());
                        out.onCompleted();
                    }

                    @Override
                    public void getStatus(GetStatusRequest request, StreamObserver<GetStatusResponse> out) {
                        out.onNext(GetStatusResponse.newBuilder().setName("alive").build());
                        out.onCompleted();
                    }
                })
                .addService(new PeerTransportGrpc.PeerTransportImplBase() {
                    @Override
                    public void fetchBlocks(FetchBlocksRequest request, StreamObserver<Block> out) {
                        out.onNext(Block.getDefaultInstance());
                        out.onCompleted();
                    }
                }).build().start();
        channel = ManagedChannelBuilder.forTarget("127.0.0.1:" + server.getPort()).usePlaintext().build();
    }

    @Test
    void aStuckSubmissionLaneNeitherDelaysOtherLanesNorQueuesBeyondItsCap() throws Exception {
        start(new AdmissionLimits(4, 16, 16, 4, 1_000, 10_000, 10_000, 1_000, 1_000, 1, 32, 100, 250));
        List<ListenableFuture<SubmitResponse>> held = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            held.add(LedgerApiGrpc.newFutureStub(channel).withDeadlineAfter(60, TimeUnit.SECONDS)
                    .submitTransaction(SubmitRequest.getDefaultInstance()));
        }
        assertTrue(stuck.await(20, TimeUnit.SECONDS), "both submission threads are stuck");
        // Catch-up and queries have their own threads: they are answered while submissions are stuck.
        Iterator<Block> blocks = PeerTransportGrpc.newBlockingStub(channel).withDeadlineAfter(20, TimeUnit.SECONDS)
                .fetchBlocks(FetchBlocksRequest.getDefaultInstance());
        assertTrue(blocks.hasNext());
        blocks.next();
        assertFalse(blocks.hasNext());
        assertEquals("alive", LedgerApiGrpc.newBlockingStub(channel).withDeadlineAfter(20, TimeUnit.SECONDS)
                .getStatus(GetStatusRequest.getDefaultInstance()).getName());
        // The fifth submission finds the lane at its cap of 4 in flight: refused at once, with a hint.
        StatusRuntimeException refused = assertThrows(StatusRuntimeException.class, () -> LedgerApiGrpc
                .newBlockingStub(channel).withDeadlineAfter(20, TimeUnit.SECONDS).submitTransaction(SubmitRequest.getDefaultInstance()));
        assertEquals(Status.Code.RESOURCE_EXHAUSTED, refused.getStatus().getCode());
        assertEquals("250", refused.getTrailers().get(Wire.RETRY_AFTER_MILLIS));
        assertEquals("in-flight-cap", refused.getTrailers().get(Wire.REFUSAL_REASON));
        assertEquals(1, shed.get("SUBMIT/in-flight-cap").get());
        assertEquals(4, bulkheads.inFlight(Bulkheads.Lane.SUBMIT));
        release.countDown();
        for (ListenableFuture<SubmitResponse> f : held) {
            f.get(20, TimeUnit.SECONDS);
        }
        // Slots are given back when calls end.
        for (int i = 0; i < 100 && bulkheads.inFlight(Bulkheads.Lane.SUBMIT) > 0; i++) {
            Thread.sleep(50);
        }
        assertEquals(0, bulkheads.inFlight(Bulkheads.Lane.SUBMIT));
        LedgerApiGrpc.newBlockingStub(channel).withDeadlineAfter(20, TimeUnit.SECONDS).submitTransaction(SubmitRequest.getDefaultInstance());
    }

    @Test
    void anAddressOverItsRateIsRefusedWithAnHonestHint() throws Exception {
        start(new AdmissionLimits(100, 100, 16, 4, 1_000, 1, 2, 1_000, 1_000, 1, 32, 100, 250));
        LedgerApiGrpc.LedgerApiBlockingStub stub = LedgerApiGrpc.newBlockingStub(channel).withDeadlineAfter(20, TimeUnit.SECONDS);
        stub.getStatus(GetStatusRequest.getDefaultInstance());
        stub.getStatus(GetStatusRequest.getDefaultInstance());
        StatusRuntimeException refused = assertThrows(StatusRuntimeException.class,
                () -> stub.getStatus(GetStatusRequest.getDefaultInstance()));
        assertEquals(Status.Code.RESOURCE_EXHAUSTED, refused.getStatus().getCode());
        assertEquals("address-rate", refused.getTrailers().get(Wire.REFUSAL_REASON));
        long hint = Long.parseLong(refused.getTrailers().get(Wire.RETRY_AFTER_MILLIS));
        assertTrue(hint > 0 && hint <= 1_000, "1 call/s: the next token is at most a second away, hint " + hint);
    }

    @Test
    void anAddressThatSpentItsBadSignatureBudgetIsRefusedUnreadAndMayStillRead() throws Exception {
        start(new AdmissionLimits(100, 100, 16, 4, 1_000, 10_000, 10_000, 1_000, 1_000, 1, 3, 100, 250));
        submissionsAreForged = true;
        LedgerApiGrpc.LedgerApiBlockingStub stub = LedgerApiGrpc.newBlockingStub(channel).withDeadlineAfter(20, TimeUnit.SECONDS);
        for (int i = 0; i < 3; i++) {
            stub.submitTransaction(SubmitRequest.getDefaultInstance());
        }
        StatusRuntimeException refused = assertThrows(StatusRuntimeException.class,
                () -> stub.submitTransaction(SubmitRequest.getDefaultInstance()));
        assertEquals(Status.Code.RESOURCE_EXHAUSTED, refused.getStatus().getCode());
        assertEquals("bad-signatures", refused.getTrailers().get(Wire.REFUSAL_REASON));
        long hint = Long.parseLong(refused.getTrailers().get(Wire.RETRY_AFTER_MILLIS));
        assertTrue(hint > 0 && hint <= 1_000, "1 bad signature forgiven per second: hint " + hint);
        assertEquals(1, shed.get("SUBMIT/bad-signatures").get());
        assertEquals("alive", stub.getStatus(GetStatusRequest.getDefaultInstance()).getName(), "reads are not refused");
        // A token comes back within the second; the address's next submission is read again.
        Thread.sleep(hint + 50);
        stub.submitTransaction(SubmitRequest.getDefaultInstance());
    }
}
