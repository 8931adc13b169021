package bftledger.scenario;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import bftledger.api.proto.GetStatusResponse;
import bftledger.api.proto.LedgerApiGrpc;
import bftledger.api.proto.Reply;
import bftledger.api.proto.SubmitRequest;
import bftledger.api.proto.SubmitResponse;
import bftledger.api.proto.ReplyBatch;
import bftledger.api.proto.SubmitBatchRequest;
import bftledger.api.proto.SubmitBatchResponse;
import bftledger.crypto.Domain;
import bftledger.crypto.KeyPair;
import bftledger.crypto.PublicKey;
import bftledger.ledger.proto.PutRecord;
import bftledger.ledger.proto.Receipt;
import bftledger.ledger.proto.SignedTransaction;
import bftledger.ledger.proto.TransactionBody;
import bftledger.ledger.proto.Transfer;
import bftledger.node.cli.Main;
import bftledger.sdk.Committed;
import bftledger.sdk.LedgerClient;
import bftledger.sdk.LedgerClientException;
import bftledger.sdk.Network;
import bftledger.sdk.TransactionFactory;
import com.google.protobuf.ByteString;
import io.grpc.ManagedChannel;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Four real node JVMs on loopback gRPC with real LMDB: concurrent signed transfers through the
 * SDK all commit, the ledgers are identical, bad client input is refused with a clear reason and
 * changes nothing, a SIGKILLed node restarts from its stores, and the offline audit passes on
 * every data directory.
 */
class LocalNetworkTest {
    private static final long SEED = Long.getLong("bftledger.seed", System.nanoTime());
    private static final int TRANSFERS = Integer.getInteger("bftledger.transfers", 1000);
    private static final int IN_FLIGHT_MAX = 64;
    /** Single-transaction submit calls (to every replica) before the timer-queue check; more than its bound of 16. */
    private static final int SINGLE_SUBMITS = 20;

    @TempDir
    Path tmp;

