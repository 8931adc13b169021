package bftledger.byzantine;

import bftledger.api.proto.GetAccountResponse;
import bftledger.api.proto.GetBlockResponse;
import bftledger.api.proto.GetCertifiedHeaderResponse;
import bftledger.api.proto.GetRecordHistoryResponse;
import bftledger.api.proto.GetRecordResponse;
import bftledger.api.proto.GetTransactionResponse;
import bftledger.api.proto.TransactionProof;
import bftledger.ledger.proto.AccountEntry;
import bftledger.ledger.proto.Block;
import bftledger.ledger.proto.BlockHeader;
import bftledger.ledger.proto.CommitCertificate;
import bftledger.ledger.proto.HeaderProof;
import bftledger.ledger.proto.Receipt;
import bftledger.ledger.proto.SignedTransaction;
import bftledger.ledger.proto.StateBucket;
import bftledger.ledger.proto.StateEntry;
import bftledger.ledger.proto.StateProof;
import bftledger.ledger.proto.StateSnapshotManifest;
import bftledger.node.proto.StateChunk;
import com.google.protobuf.ByteString;
import com.google.protobuf.InvalidProtocolBufferException;
import io.grpc.ForwardingServerCall;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.UnaryOperator;

/**
 * The {@code lie} adversary: a replica whose consensus is honest but whose answers to clients
 * are not. Every read answer it sends is altered, each kind of answer cycling through its kinds
 * of lie (a receipt's status or reason, a transaction's body, a balance, a record's value or
 * writer, a block's transaction or receipt, a dropped write in a history, a header, a
 * certificate short of a quorum, a state proof's sibling), so that over a few calls every lie is
 * told. A client that trusts proofs, not replicas, must reject each one; tests count that it
 * did ({@code LyingReplicaTest}). To replicas joining by state sync it serves altered state
 * chunks and every other manifest altered ({@code StateSyncTest}).
 */
public final class LyingAnswers implements ServerInterceptor {
    public static final String STRATEGY = "lie";
    public static final String DESCRIPTION = "honest consensus; alters every read answer and proof it gives clients, and the state it serves joining replicas";

    private final AtomicLong told = new AtomicLong();
    private final AtomicLong manifests = new AtomicLong();

    @Override
    public <ReqT, RespT> ServerCall.Listener<ReqT> interceptCall(ServerCall<ReqT, RespT> call, Metadata headers,
            ServerCallHandler<ReqT, RespT> next) {
        return next.startCall(new ForwardingServerCall.SimpleForwardingServerCall<>(call) {
            @Override
            @SuppressWarnings("unchecked")
            public void sendMessage(RespT message) {
                if (message instanceof StateSnapshotManifest m) {
                    super.sendMessage((RespT) lie(m));
                    return;
                }
                super.sendMessage((RespT) lie(message, told.getAndIncrement()));
            }
        }, headers);
    }

    /** {@code answer} altered by lie number {@code k} of its kind; answers that state nothing are sent as they are. */
    static Object lie(Object answer, long k) {
        if (answer instanceof GetTransactionResponse r && r.getFound()) {
            return r.toBuilder().setProof(lie(r.getProof(), k)).build();
        } else if (answer instanceof GetAccountResponse r && r.hasHeaderProof()) {
            return switch ((int) (k % 4)) {
                case 0 -> r.toBuilder().setBalance(r.getBalance() + 1).build();
                case 1 -> r.toBuilder().setExists(!r.getExists()).setBalance(r.getExists() ? 0 : r.getBalance()).build();
                case 2 -> r.toBuilder().setStateProof(lie(r.getStateProof())).build();
                default -> r.toBuilder().setHeaderProof(lie(r.getHeaderProof(), k)).build();
            };
        } else if (answer instanceof GetRecordResponse r && r.hasHeaderProof()) {
            return lie(r, k);
        } else if (answer instanceof GetRecordHistoryResponse r && r.getCurrent().hasHeaderProof()) {
            return switch ((int) (k % 3)) {
                case 0 -> r.getWritesCount() > 1 ? r.toBuilder().removeWrites(r.getWritesCount() / 2).build()
                        : r.toBuilder().setComplete(!r.getComplete()).build();
                case 1 -> r.getWritesCount() > 0 ? r.toBuilder().setWrites(0, lie(r.getWrites(0), 1)).build()
                        : r.toBuilder().setCurrent(lie(r.getCurrent(), 0)).build();
                default -> r.toBuilder().setCurrent(lie(r.getCurrent(), k)).build();
            };
        } else if (answer instanceof GetBlockResponse r && r.getFound() && r.hasHeaderProof()) {
            Block b = r.getBlock();
            return switch ((int) (k % 3)) {
                case 0 -> b.getTransactionsCount() > 0 ? r.toBuilder().setBlock(b.toBuilder().setTransactions(0,
                        alter(b.getTransactions(0)))).build() : r.toBuilder().setHeaderProof(lie(r.getHeaderProof(), 0)).build();
                case 1 -> b.getReceiptsCount() > 0 ? r.toBuilder().setBlock(b.toBuilder().setReceipts(0,
                        flip(b.getReceipts(0)))).build() : r.toBuilder().setHeaderProof(lie(r.getHeaderProof(), 1)).build();
                default -> r.toBuilder().setHeaderProof(lie(r.getHeaderProof(), k)).build();
            };
        } else if (answer instanceof GetCertifiedHeaderResponse r && r.getFound()) {
            return r.toBuilder().setLatest(lie(r.getLatest(), k)).build();
        } else if (answer instanceof StateChunk c) {
            return lie(c);
        }
        return answer;
    }

