package bftledger.sdk;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import bftledger.api.proto.InclusionProof;
import bftledger.api.proto.LedgerApiGrpc;
import bftledger.api.proto.Reply;
import bftledger.api.proto.SignedReply;
import bftledger.api.proto.SubmitRequest;
import bftledger.api.proto.SubmitResponse;
import bftledger.api.proto.TransactionProof;
import bftledger.crypto.BatchDigest;
import bftledger.crypto.CommitVote;
import bftledger.crypto.Digest;
import bftledger.crypto.Domain;
import bftledger.crypto.KeyPair;
import bftledger.crypto.MerkleTree;
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

    /** Replicas answering GetAccount with the given balances (null: unavailable), all at height 3. */
    private LedgerClient accounts(List<Long> balances) throws Exception {
        List<String> addresses = new ArrayList<>();
        for (Long balance : balances) {
            Server server = NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0))
                    .addService(new LedgerApiGrpc.LedgerApiImplBase() {
                        @Override
                        public void getAccount(bftledger.api.proto.GetAccountRequest request,
                                               StreamObserver<bftledger.api.proto.GetAccountResponse> out) {
                            if (balance == null) {
                                out.onError(Status.UNAVAILABLE.asRuntimeException());
                                return;
                            }
                            out.onNext(bftledger.api.proto.GetAccountResponse.newBuilder().setAccount(request.getAccount())
                                    .setBalance(balance).setHeight(3).setBlockHash(ByteString.copyFrom(new byte[32])).build());
                            out.onCompleted();
                        }
                    }).build().start();
            servers.add(server);
            addresses.add("127.0.0.1:" + server.getPort());
            channels.add(ManagedChannelBuilder.forTarget(addresses.get(addresses.size() - 1)).usePlaintext().build());
        }
        return LedgerClient.over(new Network(CHAIN, keys.stream().map(KeyPair::publicKey).toList(), addresses,
                Sha256.hash(new byte[] {1})), channels);
    }

    @Test
    void readsNeedFPlusOneIdenticalAnswers() throws Exception {
        try (LedgerClient client = accounts(java.util.Arrays.asList(999L, 5L, null, 5L))) {
            assertEquals(5, client.account(bob, Duration.ofSeconds(5)).getBalance(), "one liar is outvoted");
        }
        channels.clear();
        try (LedgerClient client = accounts(java.util.Arrays.asList(999L, 5L, null, null))) {
            LedgerClientException e = assertThrows(LedgerClientException.class, () -> client.account(bob, Duration.ofMillis(800)));
            assertEquals(LedgerClientException.Kind.NO_AGREEMENT, e.kind());
            assertTrue(e.getMessage().contains("fewer than 2 replicas agreed"), e.getMessage());
        }
    }

    /** A replica whose answer to a submit is computed by {@code behaviour}. */
    private LedgerClient start(List<Function<SubmitRequest, SubmitResponse>> behaviours) throws Exception {
        List<String> addresses = new ArrayList<>();
        for (Function<SubmitRequest, SubmitResponse> behaviour : behaviours) {
            Server server = NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0))
                    .addService(new LedgerApiGrpc.LedgerApiImplBase() {
                        @Override
                        public void submitTransaction(SubmitRequest request, StreamObserver<SubmitResponse> out) {
                            SubmitResponse response = behaviour.apply(request);
                            if (response == null) {
                                out.onError(Status.UNAVAILABLE.withDescription("scripted outage").asRuntimeException());
                                return;
                            }
                            out.onNext(response);
                            out.onCompleted();
                        }
                    }).build().start();
            servers.add(server);
            addresses.add("127.0.0.1:" + server.getPort());
            channels.add(ManagedChannelBuilder.forTarget(addresses.get(addresses.size() - 1)).usePlaintext().build());
        }
        Network network = new Network(CHAIN, keys.stream().map(KeyPair::publicKey).toList(), addresses,
                Sha256.hash(new byte[] {1}));
        return LedgerClient.over(network, channels);
    }

    private SubmitResponse reply(int replica, SubmitRequest request, Reply.Outcome outcome, Digest blockHash,
                                 KeyPair signer) {
        Digest id = TransactionFactory.id(request.getTransaction());
        Reply.Builder reply = Reply.newBuilder().setReplica(replica).setTxId(ByteString.copyFrom(id.bytes()))
                .setOutcome(outcome);
        if (outcome == Reply.Outcome.COMMITTED) {
            reply.setHeight(7).setBlockHash(ByteString.copyFrom(blockHash.bytes()))
                    .setReceipt(Receipt.newBuilder().setTxId(ByteString.copyFrom(id.bytes())).setHeight(7)
                            .setStatus(Receipt.Status.SUCCESS));
        } else if (outcome == Reply.Outcome.REJECTED) {
            reply.setRejectReason(Reply.RejectReason.BAD_SIGNATURE).setDetail("signature does not verify");
        }
        byte[] bytes = reply.build().toByteArray();
        return SubmitResponse.newBuilder().setSignedReply(SignedReply.newBuilder().setReply(ByteString.copyFrom(bytes))
                .setSignature(ByteString.copyFrom(signer.sign(Domain.REPLY, bytes)))).build();
    }

    private Function<SubmitRequest, SubmitResponse> honest(int replica) {
        return rq -> reply(replica, rq, Reply.Outcome.COMMITTED, Sha256.hash(new byte[] {7}), keys.get(replica));
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
        Function<SubmitRequest, SubmitResponse> slow = rq -> {
            synchronized (seenBodies) {
                seenBodies.add(rq.getTransaction().getBody());
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

    /** A one-transaction block certified by replicas 0..2, and the proof for its transaction. */
    private TransactionProof proof(SignedTransaction tx, int signers, boolean tamperRoot) {
        Digest id = TransactionFactory.id(tx);
        Digest root = tamperRoot ? Sha256.hash(new byte[] {9}) : MerkleTree.of(List.of(id.bytes())).root();
        Digest batch = BatchDigest.of(1234L, 1, root);
        BlockHeader header = BlockHeader.newBuilder().setChainId(CHAIN).setHeight(7).setTxRoot(ByteString.copyFrom(root.bytes()))
                .setTxCount(1).setTimestampMillis(1234L).setBatchDigest(ByteString.copyFrom(batch.bytes())).build();
        CommitCertificate.Builder cert = CommitCertificate.newBuilder().setView(0).setSequence(7)
                .setBatchDigest(ByteString.copyFrom(batch.bytes()));
        for (int r = 0; r < signers; r++) {
            cert.addSignatures(CommitSignature.newBuilder().setReplica(r)
                    .setSignature(ByteString.copyFrom(new CommitVote(0, 7, batch, r).sign(keys.get(r)))));
        }
        return TransactionProof.newBuilder().setTransaction(tx).setBlockHeader(header.toByteString())
                .setReceipt(Receipt.newBuilder().setTxId(ByteString.copyFrom(id.bytes())).setHeight(7))
                .setCertificate(cert).setTxInclusion(InclusionProof.newBuilder().setLeafIndex(0).setTreeSize(1)).build();
    }

    @Test
    void oneVerifiedProofSufficesAndABadOneDoesNot() throws Exception {
        Function<SubmitRequest, SubmitResponse> proving = rq -> reply(0, rq, Reply.Outcome.COMMITTED,
                Sha256.hash(new byte[] {7}), keys.get(0)).toBuilder().setProof(proof(rq.getTransaction(), 3, false)).build();
        try (LedgerClient client = start(List.of(proving, rq -> null, rq -> null, rq -> null))) {
            Committed c = client.submit(client.transactions().transfer(alice, bob, 5), Duration.ofSeconds(10));
            assertTrue(c.byProof());
        }
        ProofVerifier verifier = new ProofVerifier(new Network(CHAIN, keys.stream().map(KeyPair::publicKey).toList(),
                List.of("a:1", "b:1", "c:1", "d:1"), Digest.ZERO));
        SignedTransaction tx = new TransactionFactory(CHAIN).transfer(alice, bob, 1);
        assertTrue(verifier.verify(proof(tx, 3, false)).ok());
        assertTrue(verifier.verify(proof(tx, 2, false)).reason().contains("3 are needed"));
        assertFalse(verifier.verify(proof(tx, 3, true)).ok());
        SignedTransaction other = new TransactionFactory(CHAIN).transfer(alice, bob, 2);
        assertFalse(verifier.verify(proof(tx, 3, false).toBuilder().setTransaction(other).build()).ok());
    }
}
