package bftledger.node.replica;

import bftledger.api.proto.Evidence;
import bftledger.api.proto.GetAccountRequest;
import bftledger.api.proto.GetAccountResponse;
import bftledger.api.proto.GetBlockRequest;
import bftledger.api.proto.GetBlockResponse;
import bftledger.api.proto.GetEvidenceRequest;
import bftledger.api.proto.GetEvidenceResponse;
import bftledger.api.proto.GetStatusRequest;
import bftledger.api.proto.GetStatusResponse;
import bftledger.api.proto.GetTransactionRequest;
import bftledger.api.proto.GetTransactionResponse;
import bftledger.api.proto.LedgerApiGrpc;
import bftledger.api.proto.Reply;
import bftledger.api.proto.SignedReply;
import bftledger.api.proto.StreamBlocksRequest;
import bftledger.api.proto.ReplyBatch;
import bftledger.api.proto.SignedReplyBatch;
import bftledger.api.proto.SubmitBatchRequest;
import bftledger.api.proto.SubmitBatchResponse;
import bftledger.api.proto.SubmitRequest;
import bftledger.api.proto.SubmitResponse;
import bftledger.api.proto.TransactionProof;
import bftledger.crypto.Digest;
import bftledger.crypto.Domain;
import bftledger.crypto.KeyPair;
import bftledger.crypto.PublicKey;
import bftledger.ledger.BlockStore;
import bftledger.ledger.Blocks;
import bftledger.ledger.ChainGenesis;
import bftledger.ledger.ExecutedBlock;
import bftledger.ledger.TxVerdict;
import bftledger.ledger.proto.Block;
import bftledger.ledger.proto.Receipt;
import bftledger.node.edge.AdmissionLimits;
import bftledger.node.edge.KeyedRateLimiter;
import bftledger.node.edge.PeerLiveness;
import bftledger.node.metrics.NodeMetrics;
import io.grpc.Metadata;
import bftledger.node.net.PeerNetwork;
import bftledger.pbft.Output;
import bftledger.pbft.Request;
import com.google.protobuf.ByteString;
import io.grpc.Status;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Function;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;


/**
 * The submission side of the client API. Every answer is a {@link Reply} signed with the
 * replica's key (under {@link Domain#REPLY}, or once per call under {@link Domain#REPLY_BATCH});
 * a client hears COMMITTED only from {@link #onBlock}, called after the block is durable. A
 * submission asking for a proof is answered once a later block certifies its block.
 *
 * <p>Bounds: at most {@code waitersMax} transactions wait at once (beyond: RESOURCE_EXHAUSTED
 * with a retry-after hint; the client retries the same bytes); a wait is capped at
 * {@code waitMaxMillis} (then PENDING).
 *
 * <p>At the edges: a submission already committed is answered from the store whatever the
 * network state. Otherwise, while {@link PeerLiveness} says no quorum is reachable (a minority
 * partition), a submission fails at once with UNAVAILABLE "no quorum reachable" instead of
 * waiting for a commit that cannot come. Each sender key may submit at its own rate (counted only
 * after its signature verifies, so nobody can spend another key's allowance); beyond it, and when
 * the core's queue is full, RESOURCE_EXHAUSTED with a retry-after hint.
 */
final class ClientSubmissions {
    /** Most transactions one SubmitTransactions call may carry. */
    static final int BATCH_TRANSACTIONS_MAX = 256;

    private final int self;
    /** Charges bad signatures to the calling address (its budget spent, its submissions are refused unread). */
    private final java.util.function.IntConsumer badSignatures;
    private final KeyPair key;
    private final BlockStore store;
    private final VerifiedTransactions transactions;
    private final NodeMetrics metrics;
    private final ScheduledExecutorService timers;
    private final LedgerWaits waits;
    private final ProvenAnswers answers;
    private final int transactionBytesMax;
    private final int waitersMax;
    private final int waitMaxMillis;
    private final Map<Digest, List<CommitWaiter>> waiters = new ConcurrentHashMap<>();
    private final AtomicInteger waiting = new AtomicInteger();
    private final PeerLiveness liveness;
    private final KeyedRateLimiter<PublicKey> senders;
    private CoreLoop core;

