package bftledger.crypto;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import org.junit.jupiter.api.Test;

class ParallelVerifierTest {
    private static final List<KeyPair> KEYS = List.of(
            KeyPair.deterministic("pv-0"), KeyPair.deterministic("pv-1"), KeyPair.deterministic("pv-2"));

    /** A batch of checks with a known verdict each, mixing every way a signature can be wrong. */
    private record Batch(List<SignatureCheck> checks, boolean[] expected) {}

    private static Batch mixedBatch(Random random, int count) {
        List<SignatureCheck> checks = new ArrayList<>(count);
        boolean[] expected = new boolean[count];
        for (int i = 0; i < count; i++) {
            KeyPair signer = KEYS.get(random.nextInt(KEYS.size()));
            Domain domain = Domain.values()[random.nextInt(Domain.values().length)];
            byte[] message = ("message " + i + " " + random.nextLong()).getBytes(StandardCharsets.UTF_8);
            byte[] signature = signer.sign(domain, message);
            PublicKey key = signer.publicKey();
            int kind = random.nextInt(7);
            switch (kind) {
                case 0, 1 -> expected[i] = true;
                case 2 -> message[random.nextInt(message.length)] ^= 1;
                case 3 -> signature[random.nextInt(signature.length)] ^= (byte) (1 << random.nextInt(8));
                case 4 -> domain = Domain.values()[(domain.ordinal() + 1) % Domain.values().length];
                case 5 -> key = KEYS.get((KEYS.indexOf(signer) + 1) % KEYS.size()).publicKey();
                default -> signature = java.util.Arrays.copyOf(signature, random.nextInt(Signature.LENGTH));
            }
            checks.add(new SignatureCheck(key, domain, message, signature));
        }
        return new Batch(checks, expected);
    }

    @Test
    void mixedBatchGivesExactlyTheRightVerdicts() {
        Seeded.run(random -> {
            Batch batch = mixedBatch(random, 200 + random.nextInt(200));
            try (ParallelVerifier verifier = new ParallelVerifier(2, 16)) {
                assertArrayEquals(batch.expected(), verifier.verifyAll(batch.checks()));
                assertArrayEquals(batch.expected(), verifier.verifyAll(new java.util.LinkedList<>(batch.checks())));
                List<CompletableFuture<Boolean>> futures = batch.checks().stream().map(verifier::submit).toList();
                for (int i = 0; i < futures.size(); i++) {
                    assertEquals(batch.expected()[i], futures.get(i).join(), "check " + i);
                }
            }
            for (int i = 0; i < batch.checks().size(); i++) {
                assertEquals(batch.expected()[i], batch.checks().get(i).verify(), "check " + i + " on its own");
            }
        });
    }

    @Test
    void largeBatchIsAFewTasksNotOnePerCheck() {
        Seeded.run(random -> {
            Batch batch = mixedBatch(random, 3000);
            try (ParallelVerifier verifier = new ParallelVerifier(2, 64)) {
                long before = verifier.pooledTaskCount();
                assertArrayEquals(batch.expected(), verifier.verifyAll(batch.checks()));
                long tasks = verifier.pooledTaskCount() - before;
                assertTrue(tasks <= verifier.threads(), "3000 checks became " + tasks + " pool tasks");
            }
        });
    }

    @Test
    void emptyAndTinyBatches() {
        try (ParallelVerifier verifier = new ParallelVerifier(1, 1)) {
            assertEquals(0, verifier.verifyAll(List.of()).length);
            KeyPair key = KEYS.get(0);
            byte[] message = {1, 2, 3};
            SignatureCheck good = new SignatureCheck(key.publicKey(), Domain.REQUEST, message, key.sign(Domain.REQUEST, message));
            assertArrayEquals(new boolean[] {true}, verifier.verifyAll(List.of(good)));
        }
    }

    @Test
    void fullQueueRunsTheWorkOnTheCaller() throws Exception {
        Batch batch = mixedBatch(new Random(7), 100);
        try (ParallelVerifier verifier = new ParallelVerifier(1, 1)) {
            CountDownLatch started = new CountDownLatch(1);
            CountDownLatch release = new CountDownLatch(1);
            assertTrue(verifier.tryExecute(() -> {
                started.countDown();
                awaitQuietly(release);
            }));
            started.await();
            assertTrue(verifier.tryExecute(() -> awaitQuietly(release)), "fills the one queue slot");

            CompletableFuture<Boolean> verdict = verifier.submit(batch.checks().get(0));
            assertTrue(verdict.isDone(), "ran on the caller, not queued");
            assertEquals(batch.expected()[0], verdict.join());
            assertEquals(1, verifier.callerRuns());
            // With the only thread busy and the queue full, a whole batch still completes.
            assertArrayEquals(batch.expected(), verifier.verifyAll(batch.checks()));
            release.countDown();
        }
    }

    @Test
    void batchDoesNotWaitForHelpersStuckInTheQueue() throws Exception {
        Batch batch = mixedBatch(new Random(11), 200);
        try (ParallelVerifier verifier = new ParallelVerifier(1, 4)) {
            CountDownLatch started = new CountDownLatch(1);
            CountDownLatch release = new CountDownLatch(1);
            verifier.tryExecute(() -> {
                started.countDown();
                awaitQuietly(release);
            });
            started.await();
            // The helper task is queued behind the blocked one; the caller claims every chunk.
            assertArrayEquals(batch.expected(), verifier.verifyAll(batch.checks()));
            assertEquals(1, verifier.queueDepth());
            release.countDown();
        }
    }

    @Test
    void closedVerifierRefusesWorkButFinishesAcceptedWork() {
        Batch batch = mixedBatch(new Random(3), 50);
        ParallelVerifier verifier = new ParallelVerifier(2, 64);
        List<CompletableFuture<Boolean>> accepted = batch.checks().stream().map(verifier::submit).toList();
        verifier.close();
        for (int i = 0; i < accepted.size(); i++) {
            assertEquals(batch.expected()[i], accepted.get(i).join());
        }
        assertThrows(IllegalStateException.class, () -> verifier.submit(batch.checks().get(0)));
        assertThrows(IllegalStateException.class, () -> verifier.verifyAll(batch.checks()));
        verifier.close();
    }

    @Test
    void invalidArgumentsAreRefused() {
        assertThrows(IllegalArgumentException.class, () -> new ParallelVerifier(0, 1));
        assertThrows(IllegalArgumentException.class, () -> new ParallelVerifier(1, 0));
        PublicKey key = KEYS.get(0).publicKey();
        assertThrows(IllegalArgumentException.class, () -> new SignatureCheck(null, Domain.COMMIT, new byte[0], new byte[64]));
        assertThrows(IllegalArgumentException.class, () -> new SignatureCheck(key, null, new byte[0], new byte[64]));
        assertThrows(IllegalArgumentException.class, () -> new SignatureCheck(key, Domain.COMMIT, null, new byte[64]));
        assertThrows(IllegalArgumentException.class, () -> new SignatureCheck(key, Domain.COMMIT, new byte[0], null));
    }

    private static void awaitQuietly(CountDownLatch latch) {
        try {
            latch.await();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
