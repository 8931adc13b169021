package bftledger.crypto;

import java.security.SecureRandom;
import java.util.Random;
import java.util.function.Consumer;

/**
 * Runs a randomized test body with a seeded generator. The seed is fresh each run unless
 * {@code -Dbftledger.seed=<n>} fixes it, and any failure is rethrown naming the seed to replay.
 */
final class Seeded {
    private Seeded() {}

    static void run(Consumer<Random> body) {
        String fixed = System.getProperty("bftledger.seed");
        long seed = fixed != null ? Long.parseLong(fixed) : new SecureRandom().nextLong();
        try {
            body.accept(new Random(seed));
        } catch (Throwable failure) {
            throw new AssertionError("failed with seed " + seed + " (replay with -Dbftledger.seed=" + seed + ")", failure);
        }
    }
}
