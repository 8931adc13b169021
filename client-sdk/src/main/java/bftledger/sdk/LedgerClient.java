package bftledger.sdk;

import bftledger.api.proto.GetAccountRequest;
import bftledger.api.proto.GetAccountResponse;
import bftledger.api.proto.GetStatusRequest;
import bftledger.api.proto.GetStatusResponse;
import bftledger.api.proto.GetTransactionRequest;
import bftledger.api.proto.GetTransactionResponse;
import bftledger.api.proto.LedgerApiGrpc;
import bftledger.api.proto.Reply;
import bftledger.api.proto.SignedReply;
import bftledger.api.proto.ReplyBatch;
import bftledger.api.proto.SignedReplyBatch;
import bftledger.api.proto.SubmitBatchRequest;
import bftledger.api.proto.SubmitBatchResponse;
import bftledger.crypto.Digest;
import bftledger.crypto.Domain;
import bftledger.crypto.PublicKey;
import bftledger.ledger.proto.SignedTransaction;
import com.google.common.util.concurrent.FutureCallback;
import com.google.common.util.concurrent.Futures;
import com.google.common.util.concurrent.ListenableFuture;
import com.google.common.util.concurrent.MoreExecutors;
import com.google.protobuf.ByteString;
import com.google.protobuf.InvalidProtocolBufferException;
import bftledger.sdk.resilience.Backoff;
import bftledger.sdk.resilience.CircuitBreaker;
import bftledger.sdk.resilience.RetryBudget;
import io.grpc.Channel;
import io.grpc.Metadata;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLongArray;

/**
 * A client of a bftledger network that trusts no single replica. Transactions go to every
 * replica; an outcome is accepted on f+1 matching signed replies (at least one is honest) or on
 * one commit certificate with an inclusion proof that verifies against genesis. Retries resend
 * the same signed bytes, so a transaction executes at most once however often it is sent.
 * Thread-safe; one instance serves many concurrent callers.
 *
 * <p>Call discipline ({@link ClientOptions}): every gRPC call carries a deadline the replica
 * sees. Only idempotent calls are retried (a submission is idempotent by transaction id, reads
 * are), after exponential backoff with full jitter, and only while the {@link RetryBudget}
 * allows, so retries add at most a fixed share to the load. Each replica has a
 * {@link CircuitBreaker}: a replica that keeps failing or timing out is skipped until one probe
 * succeeds, so a dead replica stops costing latency; state changes go to the options' listener
 * and the log. A submission whose deadline passes is settled by looking its id up, never by
 * sending it again under a new id.
 *
 * <p>Transport: submissions to one replica travel together ({@code Outbox}): while a few
 * SubmitTransactions calls are out, new submissions queue and leave in the next call, and the
 * replica answers each call with one signed batch of replies. Under load that amortizes the
 * call, the replica's signature and the client's check of it over many transactions; a lone
 * submission still leaves at once.
 */
public final class LedgerClient implements AutoCloseable {
    private static final System.Logger log = System.getLogger(LedgerClient.class.getName());
    /** Trailer a replica sets on RESOURCE_EXHAUSTED: milliseconds to wait before asking again. */
    public static final Metadata.Key<String> RETRY_AFTER_MILLIS = Metadata.Key.of("bftledger-retry-after-ms",
            Metadata.ASCII_STRING_MARSHALLER);
    /** Trailer a replica sets on every error it decides itself (shed, rate limited, no quorum). */
    public static final Metadata.Key<String> REFUSAL_REASON = Metadata.Key.of("bftledger-refusal",
            Metadata.ASCII_STRING_MARSHALLER);

    private final Network network;
    private final ClientOptions options;
    private final List<ManagedChannel> owned;
    private final List<LedgerApiGrpc.LedgerApiFutureStub> stubs;
    private final ProofVerifier proofs;
    private final ScheduledExecutorService retries;
    private final ExecutorService lookups;
    private final List<CircuitBreaker> breakers;
    private final RetryBudget budget;
    private final AtomicLongArray callsSent;
    private final List<Outbox> outboxes;