    ClientSubmissions(int self, KeyPair key, BlockStore store, VerifiedTransactions transactions, NodeMetrics metrics,
            ScheduledExecutorService timers, LedgerWaits waits, ProvenAnswers answers, int transactionBytesMax,
            int waitersMax, int waitMaxMillis, PeerLiveness liveness, AdmissionLimits limits,
            java.util.function.IntConsumer badSignatures) {
        this.self = self;
        this.badSignatures = badSignatures;
        this.key = key;
        this.store = store;
        this.transactions = transactions;
        this.metrics = metrics;
        this.timers = timers;
        this.waits = waits;
        this.answers = answers;
        this.transactionBytesMax = transactionBytesMax;
        this.waitersMax = waitersMax;
        this.waitMaxMillis = waitMaxMillis;
        this.liveness = liveness;
        this.senders = new KeyedRateLimiter<>(limits.senderRatePerSecond(), limits.senderBurst(), limits.rateKeysMax(),
                System::nanoTime);
        metrics.queueDepth("client-waiters", waiting::get);
    }

    void attach(CoreLoop core) {
        this.core = core;
    }

    int waiting() {
        return waiting.get();
    }

    /**
     * A call's wait timer. Most calls are answered by a commit long before their wait ends; the
     * timer is then cancelled, and the executor removes cancelled tasks, so the answered call is
     * not kept reachable from the timer queue for the rest of its wait (up to the submit wait
     * maximum). Cancelling may come before the timer is set (a call answered while it was being
     * scheduled): the timer is then cancelled as it is set.
     */
    private static final class WaitTimer {
        private ScheduledFuture<?> expiry;
        private boolean cancelled;

        synchronized void set(ScheduledFuture<?> f) {
            if (cancelled) {
                f.cancel(false);
            } else {
                expiry = f;
            }
        }

        synchronized void cancel() {
            cancelled = true;
            if (expiry != null) {
                expiry.cancel(false);
                expiry = null;
            }
        }
    }

    /** Something waiting for one transaction's commit: a submit call, or one slot of a batch call. */
    private interface CommitWaiter {
        /** {@code blockHash}: the hash of {@code record.block()}, computed once per block by the caller. */
        void committed(BlockStore.TxRecord record, ByteString blockHash);

        /**
         * The transaction was not handed to consensus after all: give back the waiter slot. False
         * when the waiter was answered meanwhile (it committed), so there is nothing to refuse.
         */
        boolean release();
    }

    private final class Waiter implements CommitWaiter {
        final StreamObserver<SubmitResponse> out;
        final boolean wantProof;
        final long startNanos = System.nanoTime();
        final AtomicBoolean done = new AtomicBoolean();

        /** The wait's timer, cancelled when the waiter is answered or released (see {@link WaitTimer}). */
        final WaitTimer timer = new WaitTimer();

        final long waitMillis;

        Waiter(StreamObserver<SubmitResponse> out, boolean wantProof, long waitMillis) {
            this.out = out;
            this.wantProof = wantProof;
            this.waitMillis = waitMillis;
        }

        void expireBy(ScheduledFuture<?> expiry) {
            timer.set(expiry);
        }

        @Override
        public void committed(BlockStore.TxRecord record, ByteString blockHash) {
            if (done.get()) {
                return;
            }
            metrics.commitLatency(Duration.ofNanos(System.nanoTime() - startNanos));
            if (!wantProof) {
                answer(ClientSubmissions.this.committed(record, blockHash, false));
                return;
            }
            // The proof needs a later block to certify this one: hold the answer for it, within the wait.
            long left = Math.max(0, waitMillis - TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - startNanos));
            waits.whenCertified(record.height(), left, certified -> answer(ClientSubmissions.this.committed(record, blockHash, true)));
        }

