package bftledger.sdk;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import bftledger.api.proto.GetAccountRequest;
import bftledger.api.proto.GetAccountResponse;
import bftledger.api.proto.GetRecordRequest;
import bftledger.api.proto.GetRecordResponse;
import bftledger.api.proto.LedgerApiGrpc;
import bftledger.api.proto.Reply;
import bftledger.api.proto.ReplyBatch;
import bftledger.api.proto.SignedReplyBatch;
import bftledger.api.proto.SubmitBatchRequest;
import bftledger.api.proto.SubmitBatchResponse;
import bftledger.api.proto.TransactionProof;
import bftledger.crypto.Digest;
import bftledger.crypto.Domain;
import bftledger.crypto.KeyPair;
import bftledger.crypto.PublicKey;
import bftledger.crypto.Sha256;
import bftledger.ledger.ValidatorSets;
import bftledger.ledger.proto.BlockHeader;
import bftledger.ledger.proto.Receipt;
import bftledger.ledger.proto.SignedTransaction;
import bftledger.ledger.proto.Validator;
import bftledger.ledger.proto.ValidatorSetRecord;
import com.google.protobuf.ByteString;
import io.grpc.ManagedChannel;
import io.grpc.Server;
import io.grpc.Status;
import io.grpc.inprocess.InProcessChannelBuilder;
import io.grpc.inprocess.InProcessServerBuilder;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.stub.StreamObserver;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * A client that knows only genesis, after a ChangeValidators took effect: genesis's validators
 * r0..r3 hand over to r1, r2, n4, n5, n6 from height {@link #FIRST} (r0 and r3 leave, indices
 * shift, three validators join), approved by r0, r1 and r2.
 */
class ValidatorChangeTest {
    private static final String CHAIN = "change-chain";
    private static final long FIRST = 129;
    private static final long HEIGHT = 200;
    private final List<KeyPair> genesisKeys = List.of(KeyPair.deterministic("r0"), KeyPair.deterministic("r1"),
            KeyPair.deterministic("r2"), KeyPair.deterministic("r3"));
    private final List<KeyPair> nextKeys = List.of(genesisKeys.get(1), genesisKeys.get(2), KeyPair.deterministic("n4"),
            KeyPair.deterministic("n5"), KeyPair.deterministic("n6"));
    private final CertifiedChain genesisOnly = new CertifiedChain(CHAIN, genesisKeys, Sha256.hash(new byte[] {3}));
    private final CertifiedChain chain = genesisOnly.withSet(FIRST, nextKeys);
    private final PublicKey bob = KeyPair.deterministic("bob").publicKey();
    private final List<Server> servers = new ArrayList<>();
    private final List<ManagedChannel> channels = new ArrayList<>();

    @AfterEach
    void stop() throws InterruptedException {
        channels.forEach(ManagedChannel::shutdownNow);
        servers.forEach(Server::shutdownNow);
        for (Server s : servers) {
            s.awaitTermination(5, TimeUnit.SECONDS);
        }
    }

    private static final List<String> GENESIS_ADDRESSES = List.of("r0:1", "r1:1", "r2:1", "r3:1");

    /** The new set: r1 where genesis had it, r2 moved, three newcomers. */
    private List<Validator> next(List<String> addresses) {
        return CertifiedChain.validators(nextKeys, addresses);
    }

    private ByteString record(List<KeyPair> approvers) {
        return chain.validatorRecord(FIRST, next(List.of("r1:1", "r2-moved:1", "n4:1", "n5:1", "n6:1")), approvers);
    }

    private TransactionProof proofAt(CertifiedChain c, long height, int signers) {
        SignedTransaction tx = new TransactionFactory(CHAIN).transfer(KeyPair.deterministic("alice"), bob, height);
        return c.transactionProof(tx, height, signers, false, Receipt.Status.FAILED);
    }