    private LedgerClient(Network network, List<? extends Channel> channels, List<ManagedChannel> owned, ClientOptions options) {
        if (channels.size() != network.n()) {
            throw new IllegalArgumentException("one channel per validator: " + network.n() + " needed");
        }
        this.network = network;
        this.options = options;
        this.owned = owned;
        this.stubs = channels.stream().map(LedgerApiGrpc::newFutureStub).toList();
        this.proofs = new ProofVerifier(network);
        ScheduledThreadPoolExecutor timers = new ScheduledThreadPoolExecutor(1, r -> {
            Thread t = new Thread(r, "ledger-client-retry");
            t.setDaemon(true);
            return t;
        });
        // A submission's deadline and retry tasks are cancelled when it settles (Submission.later);
        // without removal a cancelled task (and through it the transaction, its votes and its
        // receipt) stayed queued until due: at 2,000 tx/s and 20 s deadlines, ~40,000 settled
        // submissions alive, copied by every young collection of the client (30-49 ms pauses
        // every 4 s in bench.sh at half load).
        timers.setRemoveOnCancelPolicy(true);
        this.retries = timers;
        // Ambiguity lookups block on reads; two threads and a bounded queue keep them from piling up.
        this.lookups = new ThreadPoolExecutor(2, 2, 0, TimeUnit.MILLISECONDS, new ArrayBlockingQueue<>(LOOKUPS_QUEUED_MAX), r -> {
            Thread t = new Thread(r, "ledger-client-lookup");
            t.setDaemon(true);
            return t;
        });
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
        List<Outbox> o = new ArrayList<>();
        for (int r = 0; r < network.n(); r++) {
            o.add(new Outbox(r));
        }
        this.outboxes = List.copyOf(o);
    }

    static final int LOOKUPS_QUEUED_MAX = 1_024;

    /**
     * Channels to every validator ({@link TlsChannels}: TLS trusting the CA genesis names, or
     * plaintext where the network has none and {@link Network#withPlaintext()} asked for it).
     */
    public static LedgerClient connect(Network network) {
        return connect(network, ClientOptions.defaults());
    }

    public static LedgerClient connect(Network network, ClientOptions options) {
        List<ManagedChannel> channels = new ArrayList<>();
        for (int replica = 0; replica < network.n(); replica++) {
            channels.add(TlsChannels.builder(network, replica).maxInboundMessageSize(16 << 20).build());
        }
        return new LedgerClient(network, channels, channels, options);
    }

    /** Over channels the caller owns (tests, custom transports); index i reaches replica i. */
    public static LedgerClient over(Network network, List<? extends Channel> channels) {
        return over(network, channels, ClientOptions.defaults());
    }

    public static LedgerClient over(Network network, List<? extends Channel> channels, ClientOptions options) {
        return new LedgerClient(network, channels, List.of(), options);
    }

    public ClientOptions options() {
        return options;
    }

    /** Each replica's breaker state, by replica index. */
    public List<CircuitBreaker.State> breakerStates() {
        return breakers.stream().map(CircuitBreaker::state).toList();
    }

    /** Deadline and retry tasks waiting to run; a settled submission leaves none behind. */
    int scheduledTasks() {
        return ((ScheduledThreadPoolExecutor) retries).getQueue().size();
    }

    /** Calls (first attempts, retries and probes) this client has sent to {@code replica}. */
    public long callsSent(int replica) {
        return callsSent.get(replica);
    }

    /** The retry budget's current window. */
    public RetryBudget.Snapshot retryBudget() {
        return budget.snapshot();
    }