        @Override
        public boolean release() {
            if (done.compareAndSet(false, true)) {
                waiting.decrementAndGet();
                timer.cancel();
                return true;
            }
            return false;
        }

        void answer(SubmitResponse response) {
            if (done.compareAndSet(false, true)) {
                waiting.decrementAndGet();
                timer.cancel();
                try {
                    out.onNext(response);
                    out.onCompleted();
                } catch (RuntimeException cancelled) {
                    // The client went away; nothing to tell it.
                }
            }
        }
    }

    void submitTransaction(SubmitRequest request, StreamObserver<SubmitResponse> out) {
        Checked c = check(request.getTransaction());
        if (c.rejectReason() != null) {
            if (c.rejectReason() == Reply.RejectReason.BAD_SIGNATURE) {
                badSignatures.accept(1);
            }
            reject(out, c.id(), c.rejectReason(), c.detail());
            return;
        }
        if (c.committed() != null) {
            out.onNext(committed(c.committed(), request.getWantProof()));
            out.onCompleted();
            return;
        }
        if (!liveness.quorumReachable()) {
            refuse(out, Status.UNAVAILABLE, "no-quorum", 1_000, noQuorum("the transaction was not accepted (submit it again"));
            return;
        }
        int wait = request.getWaitMillis() == 0 ? waitMaxMillis : Math.min(request.getWaitMillis(), waitMaxMillis);
        Waiter waiter = new Waiter(out, request.getWantProof(), wait);
        Shed shed = admit(c, () -> waiter);
        if (shed != null) {
            refuse(out, Status.RESOURCE_EXHAUSTED, shed.reason(), shed.retryAfterMillis(), shed.detail());
            return;
        }
        // Most waits end in a commit long before this fires: the signed PENDING answer is built only
        // for a waiter still waiting (signing it regardless cost one signature per transaction).
        waiter.expireBy(timers.schedule(() -> {
            if (!waiter.done.get()) {
                finish(c.id(), waiter, response(reply(c.id()).setOutcome(Reply.Outcome.PENDING)
                        .setDetail("not committed within " + wait + " ms at replica " + self + " (view "
                                + core.status().view() + ", height " + store.height() + ")")));
            }
        }, wait, TimeUnit.MILLISECONDS));
    }

    /**
     * A received transaction after the checks every submission gets, in order: size, validation
     * (its signature verified at most once per replica), already committed. Exactly one of
     * {@code rejectReason} (with {@code detail}), {@code committed} or {@code sender} is set.
     */
    private record Checked(Digest id, byte[] raw, Reply.RejectReason rejectReason, String detail,
                           BlockStore.TxRecord committed, PublicKey sender) {}

    private Checked check(bftledger.ledger.proto.SignedTransaction tx) {
        Received r = Received.of(tx);
        return check(r, r.oversized(transactionBytesMax) ? null : transactions.validate(r.id(), r.raw()), store::transaction);
    }

    /** A transaction as received: its bytes and its id (SHA-256 of the body). */
    private record Received(Digest id, byte[] raw) {
        static Received of(bftledger.ledger.proto.SignedTransaction tx) {
            return new Received(bftledger.crypto.Sha256.hash(tx.getBody().toByteArray()), tx.toByteArray());
        }

        boolean oversized(int bytesMax) {
            return raw.length > bytesMax;
        }
    }

    /**
     * {@code verdict} is the validation of {@code r}, or null when it is oversized and was not
     * validated; {@code committed} looks an id up in the ledger (a call's transactions share one snapshot).
     */
    private Checked check(Received r, TxVerdict verdict, Function<Digest, Optional<BlockStore.TxRecord>> committed) {
        Digest id = r.id();
        byte[] raw = r.raw();
        if (r.oversized(transactionBytesMax)) {
            return new Checked(id, raw, Reply.RejectReason.TOO_LARGE, "transaction is " + raw.length
                    + " bytes; the limit is " + transactionBytesMax, null, null);
        }
        if (!verdict.ok()) {
            return new Checked(id, raw, reasonOf(verdict.reason()), verdict.reason() + ": " + verdict.detail(), null, null);
        }
        Optional<BlockStore.TxRecord> already = committed.apply(id);
        if (already.isPresent()) {
            return new Checked(id, raw, null, null, already.get(), null);
        }
        return new Checked(id, raw, null, null, null, verdict.transaction().sender());
    }

    /** Why a valid transaction was not handed to consensus: load, not the transaction. */
    private record Shed(String reason, long retryAfterMillis, String detail) {}

    /**
     * Hands a checked, valid, not yet committed transaction to consensus with a waiter for its
     * commit, unless load says no: the sender's rate, the replica's waiter cap, the core's queue.
     * The waiter is registered before the store is looked at again, so a commit in between is not
     * missed (and is told to the waiter at once). Null when the transaction is in (or committed).
     */
    private Shed admit(Checked c, java.util.function.Supplier<CommitWaiter> newWaiter) {
        Reserved r = reserve(c, newWaiter);
        return r.shed() != null ? r.shed() : hand(c, r.waiter(), store::transaction);
    }

    /** A registered waiter, or why none was: the first half of {@link #admit}. */
    private record Reserved(CommitWaiter waiter, Shed shed) {}

    /** The sender's rate and the waiter cap, then the waiter registered. */
    private Reserved reserve(Checked c, java.util.function.Supplier<CommitWaiter> newWaiter) {
        long senderWait = senders.tryAcquire(c.sender());
        if (senderWait > 0) {
            return new Reserved(null, new Shed("sender-rate", senderWait, "sender " + c.sender().shortHex()
                    + " is over its submission rate at replica " + self));
        }
        if (waiting.incrementAndGet() > waitersMax) {
            waiting.decrementAndGet();
            return new Reserved(null, new Shed("waiters-full", 500, "replica " + self + " has " + waitersMax
                    + " submissions waiting"));
        }
        CommitWaiter waiter = newWaiter.get();
        register(c.id(), waiter);
        return new Reserved(waiter, null);
    }

    /**
     * The second half of {@link #admit}, for a registered waiter: the ledger looked at again
     * through {@code lookup} (opened after the registration), then the core's queue.
     */
    private Shed hand(Checked c, CommitWaiter waiter, Function<Digest, Optional<BlockStore.TxRecord>> lookup) {
        Optional<BlockStore.TxRecord> committed = lookup.apply(c.id());
        if (committed.isPresent()) {
            unregister(c.id(), waiter);
            waiter.committed(committed.get(), blockHash(committed.get()));
            return null;
        }
        if (!core.offerRequest(new Request(c.id(), c.raw()))) {
            unregister(c.id(), waiter);
            if (waiter.release()) {
                Optional<String> stall = core.storageStall();
                return stall.isPresent()
                        ? new Shed("storage-full", CoreLoop.STORAGE_RETRY_MILLIS, "replica " + self
                                + " cannot store anything now (" + stall.get() + ")")
                        : new Shed("core-queue-full", 200, "replica " + self + " consensus queue is full");
            }
        }
        return null;
    }

    private String noQuorum(String notAccepted) {
        return "no quorum reachable: replica " + self + " heard " + liveness.peersHeardRecently() + " of the "
                + liveness.peersNeeded() + " other replicas needed within " + liveness.silenceMillis() + " ms; "
                + notAccepted + ", same bytes, later or to replicas in the majority)";
    }

    private void register(Digest id, CommitWaiter waiter) {
        waiters.computeIfAbsent(id, k -> new CopyOnWriteArrayList<>()).add(waiter);
    }

    /**
     * Many transactions in one call, each handled as {@link #submitTransaction} would, answered
     * together with one signature once every one is committed or refused, or when the wait ends
     * (the rest PENDING). A transaction refused for load alone (sender rate, waiters, the core's
     * queue) is answered REJECTED/OVERLOADED, which clients read as "ask again later"; only what
     * concerns the whole call (size, no quorum, no waiter slot at all) fails the call.
     */
    void submitTransactions(SubmitBatchRequest request, StreamObserver<SubmitBatchResponse> out) {
        int count = request.getTransactionsCount();
        if (count == 0 || count > BATCH_TRANSACTIONS_MAX) {
            metrics.rejected("client-batch-size");
            out.onError(Status.INVALID_ARGUMENT.withDescription("a SubmitTransactions call carries 1 to "
                    + BATCH_TRANSACTIONS_MAX + " transactions; this one has " + count).asRuntimeException());
            return;
        }
        BatchCall call = new BatchCall(out, count);
        // The call's signatures are verified together (one batch), then each transaction is checked as a single submit would be.
        Received[] received = new Received[count];
        List<Digest> receivedIds = new ArrayList<>(count);
        List<byte[]> receivedBytes = new ArrayList<>(count);
        for (int i = 0; i < count; i++) {
            received[i] = Received.of(request.getTransactions(i));
            if (!received[i].oversized(transactionBytesMax)) {
                receivedIds.add(received[i].id());
                receivedBytes.add(received[i].raw());
            }
        }
        TxVerdict[] verdicts = transactions.validateAll(receivedIds, receivedBytes);
        int bad = 0;
        for (TxVerdict v : verdicts) {
            if (!v.ok() && reasonOf(v.reason()) == Reply.RejectReason.BAD_SIGNATURE) {
                bad++;
            }
        }
        badSignatures.accept(bad);
        Checked[] checked = new Checked[count];
        List<Integer> toOrder = new ArrayList<>();
        // One snapshot for the call's lookups: two LMDB read transactions instead of two per transaction.
        try (bftledger.ledger.StoreSnapshot ledger = store.snapshot()) {
            for (int i = 0, v = 0; i < count; i++) {
                Checked c = checked[i] = check(received[i], received[i].oversized(transactionBytesMax) ? null : verdicts[v++],
                        ledger::transaction);
                if (c.rejectReason() != null) {
                    call.fill(i, rejected(c.id(), c.rejectReason(), c.detail()));
                } else if (c.committed() != null) {
                    call.fill(i, committedReply(c.committed(), blockHash(c.committed())).build());
                } else {
                    toOrder.add(i);
                }
            }
        }
        if (!toOrder.isEmpty() && !liveness.quorumReachable()) {
            refuse(out, Status.UNAVAILABLE, "no-quorum", 1_000, noQuorum("the transactions were not accepted (submit them again"));
            return;
        }
        // admit() for each, in two passes: every waiter registered, then one snapshot opened after
        // all registrations looks each up again before it goes to the core.
        CommitWaiter[] registered = new CommitWaiter[count];
        for (int i : toOrder) {
            int index = i;
            Reserved r = reserve(checked[i], () -> call.slot(index));
            if (r.shed() != null) {
                shed(call, i, checked[i], r.shed());
            } else {
                registered[i] = r.waiter();
            }
        }
        try (bftledger.ledger.StoreSnapshot ledger = store.snapshot()) {
            for (int i : toOrder) {
                Shed shed = registered[i] == null ? null : hand(checked[i], registered[i], ledger::transaction);
                if (shed != null) {
                    shed(call, i, checked[i], shed);
                }
            }
        }
        Digest[] ids = new Digest[count];
        for (int i = 0; i < count; i++) {
            ids[i] = checked[i].id();
        }
        int wait = request.getWaitMillis() == 0 ? waitMaxMillis : Math.min(request.getWaitMillis(), waitMaxMillis);
        if (!call.answered()) {
            call.timer.set(timers.schedule(() -> call.expire(ids, wait), wait, TimeUnit.MILLISECONDS));
        }
    }

    /** Transaction {@code index} of {@code call} refused for load. */
    private void shed(BatchCall call, int index, Checked c, Shed shed) {
        metrics.shed("submit", shed.reason());
        call.fill(index, rejected(c.id(), Reply.RejectReason.OVERLOADED, shed.detail() + "; retry after "
                + shed.retryAfterMillis() + " ms"));
    }

    private Reply rejected(Digest id, Reply.RejectReason reason, String detail) {
        metrics.rejected("client-" + reason.name());
        return reply(id).setOutcome(Reply.Outcome.REJECTED).setRejectReason(reason).setDetail(detail).build();
    }

    /** One SubmitTransactions call: a reply per transaction, sent under one signature when all are in. */
    private final class BatchCall {
        final StreamObserver<SubmitBatchResponse> out;
        final Reply[] replies;
        final long startNanos = System.nanoTime();
        /** The wait's timer, cancelled when the call is answered (see {@link WaitTimer}). */
        final WaitTimer timer = new WaitTimer();
        int unanswered;
        int slots;
        boolean sent;

        BatchCall(StreamObserver<SubmitBatchResponse> out, int count) {
            this.out = out;
            this.replies = new Reply[count];
            this.unanswered = count;
        }

        /** A waiter for transaction {@code index}; the call holds one of the replica's waiter slots for it until answered. */
        synchronized Slot slot(int index) {
            slots++;
            return new Slot(this, index);
        }

        synchronized boolean answered() {
            return sent;
        }

        synchronized boolean unfilled(int index) {
            return !sent && replies[index] == null;
        }

        synchronized void fill(int index, Reply reply) {
            if (sent || replies[index] != null) {
                return;
            }
            replies[index] = reply;
            if (--unanswered == 0) {
                send();
            }
        }

        /** The wait ended: what is not committed yet is PENDING. */
        synchronized void expire(Digest[] ids, int waitMillis) {
            if (sent) {
                return;
            }
            String detail = "not committed within " + waitMillis + " ms at replica " + self + " (view "
                    + core.status().view() + ", height " + store.height() + ")";
            for (int i = 0; i < replies.length; i++) {
                if (replies[i] == null) {
                    replies[i] = reply(ids[i]).setOutcome(Reply.Outcome.PENDING).setDetail(detail).build();
                    // Its slot stays registered until the commit or the next block drops it; unregister now.
                    List<CommitWaiter> list = waiters.get(ids[i]);
                    if (list != null) {
                        for (CommitWaiter w : list) {
                            if (w instanceof Slot s && s.call == this) {
                                unregister(ids[i], w);
                            }
                        }
                    }
                }
            }
            unanswered = 0;
            send();
        }

        private void send() {
            sent = true;
            timer.cancel();
            waiting.addAndGet(-slots);
            ReplyBatch.Builder batch = ReplyBatch.newBuilder().setReplica(self);
            for (Reply r : replies) {
                batch.addReplies(r);
            }
            byte[] bytes = batch.build().toByteArray();
            SubmitBatchResponse response = SubmitBatchResponse.newBuilder().setSignedReplies(SignedReplyBatch.newBuilder()
                    .setReplies(ByteString.copyFrom(bytes)).setSignature(ByteString.copyFrom(key.sign(Domain.REPLY_BATCH, bytes))))
                    .build();
            try {
                out.onNext(response);
                out.onCompleted();
            } catch (RuntimeException cancelled) {
                // The client went away; nothing to tell it.
            }
        }
    }

    /** Transaction {@code index} of a batch call, waiting for its commit. */
    private final class Slot implements CommitWaiter {
        final BatchCall call;
        final int index;

        Slot(BatchCall call, int index) {
            this.call = call;
            this.index = index;
        }

        @Override
        public void committed(BlockStore.TxRecord record, ByteString blockHash) {
            metrics.commitLatency(Duration.ofNanos(System.nanoTime() - call.startNanos));
            call.fill(index, committedReply(record, blockHash).build());
        }

        @Override
        public boolean release() {
            // The call gives back its waiter slots when it is answered (see BatchCall.send).
            return call.unfilled(index);
        }
    }

    private void finish(Digest id, Waiter waiter, SubmitResponse response) {
        unregister(id, waiter);
        waiter.answer(response);
    }

    private void unregister(Digest id, CommitWaiter waiter) {
        List<CommitWaiter> list = waiters.get(id);
        if (list != null) {
            list.remove(waiter);
            if (list.isEmpty()) {
                waiters.remove(id, list);
            }
        }
    }

    /** Answers the waiters of {@code block}'s transactions; called once the block is durable. */
    void onBlock(ExecutedBlock block) {
        Block b = block.block();
        ByteString blockHash = ByteString.copyFrom(block.hash().bytes());
        for (int i = 0; i < b.getReceiptsCount(); i++) {
            Receipt receipt = b.getReceipts(i);
            List<CommitWaiter> list = waiters.remove(Digest.of(receipt.getTxId().toByteArray()));
            if (list == null) {
                continue;
            }
            BlockStore.TxRecord record = new BlockStore.TxRecord(block.height(), i, receipt, b.getTransactions(i), b);
            for (CommitWaiter w : list) {
                w.committed(record, blockHash);
            }
        }
    }

    private SubmitResponse committed(BlockStore.TxRecord record, boolean wantProof) {
        return committed(record, blockHash(record), wantProof);
    }

    private SubmitResponse committed(BlockStore.TxRecord record, ByteString blockHash, boolean wantProof) {
        SubmitResponse response = response(committedReply(record, blockHash));
        // A transaction in a pruned block is answered with its signed receipt alone: its proof went with the body.
        return wantProof && !record.pruned() ? response.toBuilder().setProof(answers.proof(record)).build() : response;
    }

    private Reply.Builder committedReply(BlockStore.TxRecord record, ByteString blockHash) {
        Digest id = Digest.of(record.receipt().getTxId().toByteArray());
        return reply(id).setOutcome(Reply.Outcome.COMMITTED).setReceipt(record.receipt()).setHeight(record.height())
                .setBlockHash(blockHash);
    }

    private static ByteString blockHash(BlockStore.TxRecord record) {
        return ByteString.copyFrom(Blocks.hash(record.block()).bytes());
    }

    private Reply.Builder reply(Digest id) {
        return Reply.newBuilder().setReplica(self).setTxId(ByteString.copyFrom(id.bytes()));
    }

    private SubmitResponse response(Reply.Builder reply) {
        byte[] bytes = reply.build().toByteArray();
        return SubmitResponse.newBuilder().setSignedReply(SignedReply.newBuilder().setReply(ByteString.copyFrom(bytes))
                .setSignature(ByteString.copyFrom(key.sign(Domain.REPLY, bytes)))).build();
    }

    private void reject(StreamObserver<SubmitResponse> out, Digest id, Reply.RejectReason reason, String detail) {
        metrics.rejected("client-" + reason.name());
        out.onNext(response(reply(id).setOutcome(Reply.Outcome.REJECTED).setRejectReason(reason).setDetail(detail)));
        out.onCompleted();
    }

    /**
     * Refuses a call with a gRPC status (not a signed reply: the replica states nothing about the
     * transaction), a machine-readable reason and a retry-after hint in the trailers.
     */
    private void refuse(StreamObserver<?> out, Status status, String reason, long retryAfterMillis, String description) {
        metrics.shed("submit", reason);
        Metadata trailers = new Metadata();
        trailers.put(bftledger.api.Wire.REFUSAL_REASON, reason);
        trailers.put(bftledger.api.Wire.RETRY_AFTER_MILLIS, Long.toString(retryAfterMillis));
        try {
            out.onError(status.withDescription(description + "; retry after " + retryAfterMillis + " ms").asRuntimeException(trailers));
        } catch (RuntimeException cancelled) {
            // The client went away.
        }
    }

    static Reply.RejectReason reasonOf(TxVerdict.Reason reason) {
        return switch (reason) {
            case OVERSIZED -> Reply.RejectReason.TOO_LARGE;
            case WRONG_CHAIN_ID -> Reply.RejectReason.WRONG_CHAIN;
            case BAD_SENDER_KEY -> Reply.RejectReason.BAD_SENDER;
            case BAD_SIGNATURE -> Reply.RejectReason.BAD_SIGNATURE;
            default -> Reply.RejectReason.MALFORMED;
        };
    }

}
