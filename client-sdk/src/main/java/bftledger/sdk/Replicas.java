package bftledger.sdk;

import bftledger.api.proto.LedgerApiGrpc;
import bftledger.sdk.resilience.Backoff;
import bftledger.sdk.resilience.CircuitBreaker;
import bftledger.sdk.resilience.RetryBudget;
import com.google.common.util.concurrent.FutureCallback;
import com.google.common.util.concurrent.Futures;
import com.google.common.util.concurrent.ListenableFuture;
import com.google.common.util.concurrent.MoreExecutors;
import io.grpc.Channel;
import io.grpc.Metadata;
import io.grpc.Status;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLongArray;

/**
 * How a client reaches the replicas: one stub per replica, each behind its
 * {@link CircuitBreaker}, one {@link RetryBudget} for all, and the tally of answers each replica
 * gave that did not verify (a replica that lies is named and counted, never believed).
 * Thread-safe.
 */
final class Replicas {
    private static final System.Logger log = System.getLogger(LedgerClient.class.getName());

    /** Starts one call to a replica. */
    interface Call<T> {
        ListenableFuture<T> start(int replica);
    }

    final Network network;
    final ClientOptions options;
    final List<LedgerApiGrpc.LedgerApiFutureStub> stubs;
    final List<CircuitBreaker> breakers;
    final RetryBudget budget;
    private final AtomicLongArray callsSent;
    private final AtomicLongArray rejected;
    private final Map<Integer, String> lastRejection = new TreeMap<>();

    Replicas(Network network, List<? extends Channel> channels, ClientOptions options) {
        if (channels.size() != network.n()) {
            throw new IllegalArgumentException("one channel per validator: " + network.n() + " needed");
        }
        this.network = network;
        this.options = options;
        this.stubs = channels.stream().map(LedgerApiGrpc::newFutureStub).toList();
        CircuitBreaker.Listener listener = (replica, from, to, why) -> {
            log.log(to == CircuitBreaker.State.OPEN ? System.Logger.Level.WARNING : System.Logger.Level.INFO,
                    "event=breaker replica={0} from={1} to={2} why={3}", replica, from, to, why);
            if (options.breakerListener() != null) {
                options.breakerListener().onStateChange(replica, from, to, why);
            }
        };
        List<CircuitBreaker> b = new ArrayList<>();
        for (int r = 0; r < network.n(); r++) {
            b.add(new CircuitBreaker(r, options.breakerFailures(), options.breakerCoolDown().toNanos(), options.clock(), listener));
        }
        this.breakers = List.copyOf(b);
        this.budget = new RetryBudget(options.retryBudgetRatio(), options.retryBudgetMin(),
                options.retryBudgetWindow().toNanos(), options.clock());
        this.callsSent = new AtomicLongArray(network.n());
        this.rejected = new AtomicLongArray(network.n());
    }

    int n() {
        return network.n();
    }

    long callsSent(int replica) {
        return callsSent.get(replica);
    }

    /** Records that {@code replica} gave an answer that did not verify. */
    void rejected(int replica, String why) {
        rejected.incrementAndGet(replica);
        synchronized (lastRejection) {
            lastRejection.put(replica, why);
        }
        log.log(System.Logger.Level.WARNING, "event=answer-rejected replica={0} reason=\"{1}\"", replica, why);
    }

    long rejectedCount(int replica) {
        return rejected.get(replica);
    }

    Optional<String> lastRejection(int replica) {
        synchronized (lastRejection) {
            return Optional.ofNullable(lastRejection.get(replica));
        }
    }

    /** Whether a failed call says the replica is sick (counts against its breaker) rather than busy or partitioned. */
    static boolean replicaFault(Status status, Metadata trailers) {
        if (trailers != null && trailers.get(bftledger.api.Wire.REFUSAL_REASON) != null) {
            return false; // the replica answered and said why: it is alive
        }
        return switch (status.getCode()) {
            case UNAVAILABLE, DEADLINE_EXCEEDED, INTERNAL, UNKNOWN, CANCELLED -> true;
            default -> false;
        };
    }

    /** Starts a call to {@code replica} through its breaker; empty when the breaker refuses. */
    <T> Optional<ListenableFuture<T>> through(int replica, Call<T> call) {
        if (!breakers.get(replica).allowRequest()) {
            return Optional.empty();
        }
        callsSent.incrementAndGet(replica);
        ListenableFuture<T> f = call.start(replica);
        Futures.addCallback(f, new FutureCallback<>() {
            @Override
            public void onSuccess(T result) {
                breakers.get(replica).onSuccess();
            }

            @Override
            public void onFailure(Throwable t) {
                Status status = Status.fromThrowable(t);
                if (replicaFault(status, Status.trailersFromThrowable(t))) {
                    breakers.get(replica).onFailure(status.getCode() + describe(status));
                } else {
                    breakers.get(replica).onSuccess();
                }
            }
        }, MoreExecutors.directExecutor());
        return Optional.of(f);
    }

    static String describe(Status status) {
        return status.getDescription() == null ? "" : ": " + status.getDescription();
    }

    /** A call's deadline: the per-call deadline, cut to what is left of the caller's. */
    long callMillis(long deadlineNanos) {
        long left = TimeUnit.NANOSECONDS.toMillis(deadlineNanos - System.nanoTime());
        return Math.max(1, Math.min(left, options.callDeadline().toMillis()));
    }

    /** Waits a jittered backoff before another round; false when the deadline is too close. */
    boolean pause(long deadlineNanos, int round) {
        long pauseNanos = TimeUnit.MILLISECONDS.toNanos(Backoff.fullJitterMillis(round - 1,
                options.backoffBase().toMillis(), options.backoffMax().toMillis(), options.random()));
        if (System.nanoTime() + pauseNanos >= deadlineNanos || Thread.currentThread().isInterrupted()) {
            return false;
        }
        try {
            TimeUnit.NANOSECONDS.sleep(pauseNanos);
            return true;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }

    static long retryAfterMillis(Metadata trailers) {
        String hint = trailers == null ? null : trailers.get(bftledger.api.Wire.RETRY_AFTER_MILLIS);
        if (hint == null) {
            return 0;
        }
        try {
            return Math.min(Math.max(0, Long.parseLong(hint)), 60_000);
        } catch (NumberFormatException e) {
            return 0;
        }
    }
}
