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
import bftledger.api.proto.SubmitRequest;
import bftledger.api.proto.SubmitResponse;
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
import io.grpc.Channel;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import io.grpc.Status;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * A client of a bftledger network that trusts no single replica. Transactions go to every
 * replica; an outcome is accepted on f+1 matching signed replies (at least one is honest) or on
 * one commit certificate with an inclusion proof that verifies against genesis. Retries resend
 * the same signed bytes, so a transaction executes at most once however often it is sent.
 * Thread-safe; one instance serves many concurrent callers.
 */
public final class LedgerClient implements AutoCloseable {
    /** Longest a replica is asked to hold one submit call before answering PENDING. */
    static final int WAIT_PER_CALL_MILLIS_MAX = 5_000;
    static final long RETRY_BACKOFF_MIN_MILLIS = 50;
    static final long RETRY_BACKOFF_MAX_MILLIS = 1_000;

    private final Network network;
    private final List<ManagedChannel> owned;
    private final List<LedgerApiGrpc.LedgerApiFutureStub> stubs;
    private final ProofVerifier proofs;
    private final ScheduledExecutorService retries;

    private LedgerClient(Network network, List<? extends Channel> channels, List<ManagedChannel> owned) {
        if (channels.size() != network.n()) {
            throw new IllegalArgumentException("one channel per validator: " + network.n() + " needed");
        }
        this.network = network;
        this.owned = owned;
        this.stubs = channels.stream().map(LedgerApiGrpc::newFutureStub).toList();
        this.proofs = new ProofVerifier(network);
        this.retries = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "ledger-client-retry");
            t.setDaemon(true);
            return t;
        });
    }

    /** Plaintext channels to every validator address in genesis. */
    public static LedgerClient connect(Network network) {
        List<ManagedChannel> channels = new ArrayList<>();
        for (String address : network.addresses()) {
            channels.add(ManagedChannelBuilder.forTarget(address).usePlaintext()
                    .maxInboundMessageSize(16 << 20).build());
        }
        return new LedgerClient(network, channels, channels);
    }

    /** Over channels the caller owns (tests, custom transports); index i reaches replica i. */
    public static LedgerClient over(Network network, List<? extends Channel> channels) {
        return new LedgerClient(network, channels, List.of());
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

    /** Completes with the proven outcome, or exceptionally with a {@link LedgerClientException}. */
    public CompletableFuture<Committed> submitAsync(SignedTransaction tx, Duration timeout) {
        Submission s = new Submission(tx, System.nanoTime() + timeout.toNanos());
        for (int r = 0; r < network.n(); r++) {
            s.send(r, 0);
        }
        long delay = Math.max(1, timeout.toMillis());
        retries.schedule(s::expire, delay, TimeUnit.MILLISECONDS);
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

        Submission(SignedTransaction tx, long deadlineNanos) {
            this.tx = tx;
            this.txId = TransactionFactory.id(tx);
            this.deadlineNanos = deadlineNanos;
        }

        void send(int replica, int attempt) {
            if (result.isDone()) {
                return;
            }
            long remainingMillis = TimeUnit.NANOSECONDS.toMillis(deadlineNanos - System.nanoTime());
            if (remainingMillis <= 0) {
                return;
            }
            int wait = (int) Math.min(remainingMillis, WAIT_PER_CALL_MILLIS_MAX);
            SubmitRequest request = SubmitRequest.newBuilder().setTransaction(tx).setWaitMillis(wait).build();
            ListenableFuture<SubmitResponse> call = stubs.get(replica)
                    .withDeadlineAfter(wait + 2_000L, TimeUnit.MILLISECONDS)
                    .submitTransaction(request);
            Futures.addCallback(call, new FutureCallback<>() {
                @Override
                public void onSuccess(SubmitResponse response) {
                    onResponse(replica, attempt, response);
                }

                @Override
                public void onFailure(Throwable t) {
                    Status status = Status.fromThrowable(t);
                    note(replica, "unreachable (" + status.getCode() + (status.getDescription() == null ? ""
                            : ": " + status.getDescription()) + ")");
                    retryLater(replica, attempt);
                }
            }, MoreExecutors.directExecutor());
        }

        void retryLater(int replica, int attempt) {
            long backoff = Math.min(RETRY_BACKOFF_MAX_MILLIS, RETRY_BACKOFF_MIN_MILLIS << Math.min(attempt, 10));
            if (!result.isDone() && System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(backoff) < deadlineNanos) {
                retries.schedule(() -> send(replica, attempt + 1), backoff, TimeUnit.MILLISECONDS);
            }
        }

        void onResponse(int replica, int attempt, SubmitResponse response) {
            if (result.isDone()) {
                // Decided already: checking the late replies' signatures would change nothing and
                // costs a verification each (n - f - 1 of them per transaction).
                return;
            }
            Reply reply;
            try {
                reply = verifiedReply(replica, response.getSignedReply());
            } catch (IllegalArgumentException bad) {
                note(replica, "invalid reply: " + bad.getMessage());
                return;
            }
            if (!reply.getTxId().equals(ByteString.copyFrom(txId.bytes()))) {
                note(replica, "reply about another transaction");
                return;
            }
            switch (reply.getOutcome()) {
                case COMMITTED -> onCommitted(replica, reply, response);
                case REJECTED -> onRejected(replica, reply);
                case PENDING -> {
                    note(replica, "pending" + (reply.getDetail().isEmpty() ? "" : " (" + reply.getDetail() + ")"));
                    retryLater(replica, attempt);
                }
                default -> note(replica, "reply with unknown outcome " + reply.getOutcomeValue());
            }
        }

        void onCommitted(int replica, Reply reply, SubmitResponse response) {
            note(replica, "committed at height " + reply.getHeight());
            if (response.hasProof()) {
                Verdict v = proofs.verify(response.getProof());
                if (v.ok() && TransactionFactory.id(response.getProof().getTransaction()).equals(txId)) {
                    complete(reply, true, List.of(replica));
                    return;
                }
                note(replica, "committed, but its proof is invalid: " + v.reason());
            }
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

        void expire() {
            String seen;
            synchronized (this) {
                seen = lastSeen.isEmpty() ? "no replica answered" : lastSeen.toString();
            }
            result.completeExceptionally(new LedgerClientException(LedgerClientException.Kind.TIMEOUT,
                    "transaction " + txId.shortHex() + " not proven committed before the deadline; needed "
                            + network.weakQuorum() + " matching signed replies or one valid proof. Seen: " + seen
                            + ". Submitting the same transaction again is safe."));
        }
    }

    /** Parses a reply after checking it is signed by {@code replica}'s genesis key. */
    Reply verifiedReply(int replica, SignedReply signed) {
        PublicKey key = network.validatorKeys().get(replica);
        byte[] bytes = signed.getReply().toByteArray();
        if (!key.verify(Domain.REPLY, bytes, signed.getSignature().toByteArray())) {
            throw new IllegalArgumentException("signature does not verify under replica " + replica + "'s key");
        }
        Reply reply;
        try {
            reply = Reply.parseFrom(bytes);
        } catch (InvalidProtocolBufferException e) {
            throw new IllegalArgumentException("reply does not parse");
        }
        if (reply.getReplica() != replica) {
            throw new IllegalArgumentException("reply claims to be from replica " + reply.getReplica());
        }
        return reply;
    }

    /** An account's balance as stated identically by f+1 replicas at the same height. */
    public GetAccountResponse account(PublicKey account, Duration timeout) throws LedgerClientException {
        GetAccountRequest request = GetAccountRequest.newBuilder().setAccount(ByteString.copyFrom(account.bytes())).build();
        return agreed("account " + account.shortHex(), timeout, r -> stubs.get(r)
                .withDeadlineAfter(Math.max(1, timeout.toMillis()), TimeUnit.MILLISECONDS).getAccount(request),
                response -> response.toBuilder().setRecordCount(0).build().toByteString());
    }

    /**
     * A committed transaction with a proof that verifies against genesis, or empty when f+1
     * replicas say they do not hold it.
     */
    public Optional<GetTransactionResponse> transaction(Digest txId, Duration timeout) throws LedgerClientException {
        GetTransactionRequest request = GetTransactionRequest.newBuilder().setTxId(ByteString.copyFrom(txId.bytes())).build();
        long deadline = System.nanoTime() + timeout.toNanos();
        Map<Integer, String> seen = new TreeMap<>();
        do {
            int notFound = 0;
            for (int r = 0; r < network.n(); r++) {
                long left = TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime());
                try {
                    GetTransactionResponse response = stubs.get(r)
                            .withDeadlineAfter(Math.max(1, left), TimeUnit.MILLISECONDS).getTransaction(request).get();
                    if (!response.getFound()) {
                        notFound++;
                        seen.put(r, "not found");
                        continue;
                    }
                    Verdict v = proofs.verify(response.getProof());
                    if (v.ok() && TransactionFactory.id(response.getProof().getTransaction()).equals(txId)) {
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
        } while (pause(deadline));
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

    /** Asks every replica, round after round until the deadline, until f+1 give the same answer. */
    private <T> T agreed(String what, Duration timeout, Call<T> call, Key<T> key) throws LedgerClientException {
        long deadline = System.nanoTime() + timeout.toNanos();
        Map<Integer, String> seen = new TreeMap<>();
        do {
            List<ListenableFuture<T>> calls = new ArrayList<>();
            for (int r = 0; r < network.n(); r++) {
                calls.add(call.start(r));
            }
            Map<ByteString, List<Integer>> votes = new HashMap<>();
            for (int r = 0; r < calls.size(); r++) {
                try {
                    T response = calls.get(r).get(Math.max(1, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
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
        } while (pause(deadline));
        throw new LedgerClientException(LedgerClientException.Kind.NO_AGREEMENT,
                what + ": fewer than " + network.weakQuorum() + " replicas agreed before the deadline"
                        + " (they may be at different heights; try again). Seen: " + seen);
    }

    /** Waits a short while before another round; false when the deadline is too close. */
    private static boolean pause(long deadlineNanos) {
        long pauseNanos = TimeUnit.MILLISECONDS.toNanos(100);
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
