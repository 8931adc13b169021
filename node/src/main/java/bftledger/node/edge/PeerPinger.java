package bftledger.node.edge;

import com.google.common.util.concurrent.FutureCallback;
import com.google.common.util.concurrent.Futures;
import com.google.common.util.concurrent.MoreExecutors;
import io.grpc.Channel;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthCheckResponse;
import io.grpc.health.v1.HealthGrpc;
import java.util.Optional;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.IntFunction;

/**
 * Pings every peer on a fixed period with a gRPC health check under a deadline and reports the
 * round-trip time to {@link PeerLiveness}. Consensus traffic alone says when a peer was last
 * heard, but an idle network is quiet and a hung (SIGSTOPped) peer keeps its TCP stream open;
 * the ping's deadline tells them apart within one period. At most one ping per peer is in
 * flight: a peer that does not answer is not pinged again until its deadline passes.
 */
public final class PeerPinger implements AutoCloseable {
    private final int self;
    private final int n;
    private final PeerLiveness liveness;
    private final IntFunction<Optional<? extends Channel>> channels;
    private final long timeoutMillis;
    private final boolean[] inFlight;
    private ScheduledFuture<?> task;

    public PeerPinger(int self, int n, PeerLiveness liveness, IntFunction<Optional<? extends Channel>> channels, long timeoutMillis) {
        this.self = self;
        this.n = n;
        this.liveness = liveness;
        this.channels = channels;
        this.timeoutMillis = timeoutMillis;
        this.inFlight = new boolean[n];
    }

    public void start(ScheduledExecutorService timers, long periodMillis) {
        task = timers.scheduleWithFixedDelay(this::pingAll, periodMillis, periodMillis, TimeUnit.MILLISECONDS);
    }

    void pingAll() {
        for (int p = 0; p < n; p++) {
            if (p != self) {
                ping(p);
            }
        }
    }

    private void ping(int peer) {
        synchronized (inFlight) {
            if (inFlight[peer]) {
                return;
            }
            inFlight[peer] = true;
        }
        Optional<? extends Channel> channel = channels.apply(peer);
        if (channel.isEmpty()) {
            done(peer);
            return;
        }
        long start = System.nanoTime();
        Futures.addCallback(HealthGrpc.newFutureStub(channel.get()).withDeadlineAfter(timeoutMillis, TimeUnit.MILLISECONDS)
                .check(HealthCheckRequest.getDefaultInstance()), new FutureCallback<>() {
                    @Override
                    public void onSuccess(HealthCheckResponse response) {
                        if (response.getStatus() == HealthCheckResponse.ServingStatus.SERVING) {
                            liveness.onPingAnswered(peer, System.nanoTime() - start);
                        }
                        done(peer);
                    }

                    @Override
                    public void onFailure(Throwable t) {
                        done(peer);
                    }
                }, MoreExecutors.directExecutor());
    }

    private void done(int peer) {
        synchronized (inFlight) {
            inFlight[peer] = false;
        }
    }

    @Override
    public void close() {
        if (task != null) {
            task.cancel(false);
        }
    }
}
