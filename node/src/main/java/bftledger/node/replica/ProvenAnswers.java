package bftledger.node.replica;

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
import bftledger.api.proto.GetTransactionRequest;
import bftledger.api.proto.GetTransactionResponse;
import bftledger.api.proto.TransactionProof;
import bftledger.crypto.Digest;
import bftledger.crypto.PublicKey;
import bftledger.ledger.BlockStore;
import bftledger.ledger.Blocks;
import bftledger.ledger.Proofs;
import bftledger.ledger.RecordKey;
import bftledger.ledger.RecordValue;
import bftledger.ledger.StoreCorruptedException;
import bftledger.ledger.Transactions;
import bftledger.ledger.proto.Block;
import bftledger.ledger.proto.HeaderProof;
import bftledger.node.edge.PeerLiveness;
import bftledger.node.metrics.NodeMetrics;
import com.google.protobuf.ByteString;
import io.grpc.Status;
import io.grpc.stub.StreamObserver;
import java.nio.charset.StandardCharsets;
import java.util.Optional;
import java.util.function.Consumer;

/**
 * The reads of the client API, each answered with its proof (see api.proto): a transaction and
 * its receipt, a block, a balance, a record and its history, the latest certified header. Only
 * committed data is served. A state read is proven at the height the state tree holds when the
 * call arrives; its header is certified by a later block, so the answer waits for that block (at
 * most the call's wait, capped by {@link #WAIT_MAX_MILLIS}); a read with a minimum height waits
 * for that height first. A damaged store answers with an error, never with what it cannot prove.
 */
final class ProvenAnswers {
    /** The longest a read is held for a height or a certification. */
    static final int WAIT_MAX_MILLIS = 10_000;
    /** Most writes one history answer lists. */
    static final int HISTORY_WRITES_MAX = 64;

    private final BlockStore store;
    private final LedgerWaits waits;
    private final PeerLiveness liveness;
    private final NodeMetrics metrics;

    ProvenAnswers(BlockStore store, LedgerWaits waits, PeerLiveness liveness, NodeMetrics metrics) {
        this.store = store;
        this.waits = waits;
        this.liveness = liveness;
        this.metrics = metrics;
    }

    private static long capped(long waitMillis) {
        return Math.min(Math.max(0, waitMillis), WAIT_MAX_MILLIS);
    }

    // ------------------------------------------------------------------------------ transactions and blocks

    void getTransaction(GetTransactionRequest request, StreamObserver<GetTransactionResponse> out) {
        if (request.getTxId().size() != Digest.LENGTH) {
            invalid(out, "tx_id must be 32 bytes");
            return;
        }
        Optional<BlockStore.TxRecord> record;
        try {
            record = store.transaction(Digest.of(request.getTxId().toByteArray()));
        } catch (StoreCorruptedException e) {
            failed(out, e);
            return;
        }
        if (record.isEmpty()) {
            answer(out, () -> GetTransactionResponse.newBuilder().setPossiblyStale(stale()).setValidAtHeight(store.height()).build());
            return;
        }
        BlockStore.TxRecord r = record.get();
        if (r.pruned()) {
            answer(out, () -> GetTransactionResponse.newBuilder().setHeight(r.height()).setPrunedBelow(store.prunedBelow())
                    .setPossiblyStale(stale()).setValidAtHeight(store.height()).build());
            return;
        }
        waits.whenCertified(r.height(), capped(request.getWaitMillis()), certified -> answer(out, () ->
                GetTransactionResponse.newBuilder().setFound(true).setHeight(r.height()).setProof(proof(r))
                        .setPossiblyStale(stale()).setValidAtHeight(store.height()).build()));
    }

    /** The proof of a stored transaction; with its header proof once a later block certifies the block. */
    TransactionProof proof(BlockStore.TxRecord record) {
        Block block = record.block();
        TransactionProof.Builder proof = TransactionProof.newBuilder().setTransaction(record.transaction())
                .setReceipt(record.receipt()).setBlockHeader(block.getHeader()).setCertificate(block.getCertificate())
                .setTxInclusion(Proofs.toProto(record.txProof())).setReceiptInclusion(Proofs.toProto(record.receiptProof()));
        store.headerProof(record.height()).ifPresent(proof::setHeaderProof);
        return proof.build();
    }

    void getBlock(GetBlockRequest request, StreamObserver<GetBlockResponse> out) {
        long height = request.getHeight() == 0 ? store.certifiedHeight() : request.getHeight();
        Optional<Block> block;
        try {
            block = height == 0 ? Optional.empty() : store.block(height);
        } catch (StoreCorruptedException e) {
            failed(out, e);
            return;
        }
        if (block.isEmpty()) {
            long prunedBelow = store.prunedBelow();
            answer(out, () -> GetBlockResponse.newBuilder().setPossiblyStale(stale())
                    .setPrunedBelow(height > 0 && height < prunedBelow ? prunedBelow : 0).build());
            return;
        }
        waits.whenCertified(height, capped(request.getWaitMillis()), certified -> answer(out, () -> {
            GetBlockResponse.Builder b = GetBlockResponse.newBuilder().setFound(true).setBlock(block.get())
                    .setBlockHash(ByteString.copyFrom(Blocks.hash(block.get()).bytes())).setPossiblyStale(stale());
            store.headerProof(height).ifPresent(b::setHeaderProof);
            return b.build();
        }));
    }