    @Test
    @Timeout(value = 6, unit = TimeUnit.MINUTES)
    void fourNodesCommitConcurrentTransfersAndAuditClean() throws Exception {
        String why = "seed " + SEED + " (replay with -Dbftledger.seed=" + SEED + ")";
        SplittableRandom random = new SplittableRandom(SEED);
        try (ScenarioCluster cluster = ScenarioCluster.loopback(tmp.resolve("net"), ScenarioCluster.Options.asInit(SEED))) {
            cluster.startAll();
            Network network = cluster.clientNetwork();
            try (LedgerClient client = LedgerClient.connect(network)) {
                cluster.awaitReady(Duration.ofSeconds(90));
                List<KeyPair> senders = new ArrayList<>();
                for (int j = 0; j < 4; j++) {
                    senders.add(cluster.accounts().get(j));
                }
                // Concurrent clients: up to IN_FLIGHT_MAX submissions outstanding at once.
                Semaphore window = new Semaphore(IN_FLIGHT_MAX);
                List<CompletableFuture<Committed>> results = new ArrayList<>();
                Set<String> ids = new HashSet<>();
                long total = 0;
                for (int t = 0; t < TRANSFERS; t++) {
                    KeyPair from = senders.get(random.nextInt(senders.size()));
                    PublicKey to = KeyPair.deterministic("recipient-" + random.nextInt(50)).publicKey();
                    long amount = 1 + random.nextInt(100);
                    total += amount;
                    SignedTransaction tx = client.transactions().transfer(from, to, amount);
                    ids.add(TransactionFactory.id(tx).hex());
                    window.acquire();
                    CompletableFuture<Committed> f = client.submitAsync(tx, Duration.ofSeconds(60));
                    f.whenComplete((c, e) -> window.release());
                    results.add(f);
                }
                long committedSuccess = 0;
                for (CompletableFuture<Committed> f : results) {
                    Committed c = f.get(90, TimeUnit.SECONDS);
                    assertEquals(Receipt.Status.SUCCESS, c.receipt().getStatus(), why + " " + c);
                    committedSuccess++;
                }
                assertEquals(TRANSFERS, committedSuccess, why);
                assertEquals(TRANSFERS, ids.size(), why);

                // Single-transaction submit calls (the SDK batches; other clients may not), each
                // asking to wait up to a minute, answered by the commit well before that.
                List<ManagedChannel> direct = new ArrayList<>();
                List<com.google.common.util.concurrent.ListenableFuture<SubmitResponse>> singles = new ArrayList<>();
                try {
                    for (int r = 0; r < 4; r++) {
                        direct.add(bftledger.sdk.TlsChannels.builder(network, r).build());
                    }
                    for (int t = 0; t < SINGLE_SUBMITS; t++) {
                        SignedTransaction tx = client.transactions().transfer(senders.get(t % senders.size()),
                                KeyPair.deterministic("single-submit-recipient").publicKey(), 1);
                        for (ManagedChannel ch : direct) {
                            singles.add(LedgerApiGrpc.newFutureStub(ch).withDeadlineAfter(90, TimeUnit.SECONDS)
                                    .submitTransaction(SubmitRequest.newBuilder().setTransaction(tx).setWaitMillis(60_000).build()));
                        }
                    }
                    for (com.google.common.util.concurrent.ListenableFuture<SubmitResponse> f : singles) {
                        Reply reply = Reply.parseFrom(f.get(90, TimeUnit.SECONDS).getSignedReply().getReply());
                        assertEquals(Reply.Outcome.COMMITTED, reply.getOutcome(), reply.toString());
                    }
                } finally {
                    direct.forEach(ManagedChannel::shutdownNow);
                }
                // Identical ledgers: same height and same tip hash everywhere (the tip hash chains the prefix).
                List<GetStatusResponse> statuses = cluster.awaitSameHeight(1, Duration.ofSeconds(60));
                long height = statuses.get(0).getHeight();
                for (GetStatusResponse s : statuses) {
                    assertEquals(statuses.get(0).getLastBlockHash(), s.getLastBlockHash(), why + " node" + s.getReplica());
                }
                // Every submit call is answered by now: its wait timer went with it, and what the
                // timer queue holds are the periodic tasks (ticks, sync, pings), not one per call
                // for the rest of its wait (96 at replica 0 here when answered timers were kept).
                for (int r = 0; r < 4; r++) {
                    double timers = ScenarioChecks.metric(cluster.metrics(r),
                            "bftledger_queue_depth{queue=\"timers\",replica=\"" + r + "\"}");
                    assertTrue(timers <= 16, timers + " timer tasks queued at replica " + r + " after every call was answered");
                }
                long received = 0;
                for (int r = 0; r < 50; r++) {
                    received += client.account(KeyPair.deterministic("recipient-" + r).publicKey(), Duration.ofSeconds(20)).value();
                }
                assertEquals(total, received, why);

                badInputChangesNothing(cluster, client, network, senders.get(0), height);
                assertBlockStreamServesTheChain(network, height);
                String metrics = cluster.metrics(1);
                assertTrue(metrics.contains("bftledger_rejected_messages_total{reason=\"client-BAD_SIGNATURE\",replica=\"1\"}"), metrics);
                assertTrue(metrics.contains("bftledger_committed_transactions_total{replica=\"1\"}"), metrics);
                assertTrue(metrics.contains("bftledger_queue_depth{queue=\"core\",replica=\"1\"}"), metrics);
                // Each client signature is verified once per replica, whether the submit or the
                // PRE-PREPARE brings it first (a few more: the bad inputs above, retried submits).
                double verifications = ScenarioChecks.metric(metrics, "bftledger_transaction_verifications_total{replica=\"1\"}");
                int transfers = TRANSFERS + SINGLE_SUBMITS;
                assertTrue(verifications >= transfers && verifications <= 1.1 * transfers + 50,
                        verifications + " verifications at replica 1 for " + transfers + " transfers");

                // A SIGKILLed backup restarts from its WAL and block store and rejoins at the same tip.
                cluster.kill9(3);
                Committed during = client.submit(client.transactions().transfer(senders.get(1), senders.get(2).publicKey(), 3),
                        Duration.ofSeconds(60));
                assertEquals(Receipt.Status.SUCCESS, during.receipt().getStatus());
                cluster.start(3);
                cluster.awaitReady(Duration.ofSeconds(90));
                client.submit(client.transactions().transfer(senders.get(2), senders.get(3).publicKey(), 4), Duration.ofSeconds(60));
                List<GetStatusResponse> after = cluster.awaitSameHeight(during.height() + 1, Duration.ofSeconds(90));
                for (GetStatusResponse s : after) {
                    assertEquals(after.get(0).getLastBlockHash(), s.getLastBlockHash(), why + " node" + s.getReplica());
                }
                assertEquals(0, Main.run("audit", "--online", "--plaintext", "--genesis", cluster.genesisPath().toString(), "--json"),
                        "online audit: every node agrees block by block");
            }
            for (int i = 0; i < 4; i++) {
                // 143 = 128 + SIGTERM: the JVM's exit status after running the shutdown hooks.
                assertEquals(143, cluster.stop(i), "node" + i + " exit code after SIGTERM");
                String log = java.nio.file.Files.readString(cluster.log(i));
                assertTrue(log.contains("event=stopped replica=" + i), "node" + i + " logged its clean shutdown");
            }
            for (int i = 0; i < 4; i++) {
                assertEquals(0, Main.run("audit", "--data", cluster.data(i).toString(), "--genesis", cluster.genesisPath().toString(),
                        "--json"), "offline audit of node" + i);
            }
        }
    }