    /** Whether a failed call says the replica is sick (counts against its breaker) rather than busy or partitioned. */
    static boolean replicaFault(Status status, Metadata trailers) {
        if (trailers != null && trailers.get(REFUSAL_REASON) != null) {
            return false; // the replica answered and said why: it is alive
        }
        return switch (status.getCode()) {
            case UNAVAILABLE, DEADLINE_EXCEEDED, INTERNAL, UNKNOWN, CANCELLED -> true;
            default -> false;
        };
    }

    /** Starts a call to {@code replica} through its breaker; empty when the breaker refuses. */
    private <T> Optional<ListenableFuture<T>> through(int replica, Call<T> call) {
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

    private static String describe(Status status) {
        return status.getDescription() == null ? "" : ": " + status.getDescription();
    }

    public Network network() {
        return network;
    }

    public TransactionFactory transactions() {
        return new TransactionFactory(network.chainId());
    }

    public Committed submit(SignedTransaction tx, Duration timeout) throws LedgerClientException {
        try {
            return submitAsync(tx, timeout).get();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new LedgerClientException(LedgerClientException.Kind.TIMEOUT, "interrupted while waiting");
        } catch (ExecutionException e) {
            if (e.getCause() instanceof LedgerClientException l) {
                throw l;
            }
            throw new IllegalStateException("submit failed unexpectedly", e.getCause());
        }
    }

    /**
     * Completes with the proven outcome, or exceptionally with a {@link LedgerClientException}.
     * When {@code timeout} passes without a proof, the SDK spends up to
     * {@link ClientOptions#ambiguityLookup()} more looking the transaction id up, so a
     * transaction that did commit is reported committed rather than timed out.
     */
    public CompletableFuture<Committed> submitAsync(SignedTransaction tx, Duration timeout) {
        Submission s = new Submission(tx, System.nanoTime() + timeout.toNanos());
        for (int r = 0; r < network.n(); r++) {
            budget.onCall();
            s.send(r, 0);
        }
        s.later(s::expire, Math.max(1, timeout.toMillis()));
        return s.result;
    }

    /** The state of one in-flight transaction across all replicas. */
    private final class Submission {
        final SignedTransaction tx;
        final Digest txId;
        final long deadlineNanos;
        final CompletableFuture<Committed> result = new CompletableFuture<>();
        final Map<Integer, String> lastSeen = new TreeMap<>();
        final Map<ByteString, List<Integer>> committedVotes = new LinkedHashMap<>();
        final Map<Reply.RejectReason, List<Integer>> rejectedVotes = new HashMap<>();
        final Map<Reply.RejectReason, String> rejectDetail = new HashMap<>();

        /**
         * This submission's deadline and retry tasks not yet run. They are cancelled when it
         * settles, and the executor drops cancelled tasks: a queued task would otherwise keep the
         * settled submission (transaction, votes, receipt) reachable until it came due, which for
         * the deadline task is the whole timeout after submission.
         */
        private final List<ScheduledFuture<?>> timers = new ArrayList<>();

        Submission(SignedTransaction tx, long deadlineNanos) {
            this.tx = tx;
            this.txId = TransactionFactory.id(tx);
            this.deadlineNanos = deadlineNanos;
            result.whenComplete((committed, error) -> cancelTimers());
        }

        /** Runs {@code task} after {@code delayMillis} unless this submission settles first. */
        void later(Runnable task, long delayMillis) {
            ScheduledFuture<?> f = retries.schedule(task, delayMillis, TimeUnit.MILLISECONDS);
            boolean settled;
            synchronized (timers) {
                // Settling sets the result before cancelTimers takes this lock: either the task is
                // in the list when it does, or the result is seen done here.
                settled = result.isDone();
                if (!settled) {
                    timers.removeIf(ScheduledFuture::isDone);
                    timers.add(f);
                }
            }
            if (settled) {
                f.cancel(false);
            }
        }

        private void cancelTimers() {
            List<ScheduledFuture<?>> pending;
            synchronized (timers) {
                pending = new ArrayList<>(timers);
                timers.clear();
            }
            pending.forEach(f -> f.cancel(false));
        }

        void send(int replica, int attempt) {
            if (result.isDone() || deadlineNanos - System.nanoTime() <= 0) {
                return;
            }
            outboxes.get(replica).add(this, attempt);
        }

        /** Remaining wait this submission may ask a replica for; 0 when its deadline has passed. */
        long remainingMillis() {
            return result.isDone() ? 0 : Math.max(0, TimeUnit.NANOSECONDS.toMillis(deadlineNanos - System.nanoTime()));
        }

        /** The call carrying this submission to {@code replica} was not made: its breaker is open. */
        void onBreakerOpen(int replica, int attempt) {
            note(replica, "skipped: circuit breaker " + breakers.get(replica).state());
            long coolDown = options.breakerCoolDown().toMillis();
            if (System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(coolDown) < deadlineNanos) {
                later(() -> send(replica, attempt), coolDown);
            }
        }

        void onCallFailed(int replica, int attempt, Status status, Metadata trailers) {
            String refusal = trailers == null ? null : trailers.get(REFUSAL_REASON);
            note(replica, (refusal != null ? "refused (" + refusal + ", " : "unreachable (") + status.getCode()
                    + describe(status) + ")");
            retryLater(replica, attempt, retryAfterMillis(trailers));
        }

        /** Another attempt at {@code replica} after backoff, if the budget and the deadline allow. */
        void retryLater(int replica, int attempt, long hintMillis) {
            if (result.isDone()) {
                return;
            }
            long backoff = Math.max(hintMillis, Backoff.fullJitterMillis(attempt, options.backoffBase().toMillis(),
                    options.backoffMax().toMillis(), options.random()));
            if (System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(backoff) >= deadlineNanos) {
                return;
            }
            if (!budget.tryRetry()) {
                note(replica, lastSeenOf(replica) + "; not retried: retry budget exhausted");
                return;
            }
            later(() -> send(replica, attempt + 1), backoff);
        }

        /** {@code replica}'s verified statement about this transaction, from a call made at {@code sentNanos}. */
        void onReply(int replica, int attempt, Reply reply, long waitMillis, long sentNanos) {
            if (result.isDone()) {
                return;
            }
            if (!reply.getTxId().equals(ByteString.copyFrom(txId.bytes()))) {
                note(replica, "reply about another transaction");
                return;
            }
            switch (reply.getOutcome()) {
                case COMMITTED -> onCommitted(replica, reply);
                case REJECTED -> onRejected(replica, reply);
                case PENDING -> {
                    note(replica, "pending" + (reply.getDetail().isEmpty() ? "" : " (" + reply.getDetail() + ")"));
                    // A PENDING after the replica held the call for the wait is a long poll going on,
                    // at most one call per wait period: ask again at once. A PENDING that came back
                    // early is treated like a failure, so a replica cannot make the client spin.
                    long heldMillis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - sentNanos);
                    if (heldMillis * 2 >= waitMillis) {
                        send(replica, attempt);
                    } else {
                        retryLater(replica, attempt, 0);
                    }
                }
                default -> note(replica, "reply with unknown outcome " + reply.getOutcomeValue());
            }
        }

        void onCommitted(int replica, Reply reply) {
            note(replica, "committed at height " + reply.getHeight());
            // Replicas agree when receipt, height and block hash agree; the replica field differs.
            ByteString key = reply.toBuilder().setReplica(0).setDetail("").build().toByteString();
            List<Integer> voters;
            synchronized (this) {
                voters = committedVotes.computeIfAbsent(key, k -> new ArrayList<>());
                if (!voters.contains(replica)) {
                    voters.add(replica);
                }
                voters = List.copyOf(voters);
            }
            if (voters.size() >= network.weakQuorum()) {
                complete(reply, false, voters);
            }
        }

        void onRejected(int replica, Reply reply) {
            note(replica, "rejected " + reply.getRejectReason() + ": " + reply.getDetail());
            if (reply.getRejectReason() == Reply.RejectReason.OVERLOADED) {
                // Not a verdict on the transaction: this replica is busy. Ask it again later.
                retryLater(replica, 0, 0);
                return;
            }
            List<Integer> voters;
            synchronized (this) {
                voters = rejectedVotes.computeIfAbsent(reply.getRejectReason(), k -> new ArrayList<>());
                if (!voters.contains(replica)) {
                    voters.add(replica);
                }
                rejectDetail.putIfAbsent(reply.getRejectReason(), reply.getDetail());
                voters = List.copyOf(voters);
            }
            if (voters.size() >= network.weakQuorum()) {
                result.completeExceptionally(new LedgerClientException(LedgerClientException.Kind.REJECTED,
                        "transaction " + txId.shortHex() + " rejected (" + reply.getRejectReason() + ") by replicas "
                                + voters + ": " + rejectDetail.get(reply.getRejectReason())));
            }
        }

        void complete(Reply reply, boolean byProof, List<Integer> replicas) {
            result.complete(new Committed(txId, reply.getReceipt(), reply.getHeight(),
                    Digest.of(reply.getBlockHash().toByteArray()), byProof, replicas));
        }

        synchronized void note(int replica, String what) {
            lastSeen.put(replica, what);
        }

        synchronized String lastSeenOf(int replica) {
            return lastSeen.getOrDefault(replica, "");
        }

        /**
         * The deadline passed without a proof: the outcome is ambiguous (the transaction may have
         * committed after the last answer). Settle it by id; never resubmit under a new id.
         */
        void expire() {
            if (result.isDone()) {
                return;
            }
            try {
                lookups.execute(this::settleByLookup);
            } catch (RejectedExecutionException busy) {
                result.completeExceptionally(timedOut("too many outcomes being looked up to look this one up"));
            }
        }

        void settleByLookup() {
            if (result.isDone()) {
                return;
            }
            try {
                Optional<GetTransactionResponse> found = transaction(txId, options.ambiguityLookup());
                if (found.isPresent()) {
                    GetTransactionResponse r = found.get();
                    result.complete(new Committed(txId, r.getProof().getReceipt(), r.getHeight(),
                            bftledger.crypto.Sha256.hash(r.getProof().getBlockHeader().toByteArray()), true, List.of()));
                    return;
                }
                result.completeExceptionally(timedOut("looked up by id afterwards: f+1 replicas do not hold it"));
            } catch (LedgerClientException e) {
                result.completeExceptionally(timedOut("the lookup by id was inconclusive: " + e.getMessage()));
            }
        }

        LedgerClientException timedOut(String lookup) {
            String seen;
            synchronized (this) {
                seen = lastSeen.isEmpty() ? "no replica answered" : lastSeen.toString();
            }
            return new LedgerClientException(LedgerClientException.Kind.TIMEOUT,
                    "transaction " + txId.shortHex() + " not proven committed before the deadline; needed "
                            + network.weakQuorum() + " matching signed replies or one valid proof. Seen: " + seen
                            + ". Outcome: " + lookup + ". Submitting the same transaction again is safe.");
        }
    }