    void getCertifiedHeader(GetCertifiedHeaderRequest request, StreamObserver<GetCertifiedHeaderResponse> out) {
        waits.whenCertified(Math.max(1, request.getMinHeight()), capped(request.getWaitMillis()), certified -> answer(out, () -> {
            long latest = store.certifiedHeight();
            GetCertifiedHeaderResponse.Builder b = GetCertifiedHeaderResponse.newBuilder();
            if (latest == 0 || latest < request.getMinHeight()) {
                return b.build();
            }
            Optional<HeaderProof> proof = store.headerProof(latest, latest);
            if (proof.isEmpty()) {
                return b.build();
            }
            b.setFound(true).setLatest(proof.get());
            long earlier = request.getExtendsHeight();
            if (earlier > 0 && earlier < latest) {
                store.headerProof(earlier, latest).ifPresent(b::setExtends);
            } else if (earlier == latest) {
                b.setExtends(proof.get());
            }
            return b.build();
        }));
    }

    // ------------------------------------------------------------------------------ state

    void getAccount(GetAccountRequest request, StreamObserver<GetAccountResponse> out) {
        try {
            PublicKey.of(request.getAccount().toByteArray());
        } catch (IllegalArgumentException e) {
            invalid(out, "account: " + e.getMessage());
            return;
        }
        atHeight(request.getMinHeight(), request.getWaitMillis(), out,
                () -> GetAccountResponse.newBuilder().setAccount(request.getAccount()).setHeight(store.height())
                        .setPossiblyStale(stale()).build(),
                wait -> {
                    BlockStore.StateRead<Long> read = store.accountProof(request.getAccount());
                    whenProvable(read.height(), wait, height -> answer(out, () -> {
                        GetAccountResponse.Builder b = GetAccountResponse.newBuilder().setAccount(request.getAccount())
                                .setBalance(read.value().orElse(0L)).setExists(read.value().isPresent())
                                .setHeight(height).setStateProof(Proofs.toProto(read.proof()))
                                .setPossiblyStale(stale()).setAtMinHeight(true);
                        withHeader(height, b::setHeaderProof, hash -> b.setBlockHash(hash));
                        return b.build();
                    }));
                });
    }

    void getRecord(GetRecordRequest request, StreamObserver<GetRecordResponse> out) {
        Optional<RecordKey> key = recordKey(request.getOwner(), request.getKey(), out);
        if (key.isEmpty()) {
            return;
        }
        atHeight(request.getMinHeight(), request.getWaitMillis(), out,
                () -> GetRecordResponse.newBuilder().setHeight(store.height()).setPossiblyStale(stale()).build(),
                wait -> recordAnswer(key.get(), wait, response -> answer(out, () -> response)));
    }

    /** The record now, proven, handed to {@code then} once its header is certified (or the wait ends). */
    private void recordAnswer(RecordKey key, long waitMillis, Consumer<GetRecordResponse> then) {
        BlockStore.StateRead<RecordValue> read = store.recordProof(key);
        whenProvable(read.height(), waitMillis, height -> {
            GetRecordResponse.Builder b = GetRecordResponse.newBuilder().setFound(read.value().isPresent())
                    .setHeight(height).setStateProof(Proofs.toProto(read.proof())).setPossiblyStale(stale())
                    .setAtMinHeight(true);
            read.value().ifPresent(v -> b.setValue(v.value()).setWriterTxId(ByteString.copyFrom(v.writer().bytes())));
            withHeader(height, b::setHeaderProof, hash -> {});
            then.accept(b.build());
        });
    }

    void getRecordHistory(GetRecordHistoryRequest request, StreamObserver<GetRecordHistoryResponse> out) {
        Optional<RecordKey> key = recordKey(request.getOwner(), request.getKey(), out);
        if (key.isEmpty()) {
            return;
        }
        if (!request.getBeforeTxId().isEmpty() && request.getBeforeTxId().size() != Digest.LENGTH) {
            invalid(out, "before_tx_id must be empty or 32 bytes");
            return;
        }
        int limit = request.getLimit() == 0 ? HISTORY_WRITES_MAX : Math.min(request.getLimit(), HISTORY_WRITES_MAX);
        atHeight(request.getMinHeight(), request.getWaitMillis(), out,
                () -> GetRecordHistoryResponse.newBuilder().setCurrent(GetRecordResponse.newBuilder()
                        .setHeight(store.height()).setPossiblyStale(stale())).build(),
                wait -> recordAnswer(key.get(), wait, current -> answer(out, () -> {
                    GetRecordHistoryResponse.Builder b = GetRecordHistoryResponse.newBuilder().setCurrent(current);
                    Optional<Digest> next = request.getBeforeTxId().isEmpty()
                            ? (current.getFound() ? Optional.of(Digest.of(current.getWriterTxId().toByteArray())) : Optional.empty())
                            : previousOf(Digest.of(request.getBeforeTxId().toByteArray()));
                    while (next.isPresent() && b.getWritesCount() < limit) {
                        Digest writer = next.get();
                        BlockStore.TxRecord write = store.transaction(writer).orElseThrow(() -> new StoreCorruptedException(
                                "a record's writer " + writer.hex() + " is not in the transaction index"));
                        if (write.pruned()) {
                            b.setPrunedBelow(store.prunedBelow());
                            break;
                        }
                        b.addWrites(proof(write));
                        next = previous(write);
                    }
                    return b.setComplete(next.isEmpty()).build();
                })));
    }

