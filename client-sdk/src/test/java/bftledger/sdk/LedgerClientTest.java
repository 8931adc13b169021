package bftledger.sdk;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import bftledger.api.proto.LedgerApiGrpc;
import bftledger.api.proto.Reply;
import bftledger.api.proto.ReplyBatch;
import bftledger.api.proto.SignedReplyBatch;
import bftledger.api.proto.SubmitBatchRequest;
import bftledger.api.proto.SubmitBatchResponse;
import bftledger.api.proto.GetTransactionRequest;
import bftledger.api.proto.GetTransactionResponse;
import bftledger.api.proto.TransactionProof;
import bftledger.crypto.BatchDigest;
import bftledger.crypto.CommitVote;
import bftledger.crypto.Digest;
import bftledger.crypto.Domain;
import bftledger.crypto.KeyPair;
import bftledger.crypto.PublicKey;
import bftledger.crypto.Sha256;
import bftledger.ledger.proto.BlockHeader;
import bftledger.ledger.proto.CommitCertificate;
import bftledger.ledger.proto.CommitSignature;
import bftledger.ledger.proto.Receipt;
import bftledger.ledger.proto.SignedTransaction;
import com.google.protobuf.ByteString;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import io.grpc.Server;
import io.grpc.Status;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.stub.StreamObserver;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The SDK against four scripted replicas served over real gRPC on 127.0.0.1. */
class LedgerClientTest {
    private static final String CHAIN = "test-chain";
    private final List<KeyPair> keys = List.of(KeyPair.deterministic("r0"), KeyPair.deterministic("r1"),
            KeyPair.deterministic("r2"), KeyPair.deterministic("r3"));
    private final List<Server> servers = new ArrayList<>();
    private final List<ManagedChannel> channels = new ArrayList<>();
    private final KeyPair alice = KeyPair.deterministic("alice");
    private final PublicKey bob = KeyPair.deterministic("bob").publicKey();

    @AfterEach
    void stop() throws InterruptedException {
        channels.forEach(ManagedChannel::shutdownNow);
        servers.forEach(Server::shutdownNow);
        for (Server s : servers) {
            s.awaitTermination(5, TimeUnit.SECONDS);
        }
    }

    private final CertifiedChain chain = new CertifiedChain(CHAIN, keys, Sha256.hash(new byte[] {1}));