    /**
     * Every other manifest (the first one told is true, so that a joining replica goes on to
     * fetch buckets from this replica): one bucket's hash altered.
     */
    private StateSnapshotManifest lie(StateSnapshotManifest m) {
        if (manifests.getAndIncrement() % 2 == 0 || m.getBucketsCount() == 0) {
            return m;
        }
        StateBucket b = m.getBuckets(0);
        return m.toBuilder().setBuckets(0, b.toBuilder().setHash(flipByte(b.getHash().isEmpty()
                ? ByteString.copyFrom(new byte[32]) : b.getHash()))).build();
    }

    /** Every state chunk: its first account's balance raised, or, in an empty one, an account made up. */
    static StateChunk lie(StateChunk c) {
        for (int i = 0; i < c.getEntriesCount(); i++) {
            StateEntry e = c.getEntries(i);
            if (e.hasAccount()) {
                return c.toBuilder().setEntries(i, e.toBuilder().setAccount(e.getAccount().toBuilder()
                        .setBalance(e.getAccount().getBalance() + 1))).build();
            }
        }
        return c.toBuilder().addEntries(StateEntry.newBuilder().setAccount(AccountEntry.newBuilder()
                .setPublicKey(ByteString.copyFrom(new byte[32])).setBalance(1_000_000))).build();
    }

    private static GetRecordResponse lie(GetRecordResponse r, long k) {
        return switch ((int) (k % 3)) {
            case 0 -> r.toBuilder().setValue(r.getValue().concat(ByteString.copyFromUtf8("!"))).build();
            case 1 -> r.toBuilder().setWriterTxId(flipByte(r.getWriterTxId().isEmpty() ? ByteString.copyFrom(new byte[32])
                    : r.getWriterTxId())).setFound(true).build();
            default -> r.toBuilder().setHeaderProof(lie(r.getHeaderProof(), k)).build();
        };
    }

    private static TransactionProof lie(TransactionProof p, long k) {
        return switch ((int) (k % 5)) {
            case 0 -> p.toBuilder().setReceipt(flip(p.getReceipt())).build();
            case 1 -> p.toBuilder().setReceipt(p.getReceipt().toBuilder().setReason("paid in full")).build();
            case 2 -> p.toBuilder().setTransaction(alter(p.getTransaction())).build();
            case 3 -> p.toBuilder().setHeaderProof(lie(p.getHeaderProof(), 0)).build();
            default -> p.toBuilder().setHeaderProof(lie(p.getHeaderProof(), 1)).build();
        };
    }

    /** A header proof that proves nothing: a certificate short of a quorum, or another header under the same certificate. */
    private static HeaderProof lie(HeaderProof p, long k) {
        if (k % 2 == 0) {
            CommitCertificate c = p.getCertificate().getCertificate();
            CommitCertificate fewer = c.getSignaturesCount() > 0 ? c.toBuilder().removeSignatures(0).build() : c;
            return p.toBuilder().setCertificate(p.getCertificate().toBuilder().setCertificate(fewer)).build();
        }
        return p.toBuilder().setHeader(alterHeader(p.getHeader())).build();
    }

    private static StateProof lie(StateProof p) {
        if (p.getSiblingsCount() > 0) {
            return p.toBuilder().setSiblings(0, flipByte(p.getSiblings(0))).build();
        }
        return p.toBuilder().setLeafValueHash(flipByte(p.getLeafValueHash().isEmpty() ? ByteString.copyFrom(new byte[32])
                : p.getLeafValueHash())).setLeafKey(p.getLeafKey().isEmpty() ? ByteString.copyFrom(new byte[32]) : p.getLeafKey())
                .build();
    }

    private static Receipt flip(Receipt r) {
        return r.toBuilder().setStatus(r.getStatus() == Receipt.Status.SUCCESS ? Receipt.Status.FAILED : Receipt.Status.SUCCESS)
                .build();
    }

    private static SignedTransaction alter(SignedTransaction tx) {
        return tx.toBuilder().setBody(flipByte(tx.getBody())).build();
    }

    private static ByteString alterHeader(ByteString header) {
        return edit(header, h -> h.toBuilder().setStateRoot(flipByte(h.getStateRoot())).build());
    }

    private static ByteString edit(ByteString header, UnaryOperator<BlockHeader> edit) {
        try {
            return edit.apply(BlockHeader.parseFrom(header)).toByteString();
        } catch (InvalidProtocolBufferException e) {
            return flipByte(header);
        }
    }

    private static ByteString flipByte(ByteString b) {
        if (b.isEmpty()) {
            return ByteString.copyFrom(new byte[] {1});
        }
        byte[] bytes = b.toByteArray();
        bytes[bytes.length - 1] ^= 1;
        return ByteString.copyFrom(bytes);
    }
}