    private Optional<Digest> previousOf(Digest writer) {
        return store.transaction(writer).flatMap(ProvenAnswers::previous);
    }

    private static Optional<Digest> previous(BlockStore.TxRecord write) {
        ByteString p = write.receipt().getPreviousTxId();
        return p.size() == Digest.LENGTH ? Optional.of(Digest.of(p.toByteArray())) : Optional.empty();
    }

    private Optional<RecordKey> recordKey(ByteString owner, String key, StreamObserver<?> out) {
        try {
            // The ledger's own records (the validator sets) belong to an owner that is no key.
            if (!owner.equals(bftledger.ledger.ValidatorSets.SYSTEM_OWNER)) {
                PublicKey.of(owner.toByteArray());
            }
        } catch (IllegalArgumentException e) {
            invalid(out, "owner: " + e.getMessage());
            return Optional.empty();
        }
        int bytes = key.getBytes(StandardCharsets.UTF_8).length;
        if (bytes < 1 || bytes > Transactions.MAX_RECORD_KEY_BYTES) {
            invalid(out, "key must be 1 to " + Transactions.MAX_RECORD_KEY_BYTES + " bytes of UTF-8");
            return Optional.empty();
        }
        return Optional.of(RecordKey.of(owner, key));
    }

    /**
     * Runs {@code then} with the height of a certified header whose state root is the state at
     * {@code height}: {@code height} itself once certified, or at once the latest certified height
     * when the blocks after it changed nothing (an idle primary's certifying block changes no
     * state and is certified by none). Waits for {@code height}'s certification up to {@code waitMillis}.
     */
    private void whenProvable(long height, long waitMillis, Consumer<Long> then) {
        long certified = store.certifiedHeight();
        if (certified < height && certified > 0 && sameState(certified, height)) {
            then.accept(certified);
            return;
        }
        waits.whenCertified(height, waitMillis, done -> then.accept(height));
    }

    private boolean sameState(long a, long b) {
        Optional<ByteString> rootA = store.header(a).map(h -> h.getStateRoot());
        return rootA.isPresent() && rootA.equals(store.header(b).map(h -> h.getStateRoot()));
    }

    /** Sets the header proof of {@code height} and its hash when a stored block certifies it. */
    private void withHeader(long height, Consumer<HeaderProof> proof, Consumer<ByteString> hash) {
        store.headerProof(height).ifPresent(p -> {
            proof.accept(p);
            hash.accept(ByteString.copyFrom(bftledger.crypto.Sha256.hash(p.getHeader().toByteArray()).bytes()));
        });
    }

    /**
     * Runs {@code read} with the wait left once the ledger holds {@code minHeight}; answers
     * {@code below} (at_min_height false, the replica's own height) when it does not in time.
     */
    private <T> void atHeight(long minHeight, long waitMillis, StreamObserver<T> out, java.util.function.Supplier<T> below,
            Consumer<Long> read) {
        long wait = capped(waitMillis);
        long start = System.nanoTime();
        waits.whenStored(minHeight, wait, stored -> {
            if (!stored) {
                answer(out, below);
                return;
            }
            long left = Math.max(0, wait - java.util.concurrent.TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start));
            try {
                read.accept(left);
            } catch (StoreCorruptedException | IllegalStateException e) {
                failed(out, e);
            }
        });
    }

    private boolean stale() {
        return !liveness.quorumReachable();
    }

    /** Sends what {@code answer} builds; a damaged store is an error to the client, and logged by the metric. */
    private <T> void answer(StreamObserver<T> out, java.util.function.Supplier<T> answer) {
        T built;
        try {
            built = answer.get();
        } catch (StoreCorruptedException | IllegalStateException e) {
            failed(out, e);
            return;
        }
        try {
            out.onNext(built);
            out.onCompleted();
        } catch (RuntimeException cancelled) {
            // The client went away; nothing to tell it.
        }
    }

    private void failed(StreamObserver<?> out, RuntimeException e) {
        metrics.rejected("read-failed");
        try {
            out.onError(Status.INTERNAL.withDescription("this replica cannot prove the answer: " + e.getMessage())
                    .asRuntimeException());
        } catch (RuntimeException cancelled) {
            // The client went away.
        }
    }

    private static void invalid(StreamObserver<?> out, String description) {
        out.onError(Status.INVALID_ARGUMENT.withDescription(description).asRuntimeException());
    }
}