    /** Malformed, forged, oversized and wrong-chain transactions are refused everywhere; the ledger does not move. */
    private void badInputChangesNothing(ScenarioCluster cluster, LedgerClient client, Network network, KeyPair sender, long height)
            throws Exception {
        long balanceBefore = client.account(sender.publicKey(), Duration.ofSeconds(20)).value();
        SignedTransaction good = client.transactions().transfer(sender, KeyPair.deterministic("x").publicKey(), 1);
        byte[] sig = good.getSignature().toByteArray();
        sig[0] ^= 1;
        SignedTransaction badSignature = good.toBuilder().setSignature(ByteString.copyFrom(sig)).build();
        SignedTransaction malformed = SignedTransaction.newBuilder().setBody(ByteString.copyFrom(new byte[] {(byte) 0xff, 1, 2}))
                .setSignature(ByteString.copyFrom(sender.sign(Domain.TRANSACTION, new byte[] {(byte) 0xff, 1, 2}))).build();
        SignedTransaction oversized = TransactionFactory.sign(sender, TransactionBody.newBuilder().setChainId(network.chainId())
                .setSender(ByteString.copyFrom(sender.publicKey().bytes())).setNonce(1)
                .setPutRecord(PutRecord.newBuilder().setKey("k").setValue(ByteString.copyFrom(new byte[9000]))));
        SignedTransaction wrongChain = new TransactionFactory("another-chain").transfer(sender, KeyPair.deterministic("y").publicKey(), 1);
        SignedTransaction selfTransfer = TransactionFactory.sign(sender, TransactionBody.newBuilder().setChainId(network.chainId())
                .setSender(ByteString.copyFrom(sender.publicKey().bytes())).setNonce(2)
                .setTransfer(Transfer.newBuilder().setTo(ByteString.copyFrom(sender.publicKey().bytes())).setAmount(1)));

        ManagedChannel channel = bftledger.sdk.TlsChannels.builder(network, 1).build();
        try {
            LedgerApiGrpc.LedgerApiBlockingStub stub = LedgerApiGrpc.newBlockingStub(channel).withDeadlineAfter(20, TimeUnit.SECONDS);
            assertRejected(stub, badSignature, Reply.RejectReason.BAD_SIGNATURE);
            assertRejected(stub, malformed, Reply.RejectReason.MALFORMED);
            assertRejected(stub, oversized, Reply.RejectReason.TOO_LARGE);
            assertRejected(stub, wrongChain, Reply.RejectReason.WRONG_CHAIN);
            assertRejected(stub, selfTransfer, Reply.RejectReason.MALFORMED);
            // The same five in one SubmitTransactions call: five rejections, in order, under one signature.
            List<SignedTransaction> bad = List.of(badSignature, malformed, oversized, wrongChain, selfTransfer);
            SubmitBatchResponse batch = stub.submitTransactions(SubmitBatchRequest.newBuilder().addAllTransactions(bad)
                    .setWaitMillis(1000).build());
            byte[] replies = batch.getSignedReplies().getReplies().toByteArray();
            assertTrue(network.validatorKeys().get(1).verify(Domain.REPLY_BATCH, replies,
                    batch.getSignedReplies().getSignature().toByteArray()), "one signature by replica 1 covers the batch");
            ReplyBatch answered = ReplyBatch.parseFrom(replies);
            assertEquals(1, answered.getReplica());
            List<Reply.RejectReason> reasons = List.of(Reply.RejectReason.BAD_SIGNATURE, Reply.RejectReason.MALFORMED,
                    Reply.RejectReason.TOO_LARGE, Reply.RejectReason.WRONG_CHAIN, Reply.RejectReason.MALFORMED);
            for (int i = 0; i < bad.size(); i++) {
                Reply reply = answered.getReplies(i);
                assertEquals(Reply.Outcome.REJECTED, reply.getOutcome(), reply.toString());
                assertEquals(reasons.get(i), reply.getRejectReason(), "reply " + i + ": " + reply.getDetail());
            }
            io.grpc.StatusRuntimeException empty = assertThrows(io.grpc.StatusRuntimeException.class,
                    () -> stub.submitTransactions(SubmitBatchRequest.getDefaultInstance()));
            assertEquals(io.grpc.Status.Code.INVALID_ARGUMENT, empty.getStatus().getCode());
            SubmitBatchRequest.Builder tooMany = SubmitBatchRequest.newBuilder();
            for (int i = 0; i <= bftledger.node.replica.ClientApiService.BATCH_TRANSACTIONS_MAX; i++) {
                tooMany.addTransactions(badSignature);
            }
            io.grpc.StatusRuntimeException over = assertThrows(io.grpc.StatusRuntimeException.class,
                    () -> stub.submitTransactions(tooMany.build()));
            assertEquals(io.grpc.Status.Code.INVALID_ARGUMENT, over.getStatus().getCode());
            assertTrue(over.getStatus().getDescription().contains("1 to 256"), over.getStatus().getDescription());
        } finally {
            channel.shutdownNow();
        }
        // Through the SDK: f+1 signed rejections end the call with the reason.
        LedgerClientException e = assertThrows(LedgerClientException.class, () -> client.submit(badSignature, Duration.ofSeconds(20)));
        assertEquals(LedgerClientException.Kind.REJECTED, e.kind());
        assertTrue(e.getMessage().contains("BAD_SIGNATURE"), e.getMessage());
        // An account that was never funded: the transfer is recorded as FAILED and moves nothing.
        KeyPair pauper = KeyPair.deterministic("never-funded");
        Committed failed = client.submit(client.transactions().transfer(pauper, sender.publicKey(), 5), Duration.ofSeconds(60));
        assertEquals(Receipt.Status.FAILED, failed.receipt().getStatus(), failed.toString());
        // Blocks in between may only be the empty ones a primary proposes to certify the last header.
        assertTrue(failed.height() > height, failed.toString());
        for (long h = height + 1; h < failed.height(); h++) {
            assertEquals(0, client.block(h, bftledger.sdk.ReadOptions.defaults(), Duration.ofSeconds(20)).orElseThrow()
                    .value().getTransactionsCount(), "only the FAILED transfer was added; block " + h + " holds another");
        }
        assertEquals(balanceBefore, client.account(sender.publicKey(), Duration.ofSeconds(20)).value());
    }

