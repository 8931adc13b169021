package bftledger.sdk;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import bftledger.api.proto.GetTransactionRequest;
import bftledger.api.proto.GetTransactionResponse;
import bftledger.api.proto.LedgerApiGrpc;
import bftledger.api.proto.SubmitBatchRequest;
import bftledger.api.proto.SubmitBatchResponse;
import bftledger.crypto.KeyPair;
import bftledger.crypto.PublicKey;
import bftledger.crypto.Sha256;
import bftledger.sdk.resilience.CircuitBreaker;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.Server;
import io.grpc.Status;
import io.grpc.inprocess.InProcessChannelBuilder;
import io.grpc.inprocess.InProcessServerBuilder;
import io.grpc.stub.StreamObserver;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** Retry budget, breakers and ambiguity lookups against in-process fake replicas. */
class LedgerClientResilienceTest {
    private static final long SEED = Long.getLong("bftledger.seed", System.nanoTime());
    private static final String CHAIN = "test-chain";
    private final List<KeyPair> keys = List.of(KeyPair.deterministic("r0"), KeyPair.deterministic("r1"),
            KeyPair.deterministic("r2"), KeyPair.deterministic("r3"));
    private final List<Server> servers = new ArrayList<>();
    private final List<ManagedChannel> channels = new ArrayList<>();
    private final KeyPair alice = KeyPair.deterministic("alice");
    private final PublicKey bob = KeyPair.deterministic("bob").publicKey();
    private final AtomicInteger[] submits = {new AtomicInteger(), new AtomicInteger(), new AtomicInteger(), new AtomicInteger()};
    private final AtomicInteger lookups = new AtomicInteger();

    @AfterEach
    void stop() throws InterruptedException {
        channels.forEach(ManagedChannel::shutdownNow);
        servers.forEach(Server::shutdownNow);
        for (Server s : servers) {
            s.awaitTermination(5, TimeUnit.SECONDS);
        }
    }

    /** Every replica fails every submit with {@code status} (and trailers); lookups say "not found". */
    private LedgerClient failing(Status status, Metadata trailers, ClientOptions options) throws Exception {
        String prefix = "resilience-" + System.nanoTime() + "-";
        List<String> addresses = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            int replica = i;
            servers.add(InProcessServerBuilder.forName(prefix + i).directExecutor().addService(new LedgerApiGrpc.LedgerApiImplBase() {
                @Override
                public void submitTransactions(SubmitBatchRequest request, StreamObserver<SubmitBatchResponse> out) {
                    // Counted per transaction: the budget is about transactions sent again, however they travel.
                    submits[replica].addAndGet(request.getTransactionsCount());
                    out.onError(status.asRuntimeException(trailers));
                }

                @Override
                public void getTransaction(GetTransactionRequest request, StreamObserver<GetTransactionResponse> out) {
                    lookups.incrementAndGet();
                    out.onNext(GetTransactionResponse.getDefaultInstance());
                    out.onCompleted();
                }
            }).build().start());
            channels.add(InProcessChannelBuilder.forName(prefix + i).directExecutor().build());
            addresses.add("in-process:" + i);
        }
        return LedgerClient.over(new Network(CHAIN, keys.stream().map(KeyPair::publicKey).toList(), addresses,
                Sha256.hash(new byte[] {1})), channels, options);
    }

    @Test
    void retriesNeverExceedTheBudget() throws Exception {
        // The budget's clock stands still, so its window holds every call of the test.
        AtomicLong frozen = new AtomicLong(0);
        ClientOptions options = ClientOptions.defaults().withClock(frozen::get).withRandom(new Random(SEED))
                .withBackoff(Duration.ofMillis(1), Duration.ofMillis(5)).withRetryBudget(0.1, 4, Duration.ofSeconds(10))
                .withBreaker(1_000_000, Duration.ofSeconds(1)).withAmbiguityLookup(Duration.ofMillis(200));
        Metadata busy = new Metadata();
        busy.put(LedgerClient.REFUSAL_REASON, "shed");
        try (LedgerClient client = failing(Status.RESOURCE_EXHAUSTED, busy, options)) {
            List<CompletableFuture<Committed>> all = new ArrayList<>();
            int submissions = 25;
            for (int i = 0; i < submissions; i++) {
                all.add(client.submitAsync(client.transactions().transfer(alice, bob, 1 + i), Duration.ofMillis(600)));
            }
            for (CompletableFuture<Committed> f : all) {
                Throwable e = assertThrows(java.util.concurrent.ExecutionException.class, () -> f.get(30, TimeUnit.SECONDS));
                assertEquals(LedgerClientException.Kind.TIMEOUT, ((LedgerClientException) e.getCause()).kind());
                assertTrue(e.getCause().getMessage().contains("do not hold it"), e.getCause().getMessage());
            }
            int firstAttempts = submissions * 4;
            int sent = 0;
            for (AtomicInteger s : submits) {
                sent += s.get();
            }
            // Lookups after the deadline are first attempts of their own (one round each) plus budgeted rounds.
            long calls = client.retryBudget().callsInWindow();
            long allowedRetries = 4 + (long) Math.floor(0.1 * calls);
            assertTrue(sent - firstAttempts <= allowedRetries, "seed " + SEED + ": " + (sent - firstAttempts)
                    + " submit retries, budget " + allowedRetries + " for " + calls + " calls");
            assertTrue(client.retryBudget().retriesInWindow() <= allowedRetries, "seed " + SEED);
            assertTrue(client.retryBudget().deniedTotal() > 0, "the budget had to say no (seed " + SEED + ")");
            assertTrue(sent > firstAttempts, "some retries did happen (seed " + SEED + ")");
        }
    }

    @Test
    void aDeadReplicasBreakerOpensAndItStopsGettingCalls() throws Exception {
        AtomicLong now = new AtomicLong(0);
        List<String> events = new CopyOnWriteArrayList<>();
        ClientOptions options = ClientOptions.defaults().withClock(now::get).withRandom(new Random(SEED))
                .withBackoff(Duration.ofMillis(1), Duration.ofMillis(2)).withRetryBudget(1.0, 1_000, Duration.ofSeconds(10))
                .withBreaker(3, Duration.ofSeconds(5)).withAmbiguityLookup(Duration.ofMillis(200))
                .withBreakerListener((r, from, to, why) -> events.add(r + ":" + to));
        try (LedgerClient client = failing(Status.UNAVAILABLE.withDescription("connection refused"), new Metadata(), options)) {
            assertThrows(LedgerClientException.class, () -> client.submit(client.transactions().transfer(alice, bob, 1),
                    Duration.ofMillis(400)));
            for (int r = 0; r < 4; r++) {
                assertEquals(CircuitBreaker.State.OPEN, client.breakerStates().get(r), "replica " + r + ": " + events);
            }
            long before = client.callsSent(0);
            assertEquals(3, before, "exactly the failures that opened the breaker went out");
            assertThrows(LedgerClientException.class, () -> client.submit(client.transactions().transfer(alice, bob, 2),
                    Duration.ofMillis(300)));
            assertEquals(before, client.callsSent(0), "an open breaker sends nothing");
            now.addAndGet(Duration.ofSeconds(5).toNanos());
            assertThrows(LedgerClientException.class, () -> client.submit(client.transactions().transfer(alice, bob, 3),
                    Duration.ofMillis(300)));
            assertEquals(before + 1, client.callsSent(0), "after the cool-down exactly one probe");
            assertEquals(CircuitBreaker.State.OPEN, client.breakerStates().get(0));
            assertTrue(events.containsAll(List.of("0:OPEN", "0:HALF_OPEN")), events.toString());
        }
    }
}
