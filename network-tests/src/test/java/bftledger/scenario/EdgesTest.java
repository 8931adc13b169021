package bftledger.scenario;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import bftledger.api.Wire;
import bftledger.api.proto.GetStatusRequest;
import bftledger.api.proto.GetStatusResponse;
import bftledger.api.proto.GetTransactionRequest;
import bftledger.api.proto.GetTransactionResponse;
import bftledger.api.proto.LedgerApiGrpc;
import bftledger.api.proto.PeerLiveness;
import bftledger.api.proto.SubmitRequest;
import bftledger.api.proto.SubmitResponse;
import bftledger.crypto.KeyPair;
import bftledger.crypto.PublicKey;
import bftledger.ledger.proto.SignedTransaction;
import bftledger.sdk.ClientOptions;
import bftledger.sdk.Committed;
import bftledger.sdk.LedgerClient;
import bftledger.sdk.LedgerClientException;
import bftledger.sdk.ProofVerifier;
import bftledger.sdk.TransactionFactory;
import bftledger.sdk.resilience.CircuitBreaker;
import com.google.common.util.concurrent.FutureCallback;
import com.google.common.util.concurrent.Futures;
import com.google.common.util.concurrent.MoreExecutors;
import com.google.protobuf.ByteString;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import io.grpc.Metadata;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The edges against four real node processes, one cluster for all four scenarios in turn:
 * a SIGKILLed replica's SDK breaker opens and it stops getting calls; a submission flood at many
 * times capacity is shed with RESOURCE_EXHAUSTED while an honest client's transactions commit
 * and every node stays alive within its heap; a minority (two of four left, one SIGKILLed and
 * one SIGSTOPped) serves proven reads marked possibly stale and refuses writes at once with
 * "no quorum reachable"; after SIGCONT the network commits again.
 */
class EdgesTest {
    private static final long SEED = Long.getLong("bftledger.seed", System.nanoTime());

    @TempDir
    Path tmp;