    /** One submission waiting in an {@link Outbox}, with the attempt number it goes out as. */
    private record Outgoing(Submission submission, int attempt) {}

    /**
     * The submissions bound for one replica. Up to {@link ClientOptions#batchesInFlightMax()}
     * SubmitTransactions calls are out at once; what is submitted meanwhile waits here and leaves
     * in the next call, up to {@link ClientOptions#batchTransactionsMax()} per call. So a lone
     * submission is sent at once, and under load one call, one replica signature and one
     * verification of it serve many transactions. Each transaction keeps its own deadline,
     * retries and verdict ({@link Submission}); a call is only the transport.
     *
     * <p>Bound: the queue holds at most one entry per live submission per replica, and a
     * submission is live until its deadline.
     */
    private final class Outbox {
        final int replica;
        final ArrayDeque<Outgoing> queue = new ArrayDeque<>();
        int inFlight;

        Outbox(int replica) {
            this.replica = replica;
        }

        void add(Submission s, int attempt) {
            synchronized (this) {
                queue.add(new Outgoing(s, attempt));
            }
            drain();
        }

        /** Sends calls while fewer than the limit are out and submissions wait. */
        void drain() {
            while (true) {
                List<Outgoing> batch = new ArrayList<>();
                long waitMillis = 0;
                synchronized (this) {
                    if (inFlight >= options.batchesInFlightMax()) {
                        return;
                    }
                    while (!queue.isEmpty() && batch.size() < options.batchTransactionsMax()) {
                        Outgoing next = queue.poll();
                        long remaining = next.submission().remainingMillis();
                        if (remaining > 0) {
                            batch.add(next);
                            waitMillis = Math.max(waitMillis, remaining);
                        }
                    }
                    if (batch.isEmpty()) {
                        return;
                    }
                    inFlight++;
                }
                send(batch, Math.min(waitMillis, options.submitWaitMax().toMillis()));
            }
        }

