package bftledger.crypto;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * Measures Ed25519 verifications per second: BouncyCastle's one-at-a-time verification, which
 * defines the benchmark's ceiling (every replica verifies every client signature), and, for
 * comparison, {@link SignatureBatch}, which is how the nodes verify client signatures. Run it with
 * {@code java -cp crypto.jar:bcprov.jar bftledger.crypto.SignatureBenchmark [seconds [forged]]}
 * ({@code forged}: only the single-thread cost of forged and valid signatures); the bench
 * script calls {@link #verificationsPerSecond}. Not a test: numbers come from here, never from
 * timed assertions.
 */
public final class SignatureBenchmark {
    /** Distinct signed messages cycled through; enough that nothing is trivially cached. */
    private static final int DISTINCT_CHECKS = 512;
    /** Signatures per batch in the batch run, about what one submit call or PRE-PREPARE carries. */
    private static final int BATCH = 64;
    /** Distinct signing keys: a batch's signatures are mostly by different keys, as under load. */
    private static final int KEYS = 256;
    private static final int MESSAGE_BYTES = 200;

    private SignatureBenchmark() {}

    public static void main(String[] args) {
        Duration duration = Duration.ofSeconds(args.length > 0 ? Long.parseLong(args[0]) : 3);
        int cores = Runtime.getRuntime().availableProcessors();
        // Warm-up, so the JIT has compiled the verify paths before anything is timed.
        Duration warmUp = Duration.ofMillis(Math.min(1000, duration.toMillis()));
        if (args.length < 2 || !args[1].equals("forged")) {
            verificationsPerSecond(1, warmUp);
            batchVerificationsPerSecond(1, warmUp);
            double single = verificationsPerSecond(1, duration);
            double all = verificationsPerSecond(cores, duration);
            double batchAll = batchVerificationsPerSecond(cores, duration);
            System.out.printf("ed25519 verify, one at a time (BouncyCastle): 1 thread %.0f/s, %d threads %.0f/s%n", single, cores, all);
            System.out.printf("ed25519 verify, batches of %d (SignatureBatch, %d keys): %d threads %.0f/s%n",
                    BATCH, KEYS, cores, batchAll);
        }
        // What a forger costs the verifier, on one thread, in CPU time (which a busy machine
        // disturbs far less than wall time): the figures docs/performance.md compares.
        singleChecksPerCpuSecond(true, warmUp);
        singleChecksPerCpuSecond(false, warmUp);
        forgedBatchesPerCpuSecond(1, warmUp);
        double valid = singleChecksPerCpuSecond(true, duration);
        double invalid = singleChecksPerCpuSecond(false, duration);
        System.out.printf("one valid signature single (SignatureCheck.verify): %.1f us CPU%n", 1e6 / valid);
        System.out.printf("one invalid signature single (SignatureCheck.verify): %.1f us CPU (%.2fx valid)%n",
                1e6 / invalid, valid / invalid);
        for (int forged : FORGED) {
            double batches = forgedBatchesPerCpuSecond(forged, duration);
            System.out.printf("batch of %d with %d forged (SignatureBatch): %.0f us CPU per batch, %.1f us per signature%n",
                    ATTACK_BATCH, forged, 1e6 / batches, 1e6 / batches / ATTACK_BATCH);
        }
    }

    /** Signatures per batch in the forged-batch runs: the most one SignatureBatch chunk holds. */
    private static final int ATTACK_BATCH = SignatureBatch.MAX_BATCH;
    /** Forged signatures per batch of {@value #ATTACK_BATCH}: none, one, a few, one in ten. */
    private static final int[] FORGED = {0, 1, 8, 26};

    /**
     * Batches of {@value #ATTACK_BATCH} signatures by distinct warm keys of which {@code forged}
     * (at fixed pseudo-random places) have a bit of s flipped, so they parse and enter the batch
     * equation: batches per second of this thread's CPU time. Each round checks every verdict.
     */
    public static double forgedBatchesPerCpuSecond(int forged, Duration duration) {
        List<SignatureCheck> checks = signedChecks();
        List<SignatureCheck> batch = new ArrayList<>(checks.subList(0, ATTACK_BATCH));
        boolean[] expected = new boolean[ATTACK_BATCH];
        java.util.Arrays.fill(expected, true);
        java.util.Random places = new java.util.Random(forged);
        for (int done = 0; done < forged; ) {
            int at = places.nextInt(ATTACK_BATCH);
            if (expected[at]) {
                expected[at] = false;
                batch.set(at, forge(batch.get(at)));
                done++;
            }
        }
        return perCpuSecond(duration, () -> {
            if (!java.util.Arrays.equals(expected, SignatureBatch.verify(batch))) {
                throw new IllegalStateException("a forged-batch verdict is wrong");
            }
            return 1;
        });
    }

    /** Single verifications through {@link SignatureCheck#verify} of warm keys' signatures, all valid or all forged: per second of this thread's CPU time. */
    public static double singleChecksPerCpuSecond(boolean valid, Duration duration) {
        List<SignatureCheck> checks = new ArrayList<>(signedChecks());
        if (!valid) {
            checks.replaceAll(SignatureBenchmark::forge);
        }
        return perCpuSecond(duration, () -> {
            int i = java.util.concurrent.ThreadLocalRandom.current().nextInt(checks.size());
            for (int k = 0; k < 64; k++, i++) {
                if (checks.get(i % checks.size()).verify() != valid) {
                    throw new IllegalStateException("a single verdict is wrong");
                }
            }
            return 64;
        });
    }

    /** Runs {@code round} on this thread for about {@code duration} of wall time: rounds' counts per second of the thread's CPU time. */
    private static double perCpuSecond(Duration duration, java.util.function.IntSupplier round) {
        java.lang.management.ThreadMXBean threads = java.lang.management.ManagementFactory.getThreadMXBean();
        long deadline = System.nanoTime() + duration.toNanos();
        long cpuStart = threads.getCurrentThreadCpuTime();
        long done = 0;
        do {
            done += round.getAsInt();
        } while (System.nanoTime() < deadline);
        return done / ((threads.getCurrentThreadCpuTime() - cpuStart) / 1e9);
    }

    /** The signature with one bit of s flipped (well below the top, so s stays below L): invalid, but it parses. */
    private static SignatureCheck forge(SignatureCheck c) {
        byte[] signature = c.signature().clone();
        signature[40] ^= 1;
        return new SignatureCheck(c.key(), c.domain(), c.message(), signature);
    }

    /**
     * BouncyCastle's own Ed25519 verification, one signature at a time, of valid signatures over
     * 200-byte messages for about {@code duration} on {@code threads} threads: verifications per
     * second. This is the figure the benchmark's ceiling is defined by, so it deliberately does
     * not use {@link SignatureBatch}.
     */
    public static double verificationsPerSecond(int threads, Duration duration) {
        List<SignatureCheck> checks = signedChecks();
        return onThreads(threads, duration, () -> {
            int i = java.util.concurrent.ThreadLocalRandom.current().nextInt(checks.size());
            for (int k = 0; k < 64; k++, i++) {
                SignatureCheck c = checks.get(i % checks.size());
                requireValid(c.key().verifyRfc8032(c.domain(), c.message(), c.signature()));
            }
            return 64;
        });
    }

    /** As {@link #verificationsPerSecond}, verifying {@value #BATCH} signatures at a time as one {@link SignatureBatch}. */
    public static double batchVerificationsPerSecond(int threads, Duration duration) {
        List<SignatureCheck> checks = signedChecks();
        List<SignatureCheck> batch = new ArrayList<>(BATCH);
        for (int i = 0; i < BATCH; i++) {
            batch.add(checks.get(i % checks.size()));
        }
        return onThreads(threads, duration, () -> {
            for (boolean verdict : SignatureBatch.verify(batch)) {
                requireValid(verdict);
            }
            return BATCH;
        });
    }

    /** Runs {@code round} on each of {@code threads} threads until {@code duration} passes; rounds' counts per second. */
    private static double onThreads(int threads, Duration duration, java.util.function.IntSupplier round) {
        if (threads < 1 || duration.isNegative() || duration.isZero()) {
            throw new IllegalArgumentException("need at least one thread and a positive duration");
        }
        java.util.concurrent.atomic.AtomicLong verified = new java.util.concurrent.atomic.AtomicLong();
        java.util.concurrent.atomic.AtomicReference<Throwable> failure = new java.util.concurrent.atomic.AtomicReference<>();
        long start = System.nanoTime();
        long deadline = start + duration.toNanos();
        Runnable loop = () -> {
            try {
                long mine = 0;
                do {
                    mine += round.getAsInt();
                } while (System.nanoTime() < deadline);
                verified.addAndGet(mine);
            } catch (Throwable t) {
                failure.compareAndSet(null, t);
            }
        };
        List<Thread> helpers = new ArrayList<>();
        for (int t = 1; t < threads; t++) {
            Thread helper = new Thread(loop, "signature-benchmark-" + t);
            helper.setDaemon(true);
            helper.start();
            helpers.add(helper);
        }
        loop.run();
        for (Thread helper : helpers) {
            try {
                helper.join();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted while measuring", e);
            }
        }
        if (failure.get() != null) {
            throw new IllegalStateException("signature benchmark failed", failure.get());
        }
        return verified.get() / ((System.nanoTime() - start) / 1e9);
    }

    private static List<SignatureCheck> signedChecks() {
        List<KeyPair> keys = new ArrayList<>();
        for (int k = 0; k < KEYS; k++) {
            keys.add(KeyPair.deterministic("bench-" + k));
        }
        List<SignatureCheck> checks = new ArrayList<>(DISTINCT_CHECKS);
        for (int i = 0; i < DISTINCT_CHECKS; i++) {
            KeyPair key = keys.get(i % keys.size());
            byte[] message = new byte[MESSAGE_BYTES];
            byte[] label = ("transaction " + i).getBytes(StandardCharsets.US_ASCII);
            System.arraycopy(label, 0, message, 0, label.length);
            checks.add(new SignatureCheck(key.publicKey(), Domain.TRANSACTION, message, key.sign(Domain.TRANSACTION, message)));
        }
        return checks;
    }

    /** A benchmark that silently measured the rejection path would report nonsense. */
    private static void requireValid(boolean verdict) {
        if (!verdict) {
            throw new IllegalStateException("a benchmark signature did not verify");
        }
    }
}
