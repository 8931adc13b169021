package bftledger.node.edge;

import bftledger.api.Wire;
import io.grpc.Context;
import io.grpc.Contexts;
import io.grpc.ForwardingServerCall;
import io.grpc.ForwardingServerCallListener;
import io.grpc.Grpc;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallExecutorSupplier;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.Status;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.util.EnumMap;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BiConsumer;
import java.util.function.LongSupplier;

/**
 * Bulkheads and load shedding for the replica's gRPC server. Every call is put in a lane by its
 * method: peer consensus streams, catch-up block fetches, client submissions, client queries,
 * and the rest (health, reflection). Each lane runs on its own threads, so a flood of client
 * calls cannot take the threads that deliver consensus messages, and each lane admits at most
 * its cap of calls in flight. A call beyond the cap, or from an address over its rate, is
 * refused at once with RESOURCE_EXHAUSTED, a {@link Wire#RETRY_AFTER_MILLIS} hint and
 * a {@link Wire#REFUSAL_REASON}; it is never queued. Since every lane's in-flight
 * calls are capped, so are its executor queues. A lane's cap is one atomic counter; a
 * Resilience4j bulkhead would be the same counter behind a dependency. The per-address rate is
 * {@link KeyedRateLimiter} (Bucket4j buckets).
 *
 * <p>How it hooks into gRPC: the server asks {@link #getExecutor} for each new call (on the
 * default executor, before any application code); that decision is written into the call's
 * headers, and {@link #interceptor()} (which runs on the chosen executor with the same headers)
 * carries it out: close a refused call, or release the admitted call's slot when it ends.
 */
public final class Bulkheads implements ServerCallExecutorSupplier, AutoCloseable {
    public enum Lane { PEER, CATCH_UP, SUBMIT, QUERY, OTHER }

    private static final Metadata.Key<String> SHED = Metadata.Key.of("bftledger-internal-shed", Metadata.ASCII_STRING_MARSHALLER);
    private static final Metadata.Key<String> ADMITTED = Metadata.Key.of("bftledger-internal-admitted",
            Metadata.ASCII_STRING_MARSHALLER);

    /**
     * The remote IP address of the client call being served (set for every admitted submission or
     * query), so that what the call turns out to be (a bad signature) can be charged to it.
     */
    public static final Context.Key<InetAddress> CALLER = Context.key("bftledger-caller-address");

    /** Told of every refused call: lane and reason ("in-flight-cap", "queue-full", "address-rate", "bad-signatures"). */
    public interface ShedListener extends BiConsumer<Lane, String> {}

    private final AdmissionLimits limits;
    private final ShedListener onShed;
    private final Map<Lane, ExecutorService> executors = new EnumMap<>(Lane.class);
    private final Map<Lane, AtomicInteger> inFlight = new EnumMap<>(Lane.class);
    private final KeyedRateLimiter<InetAddress> addresses;
    /** Bad signatures forgiven per address: spent by {@link #badSignatures}, checked before a submission is read. */
    private final KeyedRateLimiter<InetAddress> badSignatures;
    /** Told of an address the moment its bad-signature budget is spent (the {@link ConnectionGate} closes its connections). */
    private final java.util.function.Consumer<InetAddress> onBudgetSpent;

    public Bulkheads(AdmissionLimits limits, LongSupplier clock, ShedListener onShed) {
        this(limits, clock, onShed, address -> {});
    }

    public Bulkheads(AdmissionLimits limits, LongSupplier clock, ShedListener onShed,
                     java.util.function.Consumer<InetAddress> onBudgetSpent) {
        this.limits = limits;
        this.onShed = onShed;
        this.onBudgetSpent = onBudgetSpent;
        this.addresses = new KeyedRateLimiter<>(limits.addressRatePerSecond(), limits.addressBurst(), limits.rateKeysMax(), clock);
        this.badSignatures = new KeyedRateLimiter<>(limits.badSignatureRatePerSecond(), limits.badSignatureBurst(),
                limits.rateKeysMax(), clock);
        // Thread counts fit 4 JVMs on 2 cores: consensus frames are handed on to the verify pool at
        // once, so one thread per lane keeps up; submissions verify a signature each, so two.
        executors.put(Lane.PEER, Executors.newFixedThreadPool(2, daemon("grpc-peer")));
        executors.put(Lane.CATCH_UP, Executors.newFixedThreadPool(1, daemon("grpc-catchup")));
        executors.put(Lane.SUBMIT, Executors.newFixedThreadPool(2, daemon("grpc-submit")));
        executors.put(Lane.QUERY, Executors.newFixedThreadPool(1, daemon("grpc-query")));
        for (Lane lane : Lane.values()) {
            inFlight.put(lane, new AtomicInteger());
        }
    }