    @Test
    void proofsOfBlocksAfterTheChangeVerifyUnderTheFollowedChainAndNotUnderGenesisAlone() throws Exception {
        Network genesis = genesisOnly.network(GENESIS_ADDRESSES);
        ValidatorChain followed = ValidatorChain.verify(genesis, record(genesisKeys.subList(0, 3)));
        assertEquals(List.of(0L, 1L), followed.sets().stream().map(ValidatorSets.ValidatorSet::epoch).toList());
        assertEquals(FIRST, followed.latest().fromHeight());
        ProofVerifier genesisAlone = new ProofVerifier(genesis);
        ProofVerifier following = new ProofVerifier(genesis.withValidators(followed));

        TransactionProof after = proofAt(chain, 150, 4);
        assertTrue(following.verify(after).ok(), following.verify(after).reason());
        Verdict refused = genesisAlone.verify(after);
        assertFalse(refused.ok(), "genesis's validators did not sign block 151");
        assertTrue(refused.reason().contains("does not verify"), refused.reason());

        TransactionProof before = proofAt(chain, 100, 3);
        assertTrue(genesisAlone.verify(before).ok() && following.verify(before).ok(), "blocks before the change: either way");
        TransactionProof lastOfGenesis = proofAt(chain, FIRST - 1, 4);
        assertTrue(following.verify(lastOfGenesis).ok(), "genesis's last block, certified by the first of the new set");
        assertFalse(genesisAlone.verify(lastOfGenesis).ok());

        BlockHeader header = BlockHeader.parseFrom(after.getBlockHeader());
        var byRetired = following.header(chain.certify(header, genesisKeys.subList(0, 3)));
        assertFalse(byRetired.ok(), "validators that left cannot certify a block after the change");
        var wrongSet = following.header(chain.certify(genesisOnly.header(150, Digest.ZERO, 0, List.of(), Digest.ZERO), 4));
        assertFalse(wrongSet.ok());
        assertTrue(wrongSet.problem().contains("names validator set"), wrongSet.problem());
    }

    @Test
    void aRecordWhoseApprovalsAreShortForgedOrForAnotherSetIsRefused() {
        Network genesis = genesisOnly.network(GENESIS_ADDRESSES);
        IllegalArgumentException shortOne = assertThrows(IllegalArgumentException.class,
                () -> ValidatorChain.verify(genesis, record(genesisKeys.subList(0, 2))));
        assertTrue(shortOne.getMessage().contains("2 approvals, the set in force needs 3"), shortOne.getMessage());
        IllegalArgumentException forged = assertThrows(IllegalArgumentException.class,
                () -> ValidatorChain.verify(genesis, record(nextKeys.subList(2, 5))));
        assertTrue(forged.getMessage().contains("approval does not verify"), forged.getMessage());
        ValidatorSetRecord approved = parse(record(genesisKeys.subList(0, 3)));
        ValidatorSetRecord swapped = approved.toBuilder().setEpochs(0, approved.getEpochs(0).toBuilder()
                .setValidators(4, CertifiedChain.validators(List.of(KeyPair.deterministic("intruder")), List.of("x:1")).get(0)))
                .build();
        assertThrows(IllegalArgumentException.class, () -> ValidatorChain.verify(genesis, swapped.toByteString()),
                "approvals of another set do not approve this one");
        assertThrows(IllegalArgumentException.class, () -> genesis.withValidators(ValidatorChain.verify(
                new CertifiedChain(CHAIN, genesisKeys, Sha256.hash(new byte[] {4})).network(GENESIS_ADDRESSES),
                ByteString.EMPTY)), "a chain from another genesis");
    }

    private static ValidatorSetRecord parse(ByteString value) {
        try {
            return ValidatorSetRecord.parseFrom(value);
        } catch (com.google.protobuf.InvalidProtocolBufferException e) {
            throw new IllegalStateException(e);
        }
    }