    @Test
    @Timeout(value = 6, unit = TimeUnit.MINUTES)
    void breakerFloodAndMinorityPartition() throws Exception {
        String why = "seed " + SEED + " (replay with -Dbftledger.seed=" + SEED + ")";
        List<ManagedChannel> raw = new ArrayList<>();
        try (ScenarioCluster cluster = ScenarioCluster.loopback(tmp.resolve("net"), ScenarioCluster.Options.asInit(SEED))) {
          try {
            cluster.startAll();
            KeyPair honest = cluster.accounts().get(0);
            KeyPair flooder = cluster.accounts().get(1);
            PublicKey payee = KeyPair.deterministic("payee").publicKey();
            List<String> events = java.util.Collections.synchronizedList(new ArrayList<>());
            // A long cool-down, so the breaker stays open for the whole breaker phase; a retry floor
            // sized for the seconds in which the flood fills every submission queue.
            ClientOptions options = ClientOptions.defaults().withRandom(new Random(SEED)).withBreaker(3, Duration.ofMinutes(2))
                    .withRetryBudget(0.1, 60, Duration.ofSeconds(10))
                    .withBreakerListener((r, from, to, reason) -> events.add(r + ":" + to));
            for (String address : cluster.clientNetwork().addresses()) {
                raw.add(ManagedChannelBuilder.forTarget(address).usePlaintext().build());
            }
            try (LedgerClient client = LedgerClient.connect(cluster.clientNetwork(), options)) {
                cluster.awaitReady(Duration.ofSeconds(90));
                TransactionFactory txs = client.transactions();
                for (int i = 0; i < 3; i++) {
                    client.submit(txs.transfer(honest, payee, 1 + i), Duration.ofSeconds(60));
                }
                GetStatusResponse healthy = awaitStatus(raw.get(0), s -> s.getQuorumReachable()
                        && s.getPeerLivenessList().stream().allMatch(p -> p.getHasHeard() && p.getRttMicros() > 0 && !p.getSuspected()),
                        "node0 hears all peers with an RTT");
                assertEquals(3, healthy.getPeerLivenessCount(), why);

                // 1. One replica SIGKILLed: its breaker opens and then it gets no more calls.
                cluster.kill9(3);
                Committed last = null;
                for (int i = 0; i < 40 && client.breakerStates().get(3) != CircuitBreaker.State.OPEN; i++) {
                    last = client.submit(txs.transfer(honest, payee, 10 + i), Duration.ofSeconds(60));
                }
                assertEquals(CircuitBreaker.State.OPEN, client.breakerStates().get(3), why + ": breaker events " + events);
                // The listener runs on the call's thread just after the state changed; give it a moment.
                for (int i = 0; i < 50 && !events.contains("3:OPEN"); i++) {
                    Thread.sleep(100);
                }
                assertTrue(events.contains("3:OPEN"), events.toString());
                long callsToDead = client.callsSent(3);
                for (int i = 0; i < 10; i++) {
                    last = client.submit(txs.transfer(honest, payee, 100 + i), Duration.ofSeconds(60));
                    client.account(honest.publicKey(), Duration.ofSeconds(30));
                }
                assertEquals(callsToDead, client.callsSent(3), why + ": an open breaker sends nothing to the dead replica");
                assertEquals(List.of(CircuitBreaker.State.CLOSED, CircuitBreaker.State.CLOSED, CircuitBreaker.State.CLOSED),
                        client.breakerStates().subList(0, 3));
                GetStatusResponse suspecting = awaitStatus(raw.get(0), s -> peer(s, 3).getSuspected(), "node0 suspects node3");
                assertTrue(peer(suspecting, 3).getSuspicionsList().contains("silent"), suspecting.toString());
                assertTrue(suspecting.getQuorumReachable(), "three of four still make a quorum");

                // 2. A flood from one account at many times capacity, with an honest client alongside.
                int flood = 2_000;
                List<SignedTransaction> floodTxs = new ArrayList<>();
                for (int i = 0; i < flood; i++) {
                    floodTxs.add(txs.transfer(flooder, payee, 1_000 + i));
                }
                // Several connections per replica, as a real flood would open: one HTTP/2 connection
                // alone is held to the server's concurrent-stream limit by the client itself.
                List<List<ManagedChannel>> floodChannels = new ArrayList<>();
                for (int r = 0; r < 3; r++) {
                    List<ManagedChannel> perReplica = new ArrayList<>();
                    for (int c = 0; c < 4; c++) {
                        ManagedChannel ch = ManagedChannelBuilder.forTarget(cluster.clientNetwork().addresses().get(r)).usePlaintext().build();
                        perReplica.add(ch);
                        raw.add(ch);
                    }
                    floodChannels.add(perReplica);
                }
                Map<String, AtomicInteger> outcomes = new ConcurrentHashMap<>();
                CountDownLatch answered = new CountDownLatch(flood * 3);
                for (int t = 0; t < floodTxs.size(); t++) {
                    SignedTransaction tx = floodTxs.get(t);
                    for (int r = 0; r < 3; r++) {
                        Futures.addCallback(LedgerApiGrpc.newFutureStub(floodChannels.get(r).get(t % 4)).withDeadlineAfter(60, TimeUnit.SECONDS)
                                .submitTransaction(SubmitRequest.newBuilder().setTransaction(tx).setWaitMillis(1_000).build()),
                                new FutureCallback<>() {
                                    @Override
                                    public void onSuccess(SubmitResponse result) {
                                        outcomes.computeIfAbsent("answered", k -> new AtomicInteger()).incrementAndGet();
                                        answered.countDown();
                                    }

                                    @Override
                                    public void onFailure(Throwable t) {
                                        Status s = Status.fromThrowable(t);
                                        Metadata trailers = Status.trailersFromThrowable(t);
                                        String reason = trailers == null ? null : trailers.get(Wire.REFUSAL_REASON);
                                        outcomes.computeIfAbsent(s.getCode() + "/" + reason, k -> new AtomicInteger()).incrementAndGet();
                                        if (s.getCode() == Status.Code.RESOURCE_EXHAUSTED) {
                                            assertNotEquals(null, trailers.get(Wire.RETRY_AFTER_MILLIS));
                                        }
                                        answered.countDown();
                                    }
                                }, MoreExecutors.directExecutor());
                    }
                }
                List<Committed> honestDuringFlood = new ArrayList<>();
                for (int i = 0; i < 5; i++) {
                    honestDuringFlood.add(client.submit(txs.transfer(honest, payee, 500 + i), Duration.ofSeconds(90)));
                }
                assertTrue(answered.await(120, TimeUnit.SECONDS), why + ": flood calls all answered: " + outcomes);
                int shed = outcomes.entrySet().stream().filter(e -> e.getKey().startsWith("RESOURCE_EXHAUSTED"))
                        .mapToInt(e -> e.getValue().get()).sum();
                assertTrue(shed > 0, why + ": the flooder was refused with RESOURCE_EXHAUSTED: " + outcomes);
                assertEquals(5, honestDuringFlood.size());
                for (int i = 0; i < 3; i++) {
                    cluster.assertAlive(i);
                    assertFalse(Files.readString(cluster.log(i)).contains("OutOfMemoryError"),
                            "node" + i + " ran out of heap");
                    String metrics = cluster.metrics(i);
                    double used = ScenarioChecks.metric(metrics, "bftledger_heap_used_bytes");
                    double max = ScenarioChecks.metric(metrics, "bftledger_heap_max_bytes");
                    assertTrue(used > 0 && used < max, "node" + i + " heap " + used + " of " + max);
                    assertTrue(metrics.contains("bftledger_shed_requests"), "shed requests counted by reason on node" + i);
                }

                // 3. A minority: node3 is dead, node2 is SIGSTOPped; node0 and node1 alone.
                cluster.pause(2);
                GetStatusResponse minority = awaitStatus(raw.get(0), s -> !s.getQuorumReachable(), "node0 sees no quorum");
                assertTrue(peer(minority, 2).getSuspicionsList().contains("silent"), minority.toString());
                awaitStatus(raw.get(1), s -> !s.getQuorumReachable(), "node1 sees no quorum");
                GetTransactionResponse read = LedgerApiGrpc.newBlockingStub(raw.get(0)).withDeadlineAfter(10, TimeUnit.SECONDS)
                        .getTransaction(GetTransactionRequest.newBuilder().setTxId(ByteString.copyFrom(last.txId().bytes())).build());
                assertTrue(read.getFound() && read.getPossiblyStale(), read.toString());
                assertTrue(read.getValidAtHeight() >= read.getHeight());
                assertTrue(new ProofVerifier(cluster.clientNetwork()).verify(read.getProof()).ok(), "the stale read still carries a valid proof");
                assertTrue(LedgerApiGrpc.newBlockingStub(raw.get(1)).withDeadlineAfter(10, TimeUnit.SECONDS)
                        .getAccount(bftledger.api.proto.GetAccountRequest.newBuilder()
                                .setAccount(ByteString.copyFrom(honest.publicKey().bytes())).build()).getPossiblyStale());
                SignedTransaction blocked = txs.transfer(honest, payee, 9_999);
                StatusRuntimeException refused = assertThrows(StatusRuntimeException.class, () -> LedgerApiGrpc
                        .newBlockingStub(raw.get(0)).withDeadlineAfter(60, TimeUnit.SECONDS)
                        .submitTransaction(SubmitRequest.newBuilder().setTransaction(blocked).build()));
                assertEquals(Status.Code.UNAVAILABLE, refused.getStatus().getCode(), "fails fast, not at the deadline");
                assertTrue(refused.getStatus().getDescription().contains("no quorum reachable"), refused.getStatus().toString());
                assertEquals("no-quorum", refused.getTrailers().get(Wire.REFUSAL_REASON));
                LedgerClientException sdkError = assertThrows(LedgerClientException.class,
                        () -> client.submit(blocked, Duration.ofSeconds(3)));
                assertTrue(sdkError.getMessage().contains("no quorum reachable"), sdkError.getMessage());

                // 4. The partition heals: the same transaction commits.
                cluster.resume(2);
                awaitStatus(raw.get(0), GetStatusResponse::getQuorumReachable, "node0 sees a quorum again");
                Committed healed = client.submit(blocked, Duration.ofSeconds(90));
                assertEquals(TransactionFactory.id(blocked), healed.txId());
            }
          } finally {
            raw.forEach(ManagedChannel::shutdownNow);
          }
        }
    }

    private static PeerLiveness peer(GetStatusResponse s, int replica) {
        return s.getPeerLivenessList().stream().filter(p -> p.getReplica() == replica).findFirst().orElseThrow();
    }

    private static GetStatusResponse awaitStatus(ManagedChannel channel, java.util.function.Predicate<GetStatusResponse> condition,
                                                 String what) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        GetStatusResponse last = null;
        while (System.nanoTime() < deadline) {
            try {
                last = LedgerApiGrpc.newBlockingStub(channel).withDeadlineAfter(5, TimeUnit.SECONDS)
                        .getStatus(GetStatusRequest.getDefaultInstance());
                if (condition.test(last)) {
                    return last;
                }
            } catch (StatusRuntimeException e) {
                last = null;
            }
            Thread.sleep(250);
        }
        throw new AssertionError(what + " did not happen within 60 s; last status: " + last);
    }
}