        private void send(List<Outgoing> batch, long waitMillis) {
            SubmitBatchRequest.Builder request = SubmitBatchRequest.newBuilder().setWaitMillis((int) waitMillis);
            for (Outgoing o : batch) {
                request.addTransactions(o.submission().tx);
            }
            SubmitBatchRequest built = request.build();
            long sentNanos = System.nanoTime();
            Optional<ListenableFuture<SubmitBatchResponse>> started = through(replica, r -> stubs.get(r)
                    .withDeadlineAfter(waitMillis + options.callDeadline().toMillis(), TimeUnit.MILLISECONDS)
                    .submitTransactions(built));
            if (started.isEmpty()) {
                callDone();
                batch.forEach(o -> o.submission().onBreakerOpen(replica, o.attempt()));
                return;
            }
            Futures.addCallback(started.get(), new FutureCallback<>() {
                @Override
                public void onSuccess(SubmitBatchResponse response) {
                    callDone();
                    onAnswer(batch, response, waitMillis, sentNanos);
                }

                @Override
                public void onFailure(Throwable t) {
                    callDone();
                    Status status = Status.fromThrowable(t);
                    Metadata trailers = Status.trailersFromThrowable(t);
                    batch.forEach(o -> o.submission().onCallFailed(replica, o.attempt(), status, trailers));
                }
            }, MoreExecutors.directExecutor());
        }