    /**
     * Replicas answering GetAccount for bob at height 3: the honest answer (a balance of 5 with
     * its state proof under a certified header), or a lie (a balance of 999 with the same proof,
     * or a state proof under a header no quorum certified), or unavailable (null).
     */
    private LedgerClient accounts(List<String> behaviours) throws Exception {
        bftledger.api.proto.GetAccountResponse honest = chain.accountAnswer(bob, 5, 3, 3);
        BlockHeader header = BlockHeader.parseFrom(honest.getHeaderProof().getHeader());
        List<String> addresses = new ArrayList<>();
        for (String behaviour : behaviours) {
            Server server = NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0))
                    .addService(new LedgerApiGrpc.LedgerApiImplBase() {
                        @Override
                        public void getAccount(bftledger.api.proto.GetAccountRequest request,
                                               StreamObserver<bftledger.api.proto.GetAccountResponse> out) {
                            switch (behaviour) {
                                case "down" -> {
                                    out.onError(Status.UNAVAILABLE.asRuntimeException());
                                    return;
                                }
                                case "lie" -> out.onNext(honest.toBuilder().setBalance(999).build());
                                case "uncertified" -> out.onNext(honest.toBuilder().setHeaderProof(chain.certify(header, 2)).build());
                                default -> out.onNext(honest);
                            }
                            out.onCompleted();
                        }
                    }).build().start();
            servers.add(server);
            addresses.add("127.0.0.1:" + server.getPort());
            channels.add(ManagedChannelBuilder.forTarget(addresses.get(addresses.size() - 1)).usePlaintext().build());
        }
        return LedgerClient.over(chain.network(addresses), channels);
    }

    @Test
    void aReadIsTakenFromTheFirstReplicaWhoseProofVerifiesAndLiarsAreNamed() throws Exception {
        try (LedgerClient client = accounts(List.of("lie", "uncertified", "down", "honest"))) {
            ReadOptions fromTheStart = ReadOptions.defaults();
            Proven<Long> p = client.account(bob, fromTheStart, Duration.ofSeconds(5));
            assertEquals(5, p.value(), "one honest replica suffices");
            assertEquals(3, p.height());
            assertEquals(3, p.replica());
            assertTrue(client.rejectedAnswers(0) >= 1 && client.rejectedAnswers(1) >= 1, "both liars counted");
            assertTrue(client.lastRejection(0).orElseThrow().contains("not the one under the header's state root"),
                    client.lastRejection(0).orElseThrow());
            assertTrue(client.lastRejection(1).orElseThrow().contains("3 are needed")
                    || client.lastRejection(1).orElseThrow().contains("signatures"), client.lastRejection(1).orElseThrow());
        }
        channels.clear();
        try (LedgerClient client = accounts(List.of("lie", "lie", "down", "down"))) {
            LedgerClientException e = assertThrows(LedgerClientException.class,
                    () -> client.account(bob, ReadOptions.defaults(), Duration.ofMillis(800)));
            assertEquals(LedgerClientException.Kind.NO_AGREEMENT, e.kind());
            assertTrue(e.getMessage().contains("no answer verified"), e.getMessage());
        }
        channels.clear();
        try (LedgerClient client = accounts(List.of("honest", "honest", "honest", "honest"))) {
            LedgerClientException e = assertThrows(LedgerClientException.class,
                    () -> client.account(bob, ReadOptions.defaults().atLeast(4), Duration.ofMillis(800)));
            assertEquals(LedgerClientException.Kind.NO_AGREEMENT, e.kind(), "a state older than the asked height is not taken");
            assertTrue(e.getMessage().contains("at height 4 or later"), e.getMessage());
            assertEquals(0, client.rejectedAnswers(0), "an honest replica behind the asked height is not a liar");
        }
    }

    /** What a scripted replica says about one transaction, and the key it signs the call's answer with. */
    private record Answer(Reply reply, KeyPair signer) {}

    /**
     * Replicas whose answer to each submitted transaction is computed by {@code behaviours}
     * (a null answer fails the whole call as an outage); lookups by id say "not found".
     */
    private LedgerClient start(List<Function<SignedTransaction, Answer>> behaviours) throws Exception {
        return start(behaviours, id -> GetTransactionResponse.getDefaultInstance(), ClientOptions.defaults());
    }

    private LedgerClient start(List<Function<SignedTransaction, Answer>> behaviours,
                               Function<GetTransactionRequest, GetTransactionResponse> lookup, ClientOptions options)
            throws Exception {
        List<String> addresses = new ArrayList<>();
        for (int index = 0; index < behaviours.size(); index++) {
            Function<SignedTransaction, Answer> behaviour = behaviours.get(index);
            int replica = index;
            Server server = NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0))
                    .addService(new LedgerApiGrpc.LedgerApiImplBase() {
                        @Override
                        public void submitTransactions(SubmitBatchRequest request, StreamObserver<SubmitBatchResponse> out) {
                            ReplyBatch.Builder batch = ReplyBatch.newBuilder().setReplica(replica);
                            KeyPair signer = null;
                            for (SignedTransaction tx : request.getTransactionsList()) {
                                Answer answer = behaviour.apply(tx);
                                if (answer == null) {
                                    out.onError(Status.UNAVAILABLE.withDescription("scripted outage").asRuntimeException());
                                    return;
                                }
                                batch.addReplies(answer.reply());
                                signer = answer.signer();
                            }
                            byte[] bytes = batch.build().toByteArray();
                            out.onNext(SubmitBatchResponse.newBuilder().setSignedReplies(SignedReplyBatch.newBuilder()
                                    .setReplies(ByteString.copyFrom(bytes))
                                    .setSignature(ByteString.copyFrom(signer.sign(Domain.REPLY_BATCH, bytes)))).build());
                            out.onCompleted();
                        }

                        @Override
                        public void getTransaction(GetTransactionRequest request, StreamObserver<GetTransactionResponse> out) {
                            out.onNext(lookup.apply(request));
                            out.onCompleted();
                        }
                    }).build().start();
            servers.add(server);
            addresses.add("127.0.0.1:" + server.getPort());
            channels.add(ManagedChannelBuilder.forTarget(addresses.get(addresses.size() - 1)).usePlaintext().build());
        }
        Network network = new Network(CHAIN, keys.stream().map(KeyPair::publicKey).toList(), addresses,
                Sha256.hash(new byte[] {1}));
        return LedgerClient.over(network, channels, options);
    }

    private Answer reply(int replica, SignedTransaction tx, Reply.Outcome outcome, Digest blockHash, KeyPair signer) {
        Digest id = TransactionFactory.id(tx);
        Reply.Builder reply = Reply.newBuilder().setReplica(replica).setTxId(ByteString.copyFrom(id.bytes()))
                .setOutcome(outcome);
        if (outcome == Reply.Outcome.COMMITTED) {
            reply.setHeight(7).setBlockHash(ByteString.copyFrom(blockHash.bytes()))
                    .setReceipt(Receipt.newBuilder().setTxId(ByteString.copyFrom(id.bytes())).setHeight(7)
                            .setStatus(Receipt.Status.SUCCESS));
        } else if (outcome == Reply.Outcome.REJECTED) {
            reply.setRejectReason(Reply.RejectReason.BAD_SIGNATURE).setDetail("signature does not verify");
        }
        return new Answer(reply.build(), signer);
    }

    private Function<SignedTransaction, Answer> honest(int replica) {
        return tx -> reply(replica, tx, Reply.Outcome.COMMITTED, Sha256.hash(new byte[] {7}), keys.get(replica));
    }

    @Test
    void completesOnFPlusOneMatchingSignedReplies() throws Exception {
        try (LedgerClient client = start(List.of(honest(0), honest(1), rq -> null, rq -> null))) {
            SignedTransaction tx = client.transactions().transfer(alice, bob, 5);
            Committed c = client.submit(tx, Duration.ofSeconds(10));
            assertEquals(7, c.height());
            assertEquals(TransactionFactory.id(tx), c.txId());
            assertFalse(c.byProof());
            assertEquals(2, c.replicas().size());
        }
    }

    @Test
    void concurrentSubmissionsShareCallsAndEachGetsItsOwnVerdict() throws Exception {
        // One call out per replica at a time: submissions made meanwhile must travel together, and
        // each must still be decided by the replies about its own id.
        Function<SignedTransaction, Answer> rejectOdd = tx -> {
            long amount = amountOf(tx);
            return amount % 2 == 1 ? reply(1, tx, Reply.Outcome.REJECTED, null, keys.get(1)) : honest(1).apply(tx);
        };
        Function<SignedTransaction, Answer> rejectOdd2 = tx -> {
            long amount = amountOf(tx);
            return amount % 2 == 1 ? reply(2, tx, Reply.Outcome.REJECTED, null, keys.get(2)) : honest(2).apply(tx);
        };
        try (LedgerClient client = start(List.of(tx -> null, rejectOdd, rejectOdd2, tx -> null), id -> GetTransactionResponse
                .getDefaultInstance(), ClientOptions.defaults().withBatching(64, 1))) {
            List<java.util.concurrent.CompletableFuture<Committed>> all = new ArrayList<>();
            List<SignedTransaction> txs = new ArrayList<>();
            for (int i = 1; i <= 200; i++) {
                SignedTransaction tx = client.transactions().transfer(alice, bob, i);
                txs.add(tx);
                all.add(client.submitAsync(tx, Duration.ofSeconds(20)));
            }
            for (int i = 0; i < all.size(); i++) {
                if ((i + 1) % 2 == 1) {
                    java.util.concurrent.ExecutionException e = assertThrows(java.util.concurrent.ExecutionException.class,
                            all.get(i)::get);
                    assertEquals(LedgerClientException.Kind.REJECTED, ((LedgerClientException) e.getCause()).kind());
                } else {
                    Committed c = all.get(i).get(20, TimeUnit.SECONDS);
                    assertEquals(TransactionFactory.id(txs.get(i)), c.txId());
                    assertEquals(List.of(1, 2), c.replicas().stream().sorted().toList());
                }
            }
            assertTrue(client.callsSent(1) < 200, "200 submissions went out in " + client.callsSent(1) + " calls");
            assertTrue(client.callsSent(1) >= 4, "at most 64 per call: " + client.callsSent(1));
        }
    }

    @Test
    void aSettledSubmissionLeavesNothingScheduledBehind() throws Exception {
        // Long deadlines, quick verdicts, one replica down: each submission's deadline task, and the
        // retries it has waiting for the replica that is down (a backoff, or a breaker cool-down of
        // 5 s), must go when it settles (committed or rejected), not stay queued (holding the
        // transaction and its receipt) until due.
        java.util.function.IntFunction<Function<SignedTransaction, Answer>> rejectOdd = r -> tx -> amountOf(tx) % 2 == 1
                ? reply(r, tx, Reply.Outcome.REJECTED, null, keys.get(r)) : honest(r).apply(tx);
        try (LedgerClient client = start(List.of(rejectOdd.apply(0), rejectOdd.apply(1), rejectOdd.apply(2), rq -> null))) {
            List<java.util.concurrent.CompletableFuture<Committed>> all = new ArrayList<>();
            for (int i = 1; i <= 300; i++) {
                all.add(client.submitAsync(client.transactions().transfer(alice, bob, i), Duration.ofMinutes(10)));
            }
            for (java.util.concurrent.CompletableFuture<Committed> f : all) {
                try {
                    f.get(20, TimeUnit.SECONDS);
                } catch (java.util.concurrent.ExecutionException rejected) {
                    assertEquals(LedgerClientException.Kind.REJECTED, ((LedgerClientException) rejected.getCause()).kind());
                }
            }
            // Settling runs the cancellation on the completing thread, possibly just after get()
            // returned; a second is ample for that and well short of the 5 s cool-downs.
            long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(1);
            while (client.scheduledTasks() > 0 && System.nanoTime() < until) {
                Thread.sleep(10);
            }
            assertEquals(0, client.scheduledTasks(), "tasks still queued after all 300 submissions settled");
        }
    }

    private static long amountOf(SignedTransaction tx) {
        try {
            return bftledger.ledger.proto.TransactionBody.parseFrom(tx.getBody()).getTransfer().getAmount();
        } catch (com.google.protobuf.InvalidProtocolBufferException e) {
            throw new IllegalStateException(e);
        }
    }

    @Test
    void replyBatchesVerifyOnlyUnderTheirReplicasKeyAndDomain() throws Exception {
        KeyPair k1 = keys.get(1);
        try (LedgerClient client = start(List.of(honest(0), tx -> null, tx -> null, tx -> null))) {
            SignedTransaction tx = client.transactions().transfer(alice, bob, 5);
            ReplyBatch twice = ReplyBatch.newBuilder().setReplica(1).addReplies(reply(1, tx, Reply.Outcome.COMMITTED,
                    Sha256.hash(new byte[] {7}), k1).reply()).addReplies(reply(1, tx, Reply.Outcome.COMMITTED,
                    Sha256.hash(new byte[] {7}), k1).reply()).build();
            byte[] bytes = twice.toByteArray();
            SignedReplyBatch signed = SignedReplyBatch.newBuilder().setReplies(ByteString.copyFrom(bytes))
                    .setSignature(ByteString.copyFrom(k1.sign(Domain.REPLY_BATCH, bytes))).build();
            assertEquals(2, client.verifiedReplies(signed).size(), "the signature itself is fine");
            byte[] asReplica2 = twice.toBuilder().setReplica(2).build().toByteArray();
            SignedReplyBatch claimsAnother = SignedReplyBatch.newBuilder().setReplies(ByteString.copyFrom(asReplica2))
                    .setSignature(ByteString.copyFrom(k1.sign(Domain.REPLY_BATCH, asReplica2))).build();
            IllegalArgumentException wrongReplica = assertThrows(IllegalArgumentException.class,
                    () -> client.verifiedReplies(claimsAnother));
            assertTrue(wrongReplica.getMessage().contains("does not verify"), wrongReplica.getMessage());
            SignedReplyBatch asReply = signed.toBuilder().setSignature(ByteString.copyFrom(k1.sign(Domain.REPLY, bytes))).build();
            assertThrows(IllegalArgumentException.class, () -> client.verifiedReplies(asReply),
                    "a signature under another domain is not a reply batch signature");
        }
    }

    @Test
    void forgedAndDivergentRepliesDoNotMakeAQuorum() throws Exception {
        // Replica 2 signs with replica 3's key, replica 3 claims another block: with only one honest
        // answer the client must not accept, and the timeout must say what it saw.
        try (LedgerClient client = start(List.of(honest(0), rq -> null,
                rq -> reply(2, rq, Reply.Outcome.COMMITTED, Sha256.hash(new byte[] {7}), keys.get(3)),
                rq -> reply(3, rq, Reply.Outcome.COMMITTED, Sha256.hash(new byte[] {8}), keys.get(3))))) {
            SignedTransaction tx = client.transactions().transfer(alice, bob, 5);
            LedgerClientException e = assertThrows(LedgerClientException.class,
                    () -> client.submit(tx, Duration.ofMillis(1500)));
            assertEquals(LedgerClientException.Kind.TIMEOUT, e.kind());
            assertTrue(e.getMessage().contains("does not verify"), e.getMessage());
            assertTrue(e.getMessage().contains("Submitting the same transaction again is safe"), e.getMessage());
        }
    }

    @Test
    void retriesPendingReplicasWithTheSameBytes() throws Exception {
        AtomicInteger calls = new AtomicInteger();
        List<ByteString> seenBodies = new ArrayList<>();
        Function<SignedTransaction, Answer> slow = rq -> {
            synchronized (seenBodies) {
                seenBodies.add(rq.getBody());
            }
            return calls.incrementAndGet() < 3 ? reply(1, rq, Reply.Outcome.PENDING, null, keys.get(1))
                    : reply(1, rq, Reply.Outcome.COMMITTED, Sha256.hash(new byte[] {7}), keys.get(1));
        };
        try (LedgerClient client = start(List.of(honest(0), slow, rq -> null, rq -> null))) {
            SignedTransaction tx = client.transactions().transfer(alice, bob, 5);
            Committed c = client.submit(tx, Duration.ofSeconds(10));
            assertEquals(List.of(0, 1), c.replicas().stream().sorted().toList());
            synchronized (seenBodies) {
                assertTrue(seenBodies.size() >= 3);
                assertTrue(seenBodies.stream().allMatch(b -> b.equals(tx.getBody())));
            }
        }
    }

    @Test
    void fPlusOneSignedRejectionsFailWithTheReason() throws Exception {
        try (LedgerClient client = start(List.of(
                rq -> reply(0, rq, Reply.Outcome.REJECTED, null, keys.get(0)),
                rq -> reply(1, rq, Reply.Outcome.REJECTED, null, keys.get(1)), rq -> null, rq -> null))) {
            LedgerClientException e = assertThrows(LedgerClientException.class,
                    () -> client.submit(client.transactions().transfer(alice, bob, 5), Duration.ofSeconds(10)));
            assertEquals(LedgerClientException.Kind.REJECTED, e.kind());
            assertTrue(e.getMessage().contains("BAD_SIGNATURE"), e.getMessage());
        }
    }

    /**
     * A one-transaction block at height 7 whose header {@code signers} validators certify (block 8
     * anchors it), and the proof for its transaction; {@code tamperRoot} puts the transaction under
     * another tx_root, {@code receipt} is what the proof claims.
     */
    private TransactionProof proof(SignedTransaction tx, int signers, boolean tamperRoot, Receipt.Status claimed) {
        return chain.transactionProof(tx, 7, signers, tamperRoot, claimed);
    }

    private TransactionProof proof(SignedTransaction tx, int signers, boolean tamperRoot) {
        return proof(tx, signers, tamperRoot, Receipt.Status.FAILED);
    }

    @Test
    void anAmbiguousSubmissionIsSettledByAVerifiedProofAndABadProofIsNotEnough() throws Exception {
        // Every replica keeps answering PENDING; after the deadline the SDK looks the id up, and one
        // replica's certificate and inclusion proof decide it.
        List<Function<SignedTransaction, Answer>> pending = new ArrayList<>();
        for (int r = 0; r < 4; r++) {
            int replica = r;
            pending.add(tx -> reply(replica, tx, Reply.Outcome.PENDING, null, keys.get(replica)));
        }
        java.util.Map<ByteString, SignedTransaction> sent = new java.util.concurrent.ConcurrentHashMap<>();
        Function<SignedTransaction, Answer> remembering = tx -> {
            sent.put(ByteString.copyFrom(TransactionFactory.id(tx).bytes()), tx);
            return reply(0, tx, Reply.Outcome.PENDING, null, keys.get(0));
        };
        pending.set(0, remembering);
        ClientOptions options = ClientOptions.defaults().withSubmitWaitMax(Duration.ofMillis(100))
                .withAmbiguityLookup(Duration.ofSeconds(3));
        try (LedgerClient client = start(pending, rq -> {
            SignedTransaction tx = sent.get(rq.getTxId());
            return tx == null ? GetTransactionResponse.getDefaultInstance()
                    : GetTransactionResponse.newBuilder().setFound(true).setHeight(7).setProof(proof(tx, 3, false)).build();
        }, options)) {
            Committed c = client.submit(client.transactions().transfer(alice, bob, 5), Duration.ofMillis(600));
            assertTrue(c.byProof());
            assertEquals(7, c.height());
        }
        channels.clear();
        try (LedgerClient client = start(pending, rq -> {
            SignedTransaction tx = sent.get(rq.getTxId());
            return tx == null ? GetTransactionResponse.getDefaultInstance()
                    : GetTransactionResponse.newBuilder().setFound(true).setHeight(7).setProof(proof(tx, 2, false)).build();
        }, options)) {
            LedgerClientException e = assertThrows(LedgerClientException.class,
                    () -> client.submit(client.transactions().transfer(alice, bob, 6), Duration.ofMillis(600)));
            assertEquals(LedgerClientException.Kind.TIMEOUT, e.kind());
            assertTrue(e.getMessage().contains("inconclusive"), e.getMessage());
        }
    }

    @Test
    void proofsVerifyOnlyWithACertifiedHeaderAndTheReceiptItCommitsTo() {
        ProofVerifier verifier = new ProofVerifier(chain.network(List.of("a:1", "b:1", "c:1", "d:1")));
        SignedTransaction tx = new TransactionFactory(CHAIN).transfer(alice, bob, 1);
        assertTrue(verifier.verify(proof(tx, 3, false)).ok());
        assertTrue(verifier.verify(proof(tx, 2, false)).reason().contains("quorum is 3"), verifier.verify(proof(tx, 2, false)).reason());
        assertFalse(verifier.verify(proof(tx, 3, true)).ok(), "the transaction is not under the certified tx_root");
        Verdict successForAFailure = verifier.verify(proof(tx, 3, false, Receipt.Status.SUCCESS));
        assertFalse(successForAFailure.ok(), "a receipt saying SUCCESS for a FAILED transfer");
        assertTrue(successForAFailure.reason().contains("receipts_root"), successForAFailure.reason());
        SignedTransaction other = new TransactionFactory(CHAIN).transfer(alice, bob, 2);
        assertFalse(verifier.verify(proof(tx, 3, false).toBuilder().setTransaction(other).build()).ok());
        assertFalse(verifier.verify(proof(tx, 3, false).toBuilder().clearHeaderProof().build()).ok(),
                "an uncertified header proves nothing about the receipt");
        CertifiedChain otherNetwork = new CertifiedChain(CHAIN, keys, Sha256.hash(new byte[] {2}));
        assertFalse(new ProofVerifier(otherNetwork.network(List.of("a:1", "b:1", "c:1", "d:1"))).verify(proof(tx, 3, false)).ok(),
                "the same validators' certificate for another genesis's chain");
    }
}
