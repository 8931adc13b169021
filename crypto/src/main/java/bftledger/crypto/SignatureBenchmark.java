package bftledger.crypto;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * Measures Ed25519 verifications per second: the figure that bounds the ledger's throughput
 * (every replica verifies every client signature). Run it with
 * {@code java -cp crypto.jar:bcprov.jar bftledger.crypto.SignatureBenchmark [seconds]}; the bench
 * script calls {@link #verificationsPerSecond}. Not a test: numbers come from here, never from
 * timed assertions.
 */
public final class SignatureBenchmark {
    /** Distinct signed messages cycled through; enough that nothing is trivially cached. */
    private static final int DISTINCT_CHECKS = 512;
    /** Checks per verifyAll call in the multi-threaded run, about a consensus batch's worth. */
    private static final int BATCH = 1024;
    private static final int MESSAGE_BYTES = 200;

    private SignatureBenchmark() {}

    public static void main(String[] args) {
        Duration duration = Duration.ofSeconds(args.length > 0 ? Long.parseLong(args[0]) : 3);
        int cores = Runtime.getRuntime().availableProcessors();
        // Warm-up, so the JIT has compiled the verify path before anything is timed.
        verificationsPerSecond(1, Duration.ofMillis(Math.min(1000, duration.toMillis())));
        double single = verificationsPerSecond(1, duration);
        double all = verificationsPerSecond(cores, duration);
        System.out.printf("ed25519 verify: 1 thread %.0f/s, %d threads %.0f/s%n", single, cores, all);
    }

    /**
     * Verifies valid signatures over 200-byte messages for about {@code duration} on
     * {@code threads} threads and returns verifications per second. One thread verifies in the
     * calling thread; more use a {@link ParallelVerifier} with {@code threads - 1} pool threads
     * plus the caller, which works alongside the pool in {@code verifyAll}.
     */
    public static double verificationsPerSecond(int threads, Duration duration) {
        if (threads < 1 || duration.isNegative() || duration.isZero()) {
            throw new IllegalArgumentException("need at least one thread and a positive duration");
        }
        List<SignatureCheck> checks = signedChecks();
        List<SignatureCheck> batch = new ArrayList<>(BATCH);
        for (int i = 0; i < BATCH; i++) {
            batch.add(checks.get(i % checks.size()));
        }
        long deadline = System.nanoTime() + duration.toNanos();
        long start = System.nanoTime();
        long verified = 0;
        if (threads == 1) {
            int i = 0;
            do {
                for (int k = 0; k < 64; k++, i++) {
                    requireValid(checks.get(i % checks.size()).verify());
                }
                verified += 64;
            } while (System.nanoTime() < deadline);
        } else {
            try (ParallelVerifier verifier = new ParallelVerifier(threads - 1, threads * 4)) {
                do {
                    for (boolean verdict : verifier.verifyAll(batch)) {
                        requireValid(verdict);
                    }
                    verified += batch.size();
                } while (System.nanoTime() < deadline);
            }
        }
        double seconds = (System.nanoTime() - start) / 1e9;
        return verified / seconds;
    }

    private static List<SignatureCheck> signedChecks() {
        List<KeyPair> keys = new ArrayList<>();
        for (int k = 0; k < 16; k++) {
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