        private void callDone() {
            synchronized (this) {
                inFlight--;
            }
            drain();
        }

        private void onAnswer(List<Outgoing> batch, SubmitBatchResponse response, long waitMillis, long sentNanos) {
            if (batch.stream().allMatch(o -> o.submission().result.isDone())) {
                // Decided already: checking the late replica's signature would change nothing and
                // costs a verification (n - f - 1 of them per call).
                return;
            }
            List<Reply> replies;
            try {
                replies = verifiedReplies(replica, response.getSignedReplies());
                if (replies.size() != batch.size()) {
                    throw new IllegalArgumentException(replies.size() + " replies to " + batch.size() + " transactions");
                }
            } catch (IllegalArgumentException bad) {
                batch.forEach(o -> o.submission().note(replica, "invalid reply: " + bad.getMessage()));
                return;
            }
            for (int i = 0; i < batch.size(); i++) {
                Outgoing o = batch.get(i);
                o.submission().onReply(replica, o.attempt(), replies.get(i), waitMillis, sentNanos);
            }
        }
    }

    private static long retryAfterMillis(Metadata trailers) {
        String hint = trailers == null ? null : trailers.get(RETRY_AFTER_MILLIS);
        if (hint == null) {
            return 0;
        }
        try {
            return Math.min(Math.max(0, Long.parseLong(hint)), 60_000);
        } catch (NumberFormatException e) {
            return 0;
        }
    }

