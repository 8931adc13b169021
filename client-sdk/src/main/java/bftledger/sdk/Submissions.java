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
import bftledger.ledger.ValidatorSets.ValidatorSet;
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
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;

/**
 * The submission side of the client: each transaction goes to every validator and settles on f+1
 * matching signed replies from one validator set ({@link Submission}); the calls to one validator
 * carry many transactions at once ({@link Outbox}). A reply batch counts under the key its
 * {@code replica} index has in the latest set held (or, while that set may still be pending, in
 * the set before it, see {@link ChainFollower#signing}); one that a set not held yet would explain
 * is checked once more after the client caught up with the sets. A submission whose deadline
 * passes is settled by looking its id up ({@link Lookup}: a proven transaction), never by sending
 * it again under a new id.
 */
final class Submissions implements AutoCloseable {
    /** Looks a transaction up by id, proven; empty when f+1 replicas do not hold it. */
    interface Lookup {
        Optional<Proven<TransactionProof>> find(Digest txId, Duration timeout) throws LedgerClientException;
    }

    static final int LOOKUPS_QUEUED_MAX = 1_024;

    private final Replicas replicas;
    private final ChainFollower follower;
    private final Lookup lookup;
    private final ScheduledExecutorService retries;
    private final ExecutorService lookups;
    /** One per validator key ever sent to: bounded by the sets followed. */
    private final Map<PublicKey, Outbox> outboxes = new ConcurrentHashMap<>();

    Submissions(Replicas replicas, ChainFollower follower, Lookup lookup) {
        this.replicas = replicas;
        this.follower = follower;
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
    }