    @Test
    void dialOverridesFollowAGenesisValidatorOnlyWhileItKeepsItsGenesisAddress() {
        Network genesis = genesisOnly.network(GENESIS_ADDRESSES).withDialAddress(1, "tunnel:1").withDialAddress(2, "tunnel:2");
        ValidatorSets.ValidatorSet latest = ValidatorChain.verify(genesis, record(genesisKeys.subList(0, 3))).latest();
        assertEquals("tunnel:1", genesis.dialAddress(latest, 0), "r1 is where genesis put it");
        assertEquals("r2-moved:1", genesis.dialAddress(latest, 1), "r2 moved: its genesis route no longer leads to it");
        assertEquals("n4:1", genesis.dialAddress(latest, 2));
        assertEquals("tunnel:2", genesis.dialAddress(genesis.validators().latest(), 2));
    }

    /** A scripted replica whose answers a test switches as it goes; null answers fail with UNAVAILABLE. */
    private static final class Scripted extends LedgerApiGrpc.LedgerApiImplBase {
        volatile GetRecordResponse record;
        volatile GetAccountResponse account;
        /** Signs its replies as {@code replica} with {@code signer}; null: submissions fail. */
        volatile KeyPair signer;
        volatile int replica;
        /** The height its COMMITTED replies name. */
        volatile long committedAt = HEIGHT;
        final AtomicInteger recordCalls = new AtomicInteger();
        final java.util.Set<ByteString> submitted = java.util.concurrent.ConcurrentHashMap.newKeySet();

        @Override
        public void getRecord(GetRecordRequest request, StreamObserver<GetRecordResponse> out) {
            recordCalls.incrementAndGet();
            answer(request.getOwner().equals(ValidatorSets.SYSTEM_OWNER) ? record : null, out);
        }

        @Override
        public void getAccount(GetAccountRequest request, StreamObserver<GetAccountResponse> out) {
            answer(account, out);
        }

        @Override
        public void submitTransactions(SubmitBatchRequest request, StreamObserver<SubmitBatchResponse> out) {
            request.getTransactionsList().forEach(tx -> submitted.add(ByteString.copyFrom(TransactionFactory.id(tx).bytes())));
            KeyPair key = signer;
            if (key == null) {
                out.onError(Status.UNAVAILABLE.withDescription("scripted outage").asRuntimeException());
                return;
            }
            ReplyBatch.Builder batch = ReplyBatch.newBuilder().setReplica(replica);
            for (SignedTransaction tx : request.getTransactionsList()) {
                ByteString id = ByteString.copyFrom(TransactionFactory.id(tx).bytes());
                batch.addReplies(Reply.newBuilder().setReplica(replica).setTxId(id).setOutcome(Reply.Outcome.COMMITTED)
                        .setHeight(committedAt).setBlockHash(ByteString.copyFrom(Sha256.hash(new byte[] {7}).bytes()))
                        .setReceipt(Receipt.newBuilder().setTxId(id).setHeight(committedAt).setStatus(Receipt.Status.SUCCESS)));
            }
            byte[] bytes = batch.build().toByteArray();
            out.onNext(SubmitBatchResponse.newBuilder().setSignedReplies(SignedReplyBatch.newBuilder()
                    .setReplies(ByteString.copyFrom(bytes)).setSignature(ByteString.copyFrom(key.sign(Domain.REPLY_BATCH, bytes))))
                    .build());
            out.onCompleted();
        }

        private static <T> void answer(T answer, StreamObserver<T> out) {
            if (answer == null) {
                out.onError(Status.UNAVAILABLE.withDescription("scripted outage").asRuntimeException());
                return;
            }
            out.onNext(answer);
            out.onCompleted();
        }
    }

    /** Genesis's four replicas in process, and a client over them that knows only genesis. */
    private LedgerClient overGenesis(List<Scripted> replicas, ClientOptions options) throws Exception {
        String prefix = "validator-change-" + System.nanoTime() + "-";
        for (int i = 0; i < replicas.size(); i++) {
            servers.add(InProcessServerBuilder.forName(prefix + i).directExecutor().addService(replicas.get(i)).build().start());
            channels.add(InProcessChannelBuilder.forName(prefix + i).directExecutor().build());
        }
        return LedgerClient.over(genesisOnly.network(GENESIS_ADDRESSES), channels, options);
    }