    /** Parses a batch of replies after checking it is signed by {@code replica}'s genesis key. */
    List<Reply> verifiedReplies(int replica, SignedReplyBatch signed) {
        PublicKey key = network.validatorKeys().get(replica);
        byte[] bytes = signed.getReplies().toByteArray();
        if (!key.verify(Domain.REPLY_BATCH, bytes, signed.getSignature().toByteArray())) {
            throw new IllegalArgumentException("signature does not verify under replica " + replica + "'s key");
        }
        ReplyBatch batch;
        try {
            batch = ReplyBatch.parseFrom(bytes);
        } catch (InvalidProtocolBufferException e) {
            throw new IllegalArgumentException("reply batch does not parse");
        }
        if (batch.getReplica() != replica) {
            throw new IllegalArgumentException("replies claim to be from replica " + batch.getReplica());
        }
        for (Reply r : batch.getRepliesList()) {
            if (r.getReplica() != replica) {
                throw new IllegalArgumentException("a reply in the batch claims to be from replica " + r.getReplica());
            }
        }
        return batch.getRepliesList();
    }

    /** An account's balance as stated identically by f+1 replicas at the same height. */
    public GetAccountResponse account(PublicKey account, Duration timeout) throws LedgerClientException {
        GetAccountRequest request = GetAccountRequest.newBuilder().setAccount(ByteString.copyFrom(account.bytes())).build();
        long deadline = System.nanoTime() + timeout.toNanos();
        // Staleness and record count are per-replica remarks, not part of the stated balance.
        return agreed("account " + account.shortHex(), deadline, r -> stubs.get(r)
                .withDeadlineAfter(callMillis(deadline), TimeUnit.MILLISECONDS).getAccount(request),
                response -> response.toBuilder().setRecordCount(0).setPossiblyStale(false).build().toByteString());
    }

    /** A call's deadline: the per-call deadline, cut to what is left of the caller's. */
    private long callMillis(long deadlineNanos) {
        long left = TimeUnit.NANOSECONDS.toMillis(deadlineNanos - System.nanoTime());
        return Math.max(1, Math.min(left, options.callDeadline().toMillis()));
    }

    /**
     * A committed transaction with a proof that verifies against genesis, or empty when f+1
     * replicas say they do not hold it. Replicas are asked in parallel, round after round; each
     * round after the first is a retry and needs the retry budget.
     */
    public Optional<GetTransactionResponse> transaction(Digest txId, Duration timeout) throws LedgerClientException {
        GetTransactionRequest request = GetTransactionRequest.newBuilder().setTxId(ByteString.copyFrom(txId.bytes())).build();
        long deadline = System.nanoTime() + timeout.toNanos();
        Map<Integer, String> seen = new TreeMap<>();
        int round = 0;
        do {
            if (round > 0 && !budget.tryRetry()) {
                seen.put(-1, "retry budget exhausted");
                break;
            }
            if (round == 0) {
                budget.onCall();
            }
            List<Optional<ListenableFuture<GetTransactionResponse>>> calls = new ArrayList<>();
            for (int r = 0; r < network.n(); r++) {
                calls.add(through(r, x -> stubs.get(x).withDeadlineAfter(callMillis(deadline), TimeUnit.MILLISECONDS)
                        .getTransaction(request)));
            }
            int notFound = 0;
            for (int r = 0; r < network.n(); r++) {
                if (calls.get(r).isEmpty()) {
                    seen.put(r, "skipped: circuit breaker " + breakers.get(r).state());
                    continue;
                }
                try {
                    GetTransactionResponse response = calls.get(r).get().get();
                    if (!response.getFound()) {
                        notFound++;
                        seen.put(r, "not found");
                        continue;
                    }
                    Verdict v = proofs.verify(response.getProof());
                    if (v.ok() && TransactionFactory.id(response.getProof().getTransaction()).equals(txId)) {
                        calls.forEach(c -> c.ifPresent(f -> f.cancel(true)));
                        return Optional.of(response);
                    }
                    seen.put(r, "invalid proof: " + v.reason());
                } catch (ExecutionException e) {
                    seen.put(r, "unreachable (" + Status.fromThrowable(e.getCause()).getCode() + ")");
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    break;
                }
            }
            if (notFound >= network.weakQuorum()) {
                return Optional.empty();
            }
            round++;
        } while (pause(deadline, round));
        throw new LedgerClientException(LedgerClientException.Kind.NO_AGREEMENT,
                "transaction " + txId.shortHex() + ": no verifiable proof and fewer than " + network.weakQuorum()
                        + " replicas saying it is absent. Seen: " + seen);
    }

