package bftledger.sdk;

import bftledger.api.proto.LedgerApiGrpc;
import bftledger.crypto.PublicKey;
import bftledger.ledger.ValidatorSets.ValidatorSet;
import bftledger.sdk.resilience.Backoff;
import bftledger.sdk.resilience.CircuitBreaker;
import bftledger.sdk.resilience.RetryBudget;
import com.google.common.util.concurrent.FutureCallback;
import com.google.common.util.concurrent.Futures;
import com.google.common.util.concurrent.ListenableFuture;
import com.google.common.util.concurrent.MoreExecutors;
import io.grpc.Channel;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.Status;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * How a client reaches the validators: one {@link Endpoint} per validator it talks to, each
 * behind its {@link CircuitBreaker}, one {@link RetryBudget} for all, and the tally of answers
 * each validator gave that did not verify (a replica that lies is named and counted, never
 * believed). A client that dials ({@link #dialling}) follows the validator sets: {@link #follow}
 * opens channels to new validators and closes those to removed ones. One made over channels it
 * was given ({@link #over}) keeps them. Thread-safe.
 */
final class Replicas implements AutoCloseable {
    private static final System.Logger log = System.getLogger(LedgerClient.class.getName());

    /** Starts one call to a validator. */
    interface Call<T> {
        ListenableFuture<T> start(Endpoint endpoint);
    }

    /** Opens a channel to validator {@code replica} of {@code set}, one of those {@code network} follows. */
    interface Dialer {
        ManagedChannel open(Network network, ValidatorSet set, int replica);
    }

    /**
     * One validator the client talks to: {@code index} is its position among the endpoints of the
     * moment (its index in the latest set, see {@link #follow}), {@code key} whose it is.
     */
    record Endpoint(int index, PublicKey key, String target, Channel channel, LedgerApiGrpc.LedgerApiFutureStub stub,
                    CircuitBreaker breaker) {}

    /** What one validator did, kept by its key so that it survives a change of endpoints. */
    private static final class Tally {
        final AtomicLong callsSent = new AtomicLong();
        final AtomicLong rejected = new AtomicLong();
        volatile String lastRejection;
    }

    final ClientOptions options;
    final RetryBudget budget;
    private final Dialer dialer;
    private final CircuitBreaker.Listener breakerListener;
    /** Bounded by the keys of the sets followed, each approved by a quorum of the set before. */
    private final Map<PublicKey, Tally> tallies = new ConcurrentHashMap<>();
    /** Dialled channels by authority and target; only a dialling client's, guarded by this. */
    private final Map<String, ManagedChannel> owned = new HashMap<>();
    private volatile List<Endpoint> endpoints = List.of();

    private Replicas(ClientOptions options, Dialer dialer) {
        this.options = options;
        this.dialer = dialer;
        this.breakerListener = (replica, from, to, why) -> {
            log.log(to == CircuitBreaker.State.OPEN ? System.Logger.Level.WARNING : System.Logger.Level.INFO,
                    "event=breaker replica={0} from={1} to={2} why={3}", replica, from, to, why);
            if (options.breakerListener() != null) {
                options.breakerListener().onStateChange(replica, from, to, why);
            }
        };
        this.budget = new RetryBudget(options.retryBudgetRatio(), options.retryBudgetMin(),
                options.retryBudgetWindow().toNanos(), options.clock());
    }

    /** Over {@code channels}, index i reaching validator i of {@code network}'s latest set, for good. */
    static Replicas over(Network network, List<? extends Channel> channels, ClientOptions options) {
        ValidatorSet set = network.validators().latest();
        if (channels.size() != set.n()) {
            throw new IllegalArgumentException("one channel per validator: " + set.n() + " needed");
        }
        Replicas replicas = new Replicas(options, null);
        List<Endpoint> endpoints = new ArrayList<>();
        for (int i = 0; i < set.n(); i++) {
            endpoints.add(replicas.newEndpoint(i, set.keys().get(i), "channel " + i, channels.get(i)));
        }
        replicas.endpoints = List.copyOf(endpoints);
        return replicas;
    }

    /** Dialling the validators of {@code network}'s latest set (see {@link #follow}). */
    static Replicas dialling(Network network, ClientOptions options, Dialer dialer) {
        Replicas replicas = new Replicas(options, dialer);
        replicas.follow(network, 0);
        return replicas;
    }

    private Endpoint newEndpoint(int index, PublicKey key, String target, Channel channel) {
        return new Endpoint(index, key, target, channel, LedgerApiGrpc.newFutureStub(channel), new CircuitBreaker(index,
                options.breakerFailures(), options.breakerCoolDown().toNanos(), options.clock(), breakerListener));
    }

    /**
     * Endpoints for the latest set {@code network} follows, in its replica order; while that set
     * does not sign yet ({@code knownHeight}, the highest height the client knows the chain
     * reached, is below its first height) the validators of the set before it that leave are
     * kept after them, since they still order blocks. An endpoint whose validator, index and
     * route are unchanged is kept, breaker and all. A client over given channels keeps them.
     */
    synchronized void follow(Network network, long knownHeight) {
        if (dialer == null) {
            return;
        }
        ValidatorSet latest = network.validators().latest();
        List<ValidatorSet> sets = new ArrayList<>();
        List<Integer> members = new ArrayList<>();
        for (int i = 0; i < latest.n(); i++) {
            sets.add(latest);
            members.add(i);
        }
        if (latest.fromHeight() > knownHeight) {
            ValidatorSet leaving = network.validators().previous();
            for (int i = 0; i < leaving.n(); i++) {
                if (latest.indexOf(leaving.keys().get(i)) < 0) {
                    sets.add(leaving);
                    members.add(i);
                }
            }
        }
        Map<String, ManagedChannel> used = new HashMap<>();
        List<Endpoint> next = new ArrayList<>();
        for (int index = 0; index < sets.size(); index++) {
            ValidatorSet set = sets.get(index);
            int replica = members.get(index);
            String target = set.validators().get(replica).getAddress() + " via " + network.dialAddress(set, replica);
            ManagedChannel channel = owned.containsKey(target) ? owned.get(target) : dialer.open(network, set, replica);
            used.put(target, channel);
            PublicKey key = set.keys().get(replica);
            int at = index;
            Optional<Endpoint> same = endpoints.stream()
                    .filter(e -> e.index() == at && e.key().equals(key) && e.target().equals(target)).findFirst();
            next.add(same.orElseGet(() -> newEndpoint(at, key, target, channel)));
        }
        for (Map.Entry<String, ManagedChannel> e : owned.entrySet()) {
            if (!used.containsKey(e.getKey())) {
                e.getValue().shutdown(); // calls under way finish; no new ones go there
                log.log(System.Logger.Level.INFO, "event=validator-dropped target={0}", e.getKey());
            }
        }
        owned.clear();
        owned.putAll(used);
        endpoints = List.copyOf(next);
    }

    List<Endpoint> endpoints() {
        return endpoints;
    }

    Optional<Endpoint> endpoint(PublicKey key) {
        return endpoints.stream().filter(e -> e.key().equals(key)).findFirst();
    }

    int n() {
        return endpoints.size();
    }

    private Optional<Tally> tally(int index) {
        List<Endpoint> now = endpoints;
        return index < 0 || index >= now.size() ? Optional.empty() : Optional.ofNullable(tallies.get(now.get(index).key()));
    }

    private Tally tally(Endpoint e) {
        return tallies.computeIfAbsent(e.key(), k -> new Tally());
    }

    long callsSent(int index) {
        return tally(index).map(t -> t.callsSent.get()).orElse(0L);
    }

    /** Records that {@code endpoint}'s validator gave an answer that did not verify. */
    void rejected(Endpoint endpoint, String why) {
        Tally t = tally(endpoint);
        t.rejected.incrementAndGet();
        t.lastRejection = why;
        log.log(System.Logger.Level.WARNING, "event=answer-rejected replica={0} key={1} reason=\"{2}\"", endpoint.index(),
                endpoint.key().shortHex(), why);
    }

    long rejectedCount(int index) {
        return tally(index).map(t -> t.rejected.get()).orElse(0L);
    }

    Optional<String> lastRejection(int index) {
        return tally(index).map(t -> t.lastRejection);
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

    /** Starts a call to {@code endpoint} through its breaker; empty when the breaker refuses. */
    <T> Optional<ListenableFuture<T>> through(Endpoint endpoint, Call<T> call) {
        CircuitBreaker breaker = endpoint.breaker();
        if (!breaker.allowRequest()) {
            return Optional.empty();
        }
        tally(endpoint).callsSent.incrementAndGet();
        ListenableFuture<T> f = call.start(endpoint);
        Futures.addCallback(f, new FutureCallback<>() {
            @Override
            public void onSuccess(T result) {
                breaker.onSuccess();
            }

            @Override
            public void onFailure(Throwable t) {
                Status status = Status.fromThrowable(t);
                if (replicaFault(status, Status.trailersFromThrowable(t))) {
                    breaker.onFailure(status.getCode() + describe(status));
                } else {
                    breaker.onSuccess();
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

    /** Closes the channels this client dialled; channels it was given are the caller's. */
    @Override
    public synchronized void close() {
        for (ManagedChannel c : owned.values()) {
            c.shutdownNow();
        }
        for (ManagedChannel c : owned.values()) {
            try {
                c.awaitTermination(2, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }
}
