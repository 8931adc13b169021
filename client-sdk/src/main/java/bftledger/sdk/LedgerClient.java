package bftledger.sdk;

import bftledger.api.proto.GetAccountRequest;
import bftledger.api.proto.GetAccountResponse;
import bftledger.api.proto.GetBlockRequest;
import bftledger.api.proto.GetBlockResponse;
import bftledger.api.proto.GetCertifiedHeaderRequest;
import bftledger.api.proto.GetCertifiedHeaderResponse;
import bftledger.api.proto.GetRecordHistoryRequest;
import bftledger.api.proto.GetRecordHistoryResponse;
import bftledger.api.proto.GetRecordRequest;
import bftledger.api.proto.GetRecordResponse;
import bftledger.api.proto.GetStatusRequest;
import bftledger.api.proto.GetStatusResponse;
import bftledger.api.proto.GetTransactionRequest;
import bftledger.api.proto.GetTransactionResponse;
import bftledger.api.proto.TransactionProof;
import bftledger.crypto.Digest;
import bftledger.crypto.PublicKey;
import bftledger.ledger.Proofs;
import bftledger.ledger.ValidatorSets;
import bftledger.ledger.proto.Block;
import bftledger.ledger.proto.BlockHeader;
import bftledger.ledger.proto.SignedTransaction;
import bftledger.sdk.resilience.CircuitBreaker;
import bftledger.sdk.resilience.RetryBudget;
import com.google.common.util.concurrent.ListenableFuture;
import com.google.protobuf.ByteString;
import io.grpc.Channel;
import io.grpc.Metadata;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

/**
 * A client of a bftledger network that trusts no single replica and needs no more than one.
 * Transactions go to every validator and settle on f+1 matching signed replies or on one proof
 * ({@link Submissions}); every read is taken from the first replica whose answer verifies against
 * the genesis and the validator sets followed since ({@link ProvenReads}, {@link ProofVerifier}):
 * a receipt, a balance, a record and its history, a block, the latest certified header. A replica
 * whose answer does not verify is named and counted ({@link #rejectedAnswers}) and the next one is
 * asked. Retries resend the same signed bytes, so a transaction executes at most once however
 * often it is sent. Thread-safe.
 *
 * <p>Validator sets: the client starts with the sets its {@link Network} holds (genesis's alone
 * unless told more) and follows the chain by itself: when a reply signature or a certificate fails
 * in a way a set it does not hold yet would explain, it reads the VALIDATORS record
 * ({@link #refreshValidators}, at most once a second) and checks that answer once more under the
 * chain the record proves. Nothing is accepted because a refresh failed. Replica indices
 * ({@link #rejectedAnswers}, {@link #breakerStates}, {@link ReadOptions#onlyReplica}) are those of
 * the latest set held.
 *
 * <p>Call discipline ({@link ClientOptions}): every gRPC call carries a deadline the replica
 * sees; only idempotent calls are retried, after backoff with full jitter, while the
 * {@link RetryBudget} allows; each replica has a {@link CircuitBreaker}.
 */
public final class LedgerClient implements AutoCloseable {
    /** Trailer a replica sets on RESOURCE_EXHAUSTED: milliseconds to wait before asking again. */
    public static final Metadata.Key<String> RETRY_AFTER_MILLIS = bftledger.api.Wire.RETRY_AFTER_MILLIS;
    /** Trailer a replica sets on every error it decides itself (shed, rate limited, no quorum). */
    public static final Metadata.Key<String> REFUSAL_REASON = bftledger.api.Wire.REFUSAL_REASON;

    private final ClientOptions options;
    private final Replicas replicas;
    private final ChainFollower follower;
    private final ProvenReads reads;
    private final Submissions submissions;

    private LedgerClient(Network network, Replicas replicas, ClientOptions options) {
        this.options = options;
        this.replicas = replicas;
        this.follower = new ChainFollower(network, replicas, this::provenValidators, options.callDeadline(), options.clock());
        this.reads = new ProvenReads(replicas, follower);
        this.submissions = new Submissions(replicas, follower, (id, timeout) -> transaction(id, ReadOptions.defaults(), timeout)
                .map(p -> new Proven<>(p.value().getProof(), p.height(), p.blockHash(), p.replica())));
    }

    /**
     * Channels to every validator of the latest set {@code network} holds ({@link TlsChannels}:
     * TLS trusting the CA genesis names, or plaintext where the network has none and
     * {@link Network#withPlaintext()} asked for it). The client dials the validators of each set it
     * adopts later and closes its channels to those that left. {@link Network#withDialAddress}
     * overrides name genesis's replicas and follow them only while their key and address are
     * genesis's.
     */
    public static LedgerClient connect(Network network) {
        return connect(network, ClientOptions.defaults());
    }