    public static Lane laneOf(String fullMethodName) {
        return switch (fullMethodName) {
            case "bftledger.peer.v1.PeerTransport/Connect" -> Lane.PEER;
            case "bftledger.peer.v1.PeerTransport/FetchBlocks", "bftledger.peer.v1.PeerTransport/ListStateSnapshots",
                 "bftledger.peer.v1.PeerTransport/GetStateManifest", "bftledger.peer.v1.PeerTransport/FetchStateChunk",
                 "bftledger.peer.v1.PeerTransport/GetHeaderProof" -> Lane.CATCH_UP;
            case "bftledger.api.v1.LedgerApi/SubmitTransaction", "bftledger.api.v1.LedgerApi/SubmitTransactions" -> Lane.SUBMIT;
            case "bftledger.api.v1.LedgerApi/GetTransaction", "bftledger.api.v1.LedgerApi/GetBlock",
                 "bftledger.api.v1.LedgerApi/GetAccount", "bftledger.api.v1.LedgerApi/GetStatus",
                 "bftledger.api.v1.LedgerApi/GetEvidence", "bftledger.api.v1.LedgerApi/StreamBlocks" -> Lane.QUERY;
            default -> Lane.OTHER;
        };
    }

    private int cap(Lane lane) {
        return switch (lane) {
            case PEER -> limits.peerStreamsMax();
            case CATCH_UP -> limits.catchUpInFlightMax();
            case SUBMIT -> limits.submitInFlightMax();
            case QUERY -> limits.queryInFlightMax();
            case OTHER -> Integer.MAX_VALUE;
        };
    }

    public int inFlight(Lane lane) {
        return inFlight.get(lane).get();
    }

    @Override
    public <ReqT, RespT> java.util.concurrent.Executor getExecutor(ServerCall<ReqT, RespT> call, Metadata headers) {
        Lane lane = laneOf(call.getMethodDescriptor().getFullMethodName());
        if (lane == Lane.OTHER) {
            return null; // the server's default executor
        }
        if (lane == Lane.SUBMIT || lane == Lane.QUERY) {
            InetAddress from = remoteAddress(call);
            if (from != null) {
                // Before the rate's token is taken: a forger's refused calls do not use up its address's rate.
                long spent = lane == Lane.SUBMIT ? badSignatures.waitMillis(from) : 0;
                if (spent > 0) {
                    headers.put(SHED, "bad-signatures:" + spent);
                    return Runnable::run;
                }
                long wait = addresses.tryAcquire(from);
                if (wait > 0) {
                    headers.put(SHED, "address-rate:" + wait);
                    return Runnable::run;
                }
            }
        }
        if (lane != Lane.PEER && queued(lane) >= limits.laneQueueMax()) {
            headers.put(SHED, "queue-full:" + limits.shedRetryAfterMillis());
            return Runnable::run;
        }
        AtomicInteger count = inFlight.get(lane);
        if (count.incrementAndGet() > cap(lane)) {
            count.decrementAndGet();
            headers.put(SHED, "in-flight-cap:" + limits.shedRetryAfterMillis());
            // The refusal is a close without crypto or I/O: run it right here.
            return Runnable::run;
        }
        headers.put(ADMITTED, lane.name());
        return executors.get(lane);
    }