    /** Sends {@code tx} to every replica; the future completes with the proven outcome. */
    CompletableFuture<Committed> submit(SignedTransaction tx, Duration timeout) {
        Submission s = new Submission(tx, System.nanoTime() + timeout.toNanos());
        for (Replicas.Endpoint e : replicas.endpoints()) {
            replicas.budget.onCall();
            s.send(e.key(), 0);
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
        /** Signers by what they said; a signer is a validator key, counted once whatever index or route it came by. */
        final Map<ByteString, Set<PublicKey>> committedVotes = new LinkedHashMap<>();
        final Map<Reply.RejectReason, Set<PublicKey>> rejectedVotes = new HashMap<>();
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

        void send(PublicKey validator, int attempt) {
            if (result.isDone() || deadlineNanos - System.nanoTime() <= 0) {
                return;
            }
            outboxes.computeIfAbsent(validator, Outbox::new).add(this, attempt);
        }

        /** Remaining wait this submission may ask a replica for; 0 when its deadline has passed. */
        long remainingMillis() {
            return result.isDone() ? 0 : Math.max(0, TimeUnit.NANOSECONDS.toMillis(deadlineNanos - System.nanoTime()));
        }

        /** The call carrying this submission to {@code endpoint} was not made: its breaker is open. */
        void onBreakerOpen(Replicas.Endpoint endpoint, int attempt) {
            note(endpoint.index(), "skipped: circuit breaker " + endpoint.breaker().state());
            long coolDown = replicas.options.breakerCoolDown().toMillis();
            if (System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(coolDown) < deadlineNanos) {
                later(() -> send(endpoint.key(), attempt), coolDown);
            }
        }

        void onCallFailed(Replicas.Endpoint endpoint, int attempt, Status status, Metadata trailers) {
            String refusal = trailers == null ? null : trailers.get(bftledger.api.Wire.REFUSAL_REASON);
            note(endpoint.index(), (refusal != null ? "refused (" + refusal + ", " : "unreachable (") + status.getCode()
                    + Replicas.describe(status) + ")");
            retryLater(endpoint, attempt, Replicas.retryAfterMillis(trailers));
        }

        /** Another attempt at {@code endpoint}'s validator after backoff, if the budget and the deadline allow. */
        void retryLater(Replicas.Endpoint endpoint, int attempt, long hintMillis) {
            int replica = endpoint.index();
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
            later(() -> send(endpoint.key(), attempt + 1), backoff);
        }

        /** {@code signer}'s verified statement about this transaction, by way of {@code endpoint} in a call made at {@code sentNanos}. */
        void onReply(Replicas.Endpoint endpoint, PublicKey signer, int attempt, Reply reply, long waitMillis, long sentNanos) {
            if (result.isDone()) {
                return;
            }
            int replica = endpoint.index();
            if (!reply.getTxId().equals(ByteString.copyFrom(txId.bytes()))) {
                note(replica, "reply about another transaction");
                return;
            }
            switch (reply.getOutcome()) {
                case COMMITTED -> onCommitted(replica, signer, reply);
                case REJECTED -> onRejected(endpoint, signer, reply);
                case PENDING -> {
                    note(replica, "pending" + (reply.getDetail().isEmpty() ? "" : " (" + reply.getDetail() + ")"));
                    // A PENDING after the replica held the call for the wait is a long poll going on,
                    // at most one call per wait period: ask again at once. A PENDING that came back
                    // early is treated like a failure, so a replica cannot make the client spin.
                    long heldMillis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - sentNanos);
                    if (heldMillis * 2 >= waitMillis) {
                        send(endpoint.key(), attempt);
                    } else {
                        retryLater(endpoint, attempt, 0);
                    }
                }
                default -> note(replica, "reply with unknown outcome " + reply.getOutcomeValue());
            }
        }

        void onCommitted(int replica, PublicKey signer, Reply reply) {
            note(replica, "committed at height " + reply.getHeight());
            // Replicas agree when receipt, height and block hash agree; the replica field differs.
            ByteString key = reply.toBuilder().setReplica(0).setDetail("").build().toByteString();
            Set<PublicKey> voters;
            synchronized (this) {
                voters = committedVotes.computeIfAbsent(key, k -> new LinkedHashSet<>());
                voters.add(signer);
                voters = Set.copyOf(voters);
            }
            Optional<List<Integer>> quorum = weakQuorumOf(voters, reply.getHeight());
            if (quorum.isPresent()) {
                follower.noteHeight(reply.getHeight());
                complete(reply, false, quorum.get());
            }
        }

        void onRejected(Replicas.Endpoint endpoint, PublicKey signer, Reply reply) {
            note(endpoint.index(), "rejected " + reply.getRejectReason() + ": " + reply.getDetail());
            if (reply.getRejectReason() == Reply.RejectReason.OVERLOADED) {
                // Not a verdict on the transaction: this replica is busy. Ask it again later.
                retryLater(endpoint, 0, 0);
                return;
            }
            Set<PublicKey> voters;
            synchronized (this) {
                voters = rejectedVotes.computeIfAbsent(reply.getRejectReason(), k -> new LinkedHashSet<>());
                voters.add(signer);
                rejectDetail.putIfAbsent(reply.getRejectReason(), reply.getDetail());
                voters = Set.copyOf(voters);
            }
            Optional<List<Integer>> quorum = weakQuorumOf(voters, -1);
            if (quorum.isPresent()) {
                result.completeExceptionally(new LedgerClientException(LedgerClientException.Kind.REJECTED,
                        "transaction " + txId.shortHex() + " rejected (" + reply.getRejectReason() + ") by replicas "
                                + quorum.get() + ": " + rejectDetail.get(reply.getRejectReason())));
            }
        }

        /**
         * The replica indices of f+1 of {@code voters} in one signing set (f that set's), if so
         * many are in one. For a commit at {@code height} (-1: no height) only a set that was still
         * in force there counts: the keys of a set that has handed over vouch for nothing after
         * its last height.
         */
        private Optional<List<Integer>> weakQuorumOf(Set<PublicKey> voters, long height) {
            ChainFollower.Signing signing = follower.signing();
            List<ValidatorSet> all = signing.chain().sets();
            for (ValidatorSet set : signing.sets()) {
                int at = all.indexOf(set);
                if (height >= 0 && at >= 0 && at + 1 < all.size() && all.get(at + 1).fromHeight() <= height) {
                    continue;
                }
                List<Integer> in = voters.stream().map(set::indexOf).filter(i -> i >= 0).sorted().toList();
                if (in.size() >= ChainFollower.weakQuorum(set)) {
                    return Optional.of(in);
                }
            }
            return Optional.empty();
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
                            + follower.weakQuorum() + " matching signed replies or one valid proof. Seen: " + seen
                            + ". Outcome: " + lookup + ". Submitting the same transaction again is safe.");
        }
    }

    /** One submission waiting in an {@link Outbox}, with the attempt number it goes out as. */
    private record Outgoing(Submission submission, int attempt) {}

    /**
     * The submissions bound for one validator. Up to {@link ClientOptions#batchesInFlightMax()}
     * SubmitTransactions calls are out at once; what is submitted meanwhile waits here and leaves
     * in the next call, up to {@link ClientOptions#batchTransactionsMax()} per call. So a lone
     * submission is sent at once, and under load one call, one replica signature and one
     * verification of it serve many transactions. Each transaction keeps its own deadline,
     * retries and verdict ({@link Submission}); a call is only the transport. A call goes to the
     * validator's endpoint of the moment; once the client no longer talks to it (it left the
     * validator set) what waits here is dropped, and the other validators decide.
     *
     * <p>Bound: the queue holds at most one entry per live submission per validator, and a
     * submission is live until its deadline.
     */
    final class Outbox {
        final PublicKey validator;
        final ArrayDeque<Outgoing> queue = new ArrayDeque<>();
        int inFlight;

        Outbox(PublicKey validator) {
            this.validator = validator;
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
                Optional<Replicas.Endpoint> endpoint = replicas.endpoint(validator);
                synchronized (this) {
                    if (endpoint.isEmpty()) {
                        queue.clear();
                        return;
                    }
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
                send(endpoint.get(), batch, Math.min(waitMillis, replicas.options.submitWaitMax().toMillis()));
            }
        }

        private void send(Replicas.Endpoint endpoint, List<Outgoing> batch, long waitMillis) {
            SubmitBatchRequest.Builder request = SubmitBatchRequest.newBuilder().setWaitMillis((int) waitMillis);
            for (Outgoing o : batch) {
                request.addTransactions(o.submission().tx);
            }
            SubmitBatchRequest built = request.build();
            long sentNanos = System.nanoTime();
            Optional<ListenableFuture<SubmitBatchResponse>> started = replicas.through(endpoint, e -> e.stub()
                    .withDeadlineAfter(waitMillis + replicas.options.callDeadline().toMillis(), TimeUnit.MILLISECONDS)
                    .submitTransactions(built));
            if (started.isEmpty()) {
                callDone();
                batch.forEach(o -> o.submission().onBreakerOpen(endpoint, o.attempt()));
                return;
            }
            Futures.addCallback(started.get(), new FutureCallback<>() {
                @Override
                public void onSuccess(SubmitBatchResponse response) {
                    callDone();
                    onAnswer(endpoint, batch, response.getSignedReplies(), waitMillis, sentNanos);
                }

                @Override
                public void onFailure(Throwable t) {
                    callDone();
                    Status status = Status.fromThrowable(t);
                    Metadata trailers = Status.trailersFromThrowable(t);
                    batch.forEach(o -> o.submission().onCallFailed(endpoint, o.attempt(), status, trailers));
                }
            }, MoreExecutors.directExecutor());
        }

        private void callDone() {
            synchronized (this) {
                inFlight--;
            }
            drain();
        }

        /**
         * Verifies the answer under the sets held; when a set not held yet would explain a failure,
         * once more after catching up with the sets (off this thread: a refresh reads the record).
         */
        private void onAnswer(Replicas.Endpoint endpoint, List<Outgoing> batch, SignedReplyBatch signed, long waitMillis,
                long sentNanos) {
            if (batch.stream().allMatch(o -> o.submission().result.isDone())) {
                // Decided already: checking the late replica's signature would change nothing and
                // costs a verification (n - f - 1 of them per call).
                return;
            }
            ChainFollower.Signing signing = follower.signing();
            try {
                deliver(endpoint, batch, verifiedReplies(signed, signing.sets()), waitMillis, sentNanos);
            } catch (UnverifiedReplies bad) {
                if (!bad.laterSetSuspected) {
                    refuse(endpoint, batch, bad);
                    return;
                }
                follower.catchUp(signing.chain()).thenAccept(later -> {
                    try {
                        if (!later) {
                            throw bad;
                        }
                        deliver(endpoint, batch, verifiedReplies(signed, follower.signing().sets()), waitMillis, sentNanos);
                    } catch (UnverifiedReplies still) {
                        refuse(endpoint, batch, still);
                    }
                });
            }
        }

        private void deliver(Replicas.Endpoint endpoint, List<Outgoing> batch, SignedReplies replies, long waitMillis,
                long sentNanos) {
            if (replies.replies().size() != batch.size()) {
                refuse(endpoint, batch, new UnverifiedReplies(replies.replies().size() + " replies to " + batch.size()
                        + " transactions", false));
                return;
            }
            for (int i = 0; i < batch.size(); i++) {
                Outgoing o = batch.get(i);
                o.submission().onReply(endpoint, replies.signer(), o.attempt(), replies.replies().get(i), waitMillis, sentNanos);
            }
        }

        private void refuse(Replicas.Endpoint endpoint, List<Outgoing> batch, UnverifiedReplies why) {
            batch.forEach(o -> o.submission().note(endpoint.index(), "invalid reply: " + why.getMessage()));
        }
    }

    /** A reply batch that verified: its replies, and the validator whose signature it carries. */
    record SignedReplies(List<Reply> replies, PublicKey signer) {}

    /** Why a reply batch was refused, and whether a validator set the client does not hold yet could explain it. */
    static final class UnverifiedReplies extends IllegalArgumentException {
        final boolean laterSetSuspected;

        UnverifiedReplies(String message, boolean laterSetSuspected) {
            super(message);
            this.laterSetSuspected = laterSetSuspected;
        }
    }

    /**
     * Parses a batch of replies and checks it is signed under the key its {@code replica} index
     * has in one of the {@code signing} sets, every reply in it naming that index. Who relayed it
     * does not matter: a signed statement is its signer's, and a signer is counted once.
     */
    static SignedReplies verifiedReplies(SignedReplyBatch signed, List<ValidatorSet> signing) {
        byte[] bytes = signed.getReplies().toByteArray();
        ReplyBatch batch;
        try {
            batch = ReplyBatch.parseFrom(bytes);
        } catch (InvalidProtocolBufferException e) {
            throw new UnverifiedReplies("reply batch does not parse", false);
        }
        long replica = Integer.toUnsignedLong(batch.getReplica());
        byte[] signature = signed.getSignature().toByteArray();
        PublicKey signer = null;
        for (ValidatorSet set : signing) {
            PublicKey key = replica < set.n() ? set.keys().get((int) replica) : null;
            if (key != null && key.verify(Domain.REPLY_BATCH, bytes, signature)) {
                signer = key;
                break;
            }
        }
        if (signer == null) {
            throw new UnverifiedReplies("signature does not verify under replica " + replica + "'s key in the validator set"
                    + (signing.size() > 1 ? "s of epochs " + signing.get(1).epoch() + " and " : " of epoch ")
                    + signing.get(0).epoch(), true);
        }
        for (Reply r : batch.getRepliesList()) {
            if (r.getReplica() != batch.getReplica()) {
                throw new UnverifiedReplies("a reply in the batch claims to be from replica " + r.getReplica(), false);
            }
        }
        return new SignedReplies(batch.getRepliesList(), signer);
    }

    @Override
    public void close() {
        retries.shutdownNow();
        lookups.shutdownNow();
    }
}