    public static LedgerClient connect(Network network, ClientOptions options) {
        return new LedgerClient(network, Replicas.dialling(network, options,
                (net, set, replica) -> TlsChannels.builder(net, set, replica, null).maxInboundMessageSize(16 << 20).build()),
                options);
    }

    /**
     * Over channels the caller owns (tests, custom transports); index i reaches validator i of
     * the latest set {@code network} holds. The client checks answers under every set it adopts
     * later but keeps these channels: to reach validators added since, build a new client.
     */
    public static LedgerClient over(Network network, List<? extends Channel> channels) {
        return over(network, channels, ClientOptions.defaults());
    }

    public static LedgerClient over(Network network, List<? extends Channel> channels, ClientOptions options) {
        return new LedgerClient(network, Replicas.over(network, channels, options), options);
    }

    public ClientOptions options() {
        return options;
    }

    /** The network with the validator sets the client holds now. */
    public Network network() {
        return follower.network();
    }

    /** The validator sets the client holds now, genesis's first. */
    public ValidatorChain validators() {
        return follower.chain();
    }

    /**
     * Reads the VALIDATORS record (a proven read, like {@link #record}), checks that each set it
     * names was approved by a quorum of the set before it from genesis's on, then checks its state
     * proof under a header certified by the sets so derived; adopts that chain when it extends the
     * one held. A replica whose answer fails (a record that does not verify, or proves sets that do
     * not extend those held) is named and counted as any proven read's. An absent record is
     * genesis's set alone. The client also does this by itself when a set it does not hold would
     * explain a failure.
     *
     * @return the chain held afterwards
     * @throws LedgerClientException when no replica's answer verified before {@code timeout}; the chain held is kept
     */
    public ValidatorChain refreshValidators(Duration timeout) throws LedgerClientException {
        return follower.refresh(timeout);
    }

    public TransactionFactory transactions() {
        return new TransactionFactory(network().chainId());
    }

    /** Each replica's breaker state, by replica index. */
    public List<CircuitBreaker.State> breakerStates() {
        return replicas.endpoints().stream().map(e -> e.breaker().state()).toList();
    }

    /** Calls (first attempts, retries and probes) this client has sent to {@code replica}. */
    public long callsSent(int replica) {
        return replicas.callsSent(replica);
    }

    /** Answers from {@code replica} that did not verify against the genesis, and were therefore not used. */
    public long rejectedAnswers(int replica) {
        return replicas.rejectedCount(replica);
    }

    /** Why {@code replica}'s latest rejected answer was rejected. */
    public Optional<String> lastRejection(int replica) {
        return replicas.lastRejection(replica);
    }

    /** The retry budget's current window. */
    public RetryBudget.Snapshot retryBudget() {
        return replicas.budget.snapshot();
    }

    /** Deadline and retry tasks waiting to run; a settled submission leaves none behind. */
    int scheduledTasks() {
        return submissions.scheduledTasks();
    }

    List<bftledger.api.proto.Reply> verifiedReplies(bftledger.api.proto.SignedReplyBatch signed) {
        return Submissions.verifiedReplies(signed, follower.signing().sets()).replies();
    }