    /**
     * Charges {@code count} bad signatures to the address of the call being served
     * ({@link #CALLER}); once its budget is spent, its submissions are refused unread.
     */
    public void badSignatures(int count) {
        InetAddress from = CALLER.get();
        if (from != null && count > 0) {
            badSignatures.take(from, count);
            if (badSignatures.waitMillis(from) > 0) {
                onBudgetSpent.accept(from);
            }
        }
    }

    /** How long {@code address} must wait for a bad signature to be forgiven again: 0 while it has budget left. */
    public long badSignatureWaitMillis(InetAddress address) {
        return badSignatures.waitMillis(address);
    }

    private static InetAddress remoteAddress(ServerCall<?, ?> call) {
        SocketAddress a = call.getAttributes().get(Grpc.TRANSPORT_ATTR_REMOTE_ADDR);
        return a instanceof InetSocketAddress inet ? inet.getAddress() : null;
    }

    /** Carries out {@link #getExecutor}'s decision; add it to every service of the server. */
    public ServerInterceptor interceptor() {
        return new ServerInterceptor() {
            @Override
            public <ReqT, RespT> ServerCall.Listener<ReqT> interceptCall(ServerCall<ReqT, RespT> call, Metadata headers,
                                                                         ServerCallHandler<ReqT, RespT> next) {
                Lane lane = laneOf(call.getMethodDescriptor().getFullMethodName());
                String shed = headers.get(SHED);
                if (shed != null) {
                    int colon = shed.indexOf(':');
                    String reason = shed.substring(0, colon);
                    onShed.accept(lane, reason);
                    Metadata trailers = new Metadata();
                    trailers.put(Wire.RETRY_AFTER_MILLIS, shed.substring(colon + 1));
                    trailers.put(Wire.REFUSAL_REASON, reason);
                    call.close(Status.RESOURCE_EXHAUSTED.withDescription("replica overloaded (" + lane.name().toLowerCase()
                            + " " + reason + "); retry after " + shed.substring(colon + 1) + " ms"), trailers);
                    return new ServerCall.Listener<>() {};
                }
                if (headers.get(ADMITTED) == null) {
                    return next.startCall(call, headers);
                }
                AtomicInteger count = inFlight.get(lane);
                AtomicBoolean released = new AtomicBoolean();
                Runnable release = () -> {
                    if (released.compareAndSet(false, true)) {
                        count.decrementAndGet();
                    }
                };
                ServerCall<ReqT, RespT> releasing = new ForwardingServerCall.SimpleForwardingServerCall<>(call) {
                    @Override
                    public void close(Status status, Metadata trailers) {
                        try {
                            super.close(status, trailers);
                        } finally {
                            release.run();
                        }
                    }
                };
                ServerCall.Listener<ReqT> listener;
                try {
                    InetAddress from = remoteAddress(call);
                    listener = from == null ? next.startCall(releasing, headers)
                            : Contexts.interceptCall(Context.current().withValue(CALLER, from), releasing, headers, next);
                } catch (RuntimeException e) {
                    release.run();
                    throw e;
                }
                return new ForwardingServerCallListener.SimpleForwardingServerCallListener<>(listener) {
                    @Override
                    public void onCancel() {
                        try {
                            super.onCancel();
                        } finally {
                            release.run();
                        }
                    }

                    @Override
                    public void onComplete() {
                        try {
                            super.onComplete();
                        } finally {
                            release.run();
                        }
                    }
                };
            }
        };
    }

    /** The executor queue lengths, for metrics. */
    public int queued(Lane lane) {
        ExecutorService e = executors.get(lane);
        return e instanceof java.util.concurrent.ThreadPoolExecutor t ? t.getQueue().size() : 0;
    }

    @Override
    public void close() {
        executors.values().forEach(ExecutorService::shutdownNow);
        for (ExecutorService e : executors.values()) {
            try {
                e.awaitTermination(2, TimeUnit.SECONDS);
            } catch (InterruptedException ie) {
                Thread.currentThread().interrupt();
                return;
            }
        }
    }

    private static java.util.concurrent.ThreadFactory daemon(String name) {
        AtomicInteger count = new AtomicInteger();
        return r -> {
            Thread t = new Thread(r, name + "-" + count.incrementAndGet());
            t.setDaemon(true);
            return t;
        };
    }
}