    /** StreamBlocks from height 1 yields every block in order, each certified and linked to the one before. */
    private static void assertBlockStreamServesTheChain(Network network, long height) throws Exception {
        ManagedChannel channel = bftledger.sdk.TlsChannels.builder(network, 2)
                .maxInboundMessageSize(64 << 20).build();
        try {
            java.util.Iterator<bftledger.ledger.proto.Block> blocks = LedgerApiGrpc.newBlockingStub(channel)
                    .withDeadlineAfter(60, TimeUnit.SECONDS)
                    .streamBlocks(bftledger.api.proto.StreamBlocksRequest.newBuilder().setFromHeight(1).build());
            bftledger.sdk.ProofVerifier verifier = new bftledger.sdk.ProofVerifier(network);
            bftledger.crypto.Digest previous = network.genesisHash();
            for (long h = 1; h <= height; h++) {
                bftledger.ledger.proto.Block block = blocks.next();
                bftledger.ledger.proto.BlockHeader header = bftledger.ledger.proto.BlockHeader.parseFrom(block.getHeader());
                assertEquals(h, header.getHeight());
                assertEquals(previous, bftledger.crypto.Digest.of(header.getPreviousHash().toByteArray()), "link at " + h);
                assertTrue(verifier.verifyCommitCertificate(header, block.getCertificate()).ok(), "certificate at " + h);
                previous = bftledger.crypto.Sha256.hash(block.getHeader().toByteArray());
            }
        } finally {
            channel.shutdownNow();
        }
    }

    private static void assertRejected(LedgerApiGrpc.LedgerApiBlockingStub stub, SignedTransaction tx, Reply.RejectReason reason)
            throws Exception {
        SubmitResponse response = stub.submitTransaction(SubmitRequest.newBuilder().setTransaction(tx).setWaitMillis(1000).build());
        Reply reply = Reply.parseFrom(response.getSignedReply().getReply());
        assertEquals(Reply.Outcome.REJECTED, reply.getOutcome(), reply.toString());
        assertEquals(reason, reply.getRejectReason(), reply.getDetail());
        assertTrue(!reply.getDetail().isBlank(), "a rejection says why");
    }
}