    // ------------------------------------------------------------------------------ submissions

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
        return submissions.submit(tx, timeout);
    }

    // ------------------------------------------------------------------------------ proven reads

    /** An account's balance (0 when never credited), proven under a certified header. */
    public Proven<Long> account(PublicKey account, ReadOptions read, Duration timeout) throws LedgerClientException {
        GetAccountRequest request = GetAccountRequest.newBuilder().setAccount(ByteString.copyFrom(account.bytes()))
                .setMinHeight(read.minHeight()).setWaitMillis(read.replicaWaitMillis()).build();
        long deadline = System.nanoTime() + timeout.toNanos();
        return reads.<GetAccountResponse, Long>read("account " + account.shortHex(), read, deadline,
                e -> stub(e, deadline, read).getAccount(request), (r, response, proofs) -> {
                    if ((!response.getAtMinHeight() && read.minHeight() > 0) || !response.hasHeaderProof()) {
                        // Not a lie: the replica cannot prove this height yet (or is below the one asked).
                        return new ProvenReads.Behind<>(response.getHeight());
                    }
                    return checked(proofs.verifyAccount(account, response), response.getBalance(), read, r);
                }).orElseThrow(() -> new IllegalStateException("an account read always answers"));
    }

    public Proven<Long> account(PublicKey account, Duration timeout) throws LedgerClientException {
        return account(account, ReadOptions.defaults(), timeout);
    }

    /** A record's value and writer (empty when never written), proven under a certified header. */
    public Proven<Optional<RecordEntry>> record(PublicKey owner, String key, ReadOptions read, Duration timeout)
            throws LedgerClientException {
        GetRecordRequest request = recordRequest(owner, key, read);
        long deadline = System.nanoTime() + timeout.toNanos();
        return reads.<GetRecordResponse, Optional<RecordEntry>>read("record " + owner.shortHex() + "/" + key, read, deadline,
                e -> stub(e, deadline, read).getRecord(request), (r, response, proofs) -> {
                    if ((!response.getAtMinHeight() && read.minHeight() > 0) || !response.hasHeaderProof()) {
                        return new ProvenReads.Behind<>(response.getHeight());
                    }
                    return checked(proofs.verifyRecord(owner, key, response), entry(response), read, r);
                }).orElseThrow(() -> new IllegalStateException("a record read always answers"));
    }

    /** A record's value, the transaction that wrote it, and the height its state was proven at. */
    public record RecordEntry(ByteString value, Digest writer) {}

    private static Optional<RecordEntry> entry(GetRecordResponse response) {
        return response.getFound()
                ? Optional.of(new RecordEntry(response.getValue(), Digest.of(response.getWriterTxId().toByteArray())))
                : Optional.empty();
    }

    private static GetRecordRequest recordRequest(PublicKey owner, String key, ReadOptions read) {
        return GetRecordRequest.newBuilder().setOwner(ByteString.copyFrom(owner.bytes())).setKey(key)
                .setMinHeight(read.minHeight()).setWaitMillis(read.replicaWaitMillis()).build();
    }

    /**
     * A record's values, newest first, each proven by the transaction that wrote it, starting
     * from the current value (proven under a certified header), up to {@code limit} writes.
     */
    public Proven<List<TransactionProof>> recordHistory(PublicKey owner, String key, int limit, ReadOptions read,
            Duration timeout) throws LedgerClientException {
        GetRecordHistoryRequest request = GetRecordHistoryRequest.newBuilder().setOwner(ByteString.copyFrom(owner.bytes()))
                .setKey(key).setLimit(limit).setMinHeight(read.minHeight()).setWaitMillis(read.replicaWaitMillis()).build();
        long deadline = System.nanoTime() + timeout.toNanos();
        return reads.<GetRecordHistoryResponse, List<TransactionProof>>read("history of " + owner.shortHex() + "/" + key,
                read, deadline, e -> stub(e, deadline, read).getRecordHistory(request), (r, response, proofs) -> {
                    GetRecordResponse current = response.getCurrent();
                    if ((!current.getAtMinHeight() && read.minHeight() > 0) || !current.hasHeaderProof()) {
                        return new ProvenReads.Behind<>(current.getHeight());
                    }
                    Proofs.Checked<ProofVerifier.ProvenHeader> now = proofs.verifyRecord(owner, key, current);
                    if (!now.ok()) {
                        return new ProvenReads.Invalid<>(now.problem());
                    }
                    Digest newest = current.getFound() ? Digest.of(current.getWriterTxId().toByteArray()) : null;
                    if (newest == null && response.getWritesCount() > 0) {
                        return new ProvenReads.Invalid<>("writes listed for a record that was never written");
                    }
                    if (newest != null) {
                        Verdict v = proofs.verifyHistory(owner, key, newest, response);
                        if (!v.ok()) {
                            return new ProvenReads.Invalid<>(v.reason());
                        }
                    }
                    if (response.getPrunedBelow() > 0 && !response.getComplete() && (limit <= 0 || response.getWritesCount() < limit)) {
                        // Cut short by pruning, not by the limit: another replica may keep more.
                        return new ProvenReads.Pruned<>(response.getPrunedBelow());
                    }
                    return new ProvenReads.Verified<>(new Proven<>(List.copyOf(response.getWritesList()),
                            now.value().height(), now.value().hash(), r));
                }).orElseThrow(() -> new IllegalStateException("a history read always answers"));
    }

    /**
     * A committed transaction with its receipt, proven; empty when f+1 replicas (or the one
     * replica asked) say they do not hold it (absence is not proven, only agreed).
     */
    public Optional<Proven<GetTransactionResponse>> transaction(Digest txId, ReadOptions read, Duration timeout)
            throws LedgerClientException {
        GetTransactionRequest request = GetTransactionRequest.newBuilder().setTxId(ByteString.copyFrom(txId.bytes()))
                .setWaitMillis(read.replicaWaitMillis()).build();
        long deadline = System.nanoTime() + timeout.toNanos();
        return reads.<GetTransactionResponse, GetTransactionResponse>read("transaction " + txId.shortHex(), read, deadline,
                e -> stub(e, deadline, read).getTransaction(request), (r, response, proofs) -> {
                    if (!response.getFound()) {
                        return response.getPrunedBelow() > 0 ? new ProvenReads.Pruned<>(response.getPrunedBelow())
                                : new ProvenReads.Absent<>();
                    }
                    if (!TransactionFactory.id(response.getProof().getTransaction()).equals(txId)) {
                        return new ProvenReads.Invalid<>("the proof is for another transaction");
                    }
                    Verdict v = proofs.verify(response.getProof());
                    if (!v.ok()) {
                        return response.getProof().hasHeaderProof() ? new ProvenReads.Invalid<>(v.reason())
                                : new ProvenReads.Behind<>(response.getHeight());
                    }
                    ProofVerifier.ProvenHeader header = proofs.header(response.getProof().getHeaderProof()).value();
                    return new ProvenReads.Verified<>(new Proven<>(response, header.height(), header.hash(), r));
                });
    }

    public Optional<Proven<GetTransactionResponse>> transaction(Digest txId, Duration timeout) throws LedgerClientException {
        return transaction(txId, ReadOptions.defaults(), timeout);
    }

    /** The block at {@code height} (0: the latest certified), its body checked against its proven header. */
    public Optional<Proven<Block>> block(long height, ReadOptions read, Duration timeout) throws LedgerClientException {
        GetBlockRequest request = GetBlockRequest.newBuilder().setHeight(height).setWaitMillis(read.replicaWaitMillis()).build();
        long deadline = System.nanoTime() + timeout.toNanos();
        return reads.<GetBlockResponse, Block>read("block " + (height == 0 ? "latest" : height), read, deadline,
                e -> stub(e, deadline, read).getBlock(request), (r, response, proofs) -> {
                    if (!response.getFound()) {
                        return response.getPrunedBelow() > 0 ? new ProvenReads.Pruned<>(response.getPrunedBelow())
                                : new ProvenReads.Absent<>();
                    }
                    if (!response.hasHeaderProof()) {
                        return new ProvenReads.Behind<>(0);
                    }
                    Proofs.Checked<ProofVerifier.ProvenHeader> h = proofs.verifyBlock(response);
                    if (h.ok() && height != 0 && h.value().height() != height) {
                        return new ProvenReads.Invalid<>("asked for block " + height + ", got " + h.value().height());
                    }
                    return checked(h, response.getBlock(), read, r);
                });
    }

    /** The latest certified header (at least {@code read.minHeight()}), proven. */
    public Proven<BlockHeader> certifiedHeader(ReadOptions read, Duration timeout) throws LedgerClientException {
        GetCertifiedHeaderRequest request = GetCertifiedHeaderRequest.newBuilder().setMinHeight(read.minHeight())
                .setWaitMillis(read.replicaWaitMillis()).build();
        long deadline = System.nanoTime() + timeout.toNanos();
        return reads.<GetCertifiedHeaderResponse, BlockHeader>read("certified header", read, deadline,
                e -> stub(e, deadline, read).getCertifiedHeader(request), (r, response, proofs) -> {
                    if (!response.getFound()) {
                        return new ProvenReads.Behind<>(0);
                    }
                    Proofs.Checked<ProofVerifier.ProvenHeader> h = proofs.verifyCertifiedHeader(response, 0);
                    return checked(h, h.ok() ? h.value().header() : null, read, r);
                }).orElseThrow(() -> new IllegalStateException("a certified header read always answers"));
    }

    /**
     * The header of block {@code height}, proven against genesis by the replica's latest certified
     * header (the same one, or one whose blocks_root holds it): also for a block the replica pruned.
     */
    public Proven<BlockHeader> header(long height, ReadOptions read, Duration timeout) throws LedgerClientException {
        GetCertifiedHeaderRequest request = GetCertifiedHeaderRequest.newBuilder().setMinHeight(Math.max(height, read.minHeight()))
                .setExtendsHeight(height).setWaitMillis(read.replicaWaitMillis()).build();
        long deadline = System.nanoTime() + timeout.toNanos();
        return reads.<GetCertifiedHeaderResponse, BlockHeader>read("header " + height, read, deadline,
                e -> stub(e, deadline, read).getCertifiedHeader(request), (r, response, proofs) -> {
                    if (!response.getFound()) {
                        return new ProvenReads.Behind<>(0);
                    }
                    Proofs.Checked<ProofVerifier.ProvenHeader> latest = proofs.verifyCertifiedHeader(response, height);
                    if (!latest.ok()) {
                        return new ProvenReads.Invalid<>(latest.problem());
                    }
                    if (latest.value().height() < height) {
                        return new ProvenReads.Behind<>(latest.value().height());
                    }
                    ByteString bytes = response.getExtends().getHeader();
                    try {
                        return new ProvenReads.Verified<>(new Proven<>(BlockHeader.parseFrom(bytes), height,
                                bftledger.crypto.Sha256.hash(bytes.toByteArray()), r));
                    } catch (com.google.protobuf.InvalidProtocolBufferException e) {
                        return new ProvenReads.Invalid<>("the proven header does not parse");
                    }
                }).orElseThrow(() -> new IllegalStateException("a header read always answers"));
    }

    private static <T> ProvenReads.Answer<T> checked(Proofs.Checked<ProofVerifier.ProvenHeader> h, T value, ReadOptions read,
            int replica) {
        if (!h.ok()) {
            return new ProvenReads.Invalid<>(h.problem());
        }
        if (h.value().height() < read.minHeight()) {
            return new ProvenReads.Behind<>(h.value().height());
        }
        return new ProvenReads.Verified<>(new Proven<>(value, h.value().height(), h.value().hash(), replica));
    }

    private bftledger.api.proto.LedgerApiGrpc.LedgerApiFutureStub stub(Replicas.Endpoint endpoint, long deadline,
            ReadOptions read) {
        return endpoint.stub().withDeadlineAfter(replicas.callMillis(deadline) + read.replicaWait().toMillis(),
                TimeUnit.MILLISECONDS);
    }

    /**
     * The VALIDATORS record, proven at {@code minHeight} or later, as the chain it names: each set
     * approved by the one before it, the state proof checked under a header that chain certifies,
     * and the chain extending {@code held}'s: a proven state at or above the height the held chain
     * was proven at that names fewer sets is a lie (see
     * ValidatorChangeTest#aReplicaServingAStaleOrForgedRecordIsNamedAndTheHeldChainKept).
     */
    private Proven<ValidatorChain> provenValidators(Network held, long minHeight, Duration timeout, int roundsMax)
            throws LedgerClientException {
        ReadOptions read = ReadOptions.defaults().atLeast(minHeight);
        GetRecordRequest request = GetRecordRequest.newBuilder().setOwner(ValidatorSets.RECORD.owner())
                .setKey(ValidatorSets.RECORD.key().toStringUtf8()).setMinHeight(minHeight)
                .setWaitMillis(read.replicaWaitMillis()).build();
        long deadline = System.nanoTime() + timeout.toNanos();
        return reads.<GetRecordResponse, ValidatorChain>read("validator sets", read, deadline, roundsMax,
                e -> stub(e, deadline, read).getRecord(request), (r, response, unused) -> {
                    if ((!response.getAtMinHeight() && minHeight > 0) || !response.hasHeaderProof()) {
                        return new ProvenReads.Behind<>(response.getHeight());
                    }
                    ValidatorChain chain;
                    try {
                        chain = ValidatorChain.verify(held, response.getFound() ? response.getValue() : ByteString.EMPTY);
                    } catch (IllegalArgumentException e) {
                        return new ProvenReads.Invalid<>("the VALIDATORS record: " + e.getMessage());
                    }
                    Proofs.Checked<ProofVerifier.ProvenHeader> h = new ProofVerifier(held.withValidators(chain))
                            .verifyRecord(ValidatorSets.RECORD, response);
                    if (h.ok() && h.value().height() >= minHeight && !chain.extendsChain(held.validators())) {
                        return new ProvenReads.Invalid<>("the VALIDATORS record at height " + h.value().height() + " names "
                                + chain + ", which does not extend the " + held.validators() + " held");
                    }
                    return checked(h, chain, read, r);
                }).orElseThrow(() -> new IllegalStateException("a record read always answers"));
    }

    /** The status of every replica, empty where a replica did not answer in time (statuses are not proven). */
    public List<Optional<GetStatusResponse>> statuses(Duration timeout) {
        List<ListenableFuture<GetStatusResponse>> calls = new ArrayList<>();
        for (Replicas.Endpoint e : replicas.endpoints()) {
            calls.add(e.stub().withDeadlineAfter(Math.max(1, timeout.toMillis()), TimeUnit.MILLISECONDS)
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

    @Override
    public void close() {
        submissions.close();
        follower.close();
        replicas.close();
    }
}
