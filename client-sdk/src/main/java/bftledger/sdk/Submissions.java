package bftledger.sdk;

import bftledger.api.proto.Reply;
import bftledger.api.proto.ReplyBatch;
import bftledger.api.proto.SignedReplyBatch;
import bftledger.api.proto.SubmitBatchRequest;
import bftledger.api.proto.SubmitBatchResponse;
import bftledger.api.proto.TransactionProof;
import bftledger.crypto.Digest;
import bftledger.crypto.Domain;
import bftledger.crypto.PublicKey;
import bftledger.ledger.proto.SignedTransaction;
import bftledger.sdk.resilience.Backoff;
import com.google.common.util.concurrent.FutureCallback;
import com.google.common.util.concurrent.Futures;
import com.google.common.util.concurrent.ListenableFuture;
import com.google.common.util.concurrent.MoreExecutors;
import com.google.protobuf.ByteString;
import com.google.protobuf.InvalidProtocolBufferException;
import io.grpc.Metadata;
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
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;

/**
 * The submission side of the client: each transaction goes to every replica and settles on f+1
 * matching signed replies ({@link Submission}); the calls to one replica carry many transactions
 * at once ({@link Outbox}). A submission whose deadline passes is settled by looking its id up
 * ({@link Lookup}: a proven transaction), never by sending it again under a new id.
 */
final class Submissions implements AutoCloseable {
    /** Looks a transaction up by id, proven; empty when f+1 replicas do not hold it. */
    interface Lookup {
        Optional<Proven<TransactionProof>> find(Digest txId, Duration timeout) throws LedgerClientException;
    }

    static final int LOOKUPS_QUEUED_MAX = 1_024;

    private final Replicas replicas;
    private final Lookup lookup;
    private final ScheduledExecutorService retries;
    private final ExecutorService lookups;
    private final List<Outbox> outboxes;

    Submissions(Replicas replicas, Lookup lookup) {
        this.replicas = replicas;
        this.lookup = lookup;
        ScheduledThreadPoolExecutor timers = new ScheduledThreadPoolExecutor(1, r -> {
            Thread t = new Thread(r, "ledger-client-retry");
            t.setDaemon(true);
            return t;
        });
        // A settled submission's deadline and retry tasks are cancelled (Submission.later); without
        // removal a cancelled task, and through it the submission, stays queued until it is due.
        timers.setRemoveOnCancelPolicy(true);
        this.retries = timers;
        // Ambiguity lookups block on reads; two threads and a bounded queue keep them from piling up.
        this.lookups = new ThreadPoolExecutor(2, 2, 0, TimeUnit.MILLISECONDS, new ArrayBlockingQueue<>(LOOKUPS_QUEUED_MAX), r -> {
            Thread t = new Thread(r, "ledger-client-lookup");
            t.setDaemon(true);
            return t;
        });
        List<Outbox> o = new ArrayList<>();
        for (int r = 0; r < replicas.n(); r++) {
            o.add(new Outbox(r));
        }
        this.outboxes = List.copyOf(o);
    }

    /** Sends {@code tx} to every replica; the future completes with the proven outcome. */
    CompletableFuture<Committed> submit(SignedTransaction tx, Duration timeout) {
        Submission s = new Submission(tx, System.nanoTime() + timeout.toNanos());
        for (int r = 0; r < replicas.n(); r++) {
            replicas.budget.onCall();
            s.send(r, 0);
        }
        s.later(s::expire, Math.max(1, timeout.toMillis()));
        return s.result;
    }

    /** Deadline and retry tasks waiting to run; a settled submission leaves none behind. */
    int scheduledTasks() {
        return ((ScheduledThreadPoolExecutor) retries).getQueue().size();
    }

    /** The state of one in-flight transaction across all replicas. */
    final class Submission {
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
            note(replica, "skipped: circuit breaker " + replicas.breakers.get(replica).state());
            long coolDown = replicas.options.breakerCoolDown().toMillis();
            if (System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(coolDown) < deadlineNanos) {
                later(() -> send(replica, attempt), coolDown);
            }
        }

        void onCallFailed(int replica, int attempt, Status status, Metadata trailers) {
            String refusal = trailers == null ? null : trailers.get(bftledger.api.Wire.REFUSAL_REASON);
            note(replica, (refusal != null ? "refused (" + refusal + ", " : "unreachable (") + status.getCode()
                    + Replicas.describe(status) + ")");
            retryLater(replica, attempt, Replicas.retryAfterMillis(trailers));
        }

        /** Another attempt at {@code replica} after backoff, if the budget and the deadline allow. */
        void retryLater(int replica, int attempt, long hintMillis) {
            if (result.isDone()) {
                return;
            }
            long backoff = Math.max(hintMillis, Backoff.fullJitterMillis(attempt, replicas.options.backoffBase().toMillis(),
                    replicas.options.backoffMax().toMillis(), replicas.options.random()));
            if (System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(backoff) >= deadlineNanos) {
                return;
            }
            if (!replicas.budget.tryRetry()) {
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
            if (voters.size() >= replicas.network.weakQuorum()) {
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
            if (voters.size() >= replicas.network.weakQuorum()) {
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
                Optional<Proven<TransactionProof>> found = lookup.find(txId, replicas.options.ambiguityLookup());
                if (found.isPresent()) {
                    Proven<TransactionProof> p = found.get();
                    result.complete(new Committed(txId, p.value().getReceipt(), p.height(), p.blockHash(), true,
                            List.of(p.replica())));
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
                            + replicas.network.weakQuorum() + " matching signed replies or one valid proof. Seen: " + seen
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
    final class Outbox {
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
                    if (inFlight >= replicas.options.batchesInFlightMax()) {
                        return;
                    }
                    while (!queue.isEmpty() && batch.size() < replicas.options.batchTransactionsMax()) {
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
                send(batch, Math.min(waitMillis, replicas.options.submitWaitMax().toMillis()));
            }
        }

        private void send(List<Outgoing> batch, long waitMillis) {
            SubmitBatchRequest.Builder request = SubmitBatchRequest.newBuilder().setWaitMillis((int) waitMillis);
            for (Outgoing o : batch) {
                request.addTransactions(o.submission().tx);
            }
            SubmitBatchRequest built = request.build();
            long sentNanos = System.nanoTime();
            Optional<ListenableFuture<SubmitBatchResponse>> started = replicas.through(replica, r -> replicas.stubs.get(r)
                    .withDeadlineAfter(waitMillis + replicas.options.callDeadline().toMillis(), TimeUnit.MILLISECONDS)
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

    /** Parses a batch of replies after checking it is signed by {@code replica}'s genesis key. */
    List<Reply> verifiedReplies(int replica, SignedReplyBatch signed) {
        PublicKey key = replicas.network.validatorKeys().get(replica);
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

    @Override
    public void close() {
        retries.shutdownNow();
        lookups.shutdownNow();
    }
}