    private static List<Scripted> scripted(int count) {
        List<Scripted> out = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            out.add(new Scripted());
        }
        return out;
    }

    @Test
    void aClientThatKnowsOnlyGenesisFollowsTheChangeByItself() throws Exception {
        List<Scripted> replicas = scripted(4);
        for (Scripted r : replicas) {
            r.record = chain.validatorRecordAnswer(record(genesisKeys.subList(0, 3)), HEIGHT, 4);
            r.account = chain.accountAnswer(bob, 5, HEIGHT + 10, 4);
        }
        try (LedgerClient client = overGenesis(replicas, ClientOptions.defaults())) {
            assertEquals(0, client.validators().latest().epoch());
            Proven<Long> balance = client.account(bob, Duration.ofSeconds(5));
            assertEquals(5, balance.value());
            assertEquals(HEIGHT + 10, balance.height());
            assertEquals(1, client.validators().latest().epoch(), "the certificate's signers sent the client to the record");
            assertEquals(1, client.network().validators().latest().epoch());
            for (int r = 0; r < 4; r++) {
                assertEquals(0, client.rejectedAnswers(r), "an answer a later set explains is not a lie");
            }
        }
    }

    @Test
    void aFailedRefreshAcceptsNothingAndRefreshesAreRateLimited() throws Exception {
        List<Scripted> replicas = scripted(4);
        for (Scripted r : replicas) {
            r.record = chain.validatorRecordAnswer(record(nextKeys.subList(2, 5)), HEIGHT, 4); // forged approvals
            r.account = chain.accountAnswer(bob, 5, HEIGHT, 4);
        }
        AtomicLong now = new AtomicLong();
        try (LedgerClient client = overGenesis(replicas, ClientOptions.defaults().withClock(now::get))) {
            LedgerClientException first = assertThrows(LedgerClientException.class,
                    () -> client.account(bob, Duration.ofSeconds(5)));
            assertEquals(LedgerClientException.Kind.NO_AGREEMENT, first.kind());
            assertEquals(4, recordReads(replicas), "one refresh, each replica asked once");
            assertThrows(LedgerClientException.class, () -> client.account(bob, Duration.ofSeconds(5)));
            assertEquals(4, recordReads(replicas), "no second refresh within a second");
            now.addAndGet(TimeUnit.SECONDS.toNanos(1));
            assertThrows(LedgerClientException.class, () -> client.account(bob, Duration.ofSeconds(5)));
            assertEquals(8, recordReads(replicas), "a second later, another");
            assertEquals(0, client.validators().latest().epoch(), "the forged record was not adopted");
            for (int r = 0; r < 4; r++) {
                assertTrue(client.rejectedAnswers(r) >= 2, "replica " + r + " served both forgeries");
            }
            LedgerClientException refused = assertThrows(LedgerClientException.class,
                    () -> client.refreshValidators(Duration.ofSeconds(5)));
            assertTrue(refused.getMessage().contains("is not approved by the set before it"), refused.getMessage());
        }
    }

    private static int recordReads(List<Scripted> replicas) {
        return replicas.stream().mapToInt(r -> r.recordCalls.get()).sum();
    }

    @Test
    void aReplicaServingAStaleOrForgedRecordIsNamedAndTheHeldChainKept() throws Exception {
        List<Scripted> replicas = scripted(4);
        GetRecordResponse honest = chain.validatorRecordAnswer(record(genesisKeys.subList(0, 3)), HEIGHT, 4);
        replicas.forEach(r -> r.record = honest);
        try (LedgerClient client = overGenesis(replicas, ClientOptions.defaults())) {
            assertEquals(1, client.refreshValidators(Duration.ofSeconds(5)).latest().epoch());

            // Replica 0 forges the approvals; replica 1 has the validators that left certify a state
            // without the record after the change; replica 2 is honestly behind; replica 3 is down.
            replicas.get(0).record = chain.validatorRecordAnswer(record(nextKeys.subList(2, 5)), HEIGHT + 5, 4);
            replicas.get(1).record = genesisOnly.validatorRecordAnswer(null, HEIGHT + 5, 3);
            replicas.get(2).record = genesisOnly.validatorRecordAnswer(null, 100, 3).toBuilder().setAtMinHeight(false).build();
            replicas.get(3).record = null;
            LedgerClientException e = assertThrows(LedgerClientException.class,
                    () -> client.refreshValidators(Duration.ofSeconds(2)));
            assertEquals(LedgerClientException.Kind.NO_AGREEMENT, e.kind());
            assertTrue(client.lastRejection(0).orElseThrow().contains("is not approved by the set before it"),
                    client.lastRejection(0).orElseThrow());
            assertTrue(client.lastRejection(1).orElseThrow().contains("does not extend"), client.lastRejection(1).orElseThrow());
            assertEquals(0, client.rejectedAnswers(2), "a replica behind the height the chain was proven at is not a liar");
            assertEquals(1, client.validators().latest().epoch(), "the chain held is kept");
            assertEquals(2, client.validators().sets().size());
        }
    }

    /** Where each of the seven replicas (r0..r3, n4..n6) sits in the new set; -1: it left. */
    private static final int[] IN_NEXT = {-1, 0, 1, -1, 2, 3, 4};

    /** Seven replicas on 127.0.0.1, r0..r3 then n4..n6, and the new set's validators at their addresses. */
    private List<String> onLoopback(List<Scripted> replicas) throws Exception {
        List<String> addresses = new ArrayList<>();
        for (Scripted r : replicas) {
            Server server = NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0)).addService(r).build().start();
            servers.add(server);
            addresses.add("127.0.0.1:" + server.getPort());
        }
        return addresses;
    }

    private ByteString recordAt(List<String> addresses) {
        List<String> nextAddresses = new ArrayList<>();
        for (int i = 0; i < IN_NEXT.length; i++) {
            if (IN_NEXT[i] >= 0) {
                nextAddresses.add(addresses.get(i));
            }
        }
        return chain.validatorRecord(FIRST, next(nextAddresses), genesisKeys.subList(0, 3));
    }

    /** Replica {@code i} signs its replies as the new set's member it is, or fails submissions when it left. */
    private void signAsNewSet(Scripted r, int i) {
        r.signer = IN_NEXT[i] >= 0 ? nextKeys.get(IN_NEXT[i]) : null;
        r.replica = IN_NEXT[i];
    }

    private static ByteString id(SignedTransaction tx) {
        return ByteString.copyFrom(TransactionFactory.id(tx).bytes());
    }

    @Test
    void repliesOfTheNewSetCountAndTheClientDialsItsValidators() throws Exception {
        List<Scripted> replicas = scripted(7);
        List<String> addresses = onLoopback(replicas);
        GetRecordResponse proven = chain.validatorRecordAnswer(recordAt(addresses), HEIGHT, 4);
        for (int i = 0; i < 7; i++) {
            replicas.get(i).record = IN_NEXT[i] >= 0 ? proven : null; // r0 and r3 left and are down
            signAsNewSet(replicas.get(i), i);
        }
        Network genesis = genesisOnly.network(addresses.subList(0, 4)).withPlaintext();
        try (LedgerClient client = LedgerClient.connect(genesis, ClientOptions.defaults())) {
            TransactionFactory txs = client.transactions();
            KeyPair alice = KeyPair.deterministic("alice");
            // r1 and r2 sign as replicas 0 and 1 of the new set: genesis's keys there are r0's and r1's.
            Committed first = client.submit(txs.transfer(alice, bob, 1), Duration.ofSeconds(10));
            assertEquals(List.of(0, 1), first.replicas());
            assertEquals(1, client.validators().latest().epoch());
            assertEquals(5, client.breakerStates().size(), "the client talks to the new set's five validators");

            replicas.get(1).signer = null;
            replicas.get(2).signer = null;
            SignedTransaction tx = txs.transfer(alice, bob, 2);
            Committed second = client.submit(tx, Duration.ofSeconds(10));
            assertTrue(second.replicas().size() >= 2 && List.of(2, 3, 4).containsAll(second.replicas()),
                    "f+1 of the validators genesis does not name: " + second.replicas());
            assertFalse(replicas.get(0).submitted.contains(id(tx)) || replicas.get(3).submitted.contains(id(tx)),
                    "validators that left are not sent it");
        }
    }

    @Test
    void untilTheNewSetSignsTheSetBeforeItStillCountsAndIsDialled() throws Exception {
        List<Scripted> replicas = scripted(7);
        List<String> addresses = onLoopback(replicas);
        // The record proven at a height the new set does not sign yet: genesis's set still orders blocks.
        GetRecordResponse pending = chain.validatorRecordAnswer(recordAt(addresses), FIRST - 30, 3);
        for (int i = 0; i < 4; i++) {
            replicas.get(i).record = pending;
            replicas.get(i).signer = i == 0 || i == 3 ? genesisKeys.get(i) : null; // only the two leaving answer
            replicas.get(i).replica = i;
        }
        Network genesis = genesisOnly.network(addresses.subList(0, 4)).withPlaintext();
        ClientOptions options = ClientOptions.defaults().withAmbiguityLookup(Duration.ofMillis(300));
        try (LedgerClient client = LedgerClient.connect(genesis, options)) {
            assertEquals(1, client.refreshValidators(Duration.ofSeconds(5)).latest().epoch());
            assertEquals(7, client.breakerStates().size(), "the new set's five, and the two leaving while they still sign");
            // The leaving keys vouch for nothing at or after the new set's first height.
            LedgerClientException late = assertThrows(LedgerClientException.class, () -> client.submit(
                    client.transactions().transfer(KeyPair.deterministic("alice"), bob, 4), Duration.ofMillis(1500)));
            assertEquals(LedgerClientException.Kind.TIMEOUT, late.kind());
            for (int i = 0; i < 4; i++) {
                replicas.get(i).committedAt = FIRST - 10;
            }
            Committed underGenesis = client.submit(client.transactions().transfer(KeyPair.deterministic("alice"), bob, 1),
                    Duration.ofSeconds(10));
            assertEquals(List.of(0, 3), underGenesis.replicas(), "r0 and r3, as genesis's replicas 0 and 3");

            // Once a height the new set signs is proven, the set before it no longer counts.
            for (int i = 0; i < 7; i++) {
                replicas.get(i).account = chain.accountAnswer(bob, 5, HEIGHT, 4);
                replicas.get(i).record = IN_NEXT[i] >= 0 ? chain.validatorRecordAnswer(recordAt(addresses), HEIGHT, 4) : null;
            }
            assertEquals(HEIGHT, client.account(bob, Duration.ofSeconds(5)).height());
            assertEquals(5, client.breakerStates().size());
            replicas.get(1).signer = genesisKeys.get(1); // r1 and r2 still sign as genesis's replicas 1 and 2
            replicas.get(2).signer = genesisKeys.get(2);
            LedgerClientException stale = assertThrows(LedgerClientException.class, () -> client.submit(
                    client.transactions().transfer(KeyPair.deterministic("alice"), bob, 3), Duration.ofMillis(1500)));
            assertEquals(LedgerClientException.Kind.TIMEOUT, stale.kind());
            assertTrue(stale.getMessage().contains("does not verify"), stale.getMessage());
            for (int i = 0; i < 7; i++) {
                signAsNewSet(replicas.get(i), i);
            }
            replicas.get(1).signer = null;
            replicas.get(2).signer = null;
            SignedTransaction tx = client.transactions().transfer(KeyPair.deterministic("alice"), bob, 2);
            Committed underNext = client.submit(tx, Duration.ofSeconds(10));
            assertTrue(List.of(2, 3, 4).containsAll(underNext.replicas()), underNext.replicas().toString());
            assertFalse(replicas.get(0).submitted.contains(id(tx)) || replicas.get(3).submitted.contains(id(tx)));
        }
    }
}