    /** The status of every replica, empty where a replica did not answer in time. */
    public List<Optional<GetStatusResponse>> statuses(Duration timeout) {
        List<ListenableFuture<GetStatusResponse>> calls = new ArrayList<>();
        for (int r = 0; r < network.n(); r++) {
            calls.add(stubs.get(r).withDeadlineAfter(Math.max(1, timeout.toMillis()), TimeUnit.MILLISECONDS)
                    .getStatus(GetStatusRequest.getDefaultInstance()));
        }
        List<Optional<GetStatusResponse>> out = new ArrayList<>();
        for (ListenableFuture<GetStatusResponse> call : calls) {
            try {
                out.add(Optional.of(call.get()));
            } catch (ExecutionException e) {
                out.add(Optional.empty());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                out.add(Optional.empty());
            }
        }
        return out;
    }

    private interface Call<T> {
        ListenableFuture<T> start(int replica);
    }

    private interface Key<T> {
        ByteString of(T response);
    }

    /**
     * Asks every replica (through its breaker), round after round until the deadline, until f+1
     * give the same answer. Rounds after the first are retries and need the retry budget.
     */
    private <T> T agreed(String what, long deadline, Call<T> call, Key<T> key) throws LedgerClientException {
        Map<Integer, String> seen = new TreeMap<>();
        int round = 0;
        do {
            if (round > 0 && !budget.tryRetry()) {
                seen.put(-1, "retry budget exhausted");
                break;
            }
            if (round == 0) {
                budget.onCall();
            }
            List<Optional<ListenableFuture<T>>> calls = new ArrayList<>();
            for (int r = 0; r < network.n(); r++) {
                calls.add(through(r, call));
            }
            Map<ByteString, List<Integer>> votes = new HashMap<>();
            for (int r = 0; r < calls.size(); r++) {
                if (calls.get(r).isEmpty()) {
                    seen.put(r, "skipped: circuit breaker " + breakers.get(r).state());
                    continue;
                }
                try {
                    T response = calls.get(r).get().get(Math.max(1, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
                    List<Integer> voters = votes.computeIfAbsent(key.of(response), k -> new ArrayList<>());
                    voters.add(r);
                    seen.put(r, String.valueOf(response).replace('\n', ' ').strip());
                    if (voters.size() >= network.weakQuorum()) {
                        return response;
                    }
                } catch (ExecutionException e) {
                    seen.put(r, "unreachable (" + Status.fromThrowable(e.getCause()).getCode() + ")");
                } catch (java.util.concurrent.TimeoutException e) {
                    seen.put(r, "no answer in time");
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    break;
                }
            }
            round++;
        } while (pause(deadline, round));
        throw new LedgerClientException(LedgerClientException.Kind.NO_AGREEMENT,
                what + ": fewer than " + network.weakQuorum() + " replicas agreed before the deadline"
                        + " (they may be at different heights; try again). Seen: " + seen);
    }

    /** Waits a jittered backoff before another round; false when the deadline is too close. */
    private boolean pause(long deadlineNanos, int round) {
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

    @Override
    public void close() {
        retries.shutdownNow();
        lookups.shutdownNow();
        for (ManagedChannel c : owned) {
            c.shutdownNow();
        }
        for (ManagedChannel c : owned) {
            try {
                c.awaitTermination(2, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }
}
