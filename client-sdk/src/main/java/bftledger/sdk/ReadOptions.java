package bftledger.sdk;

import java.time.Duration;

/**
 * How a read is asked. Any replica's answer is taken once its proof verifies; these options say
 * from which height on ({@code minHeight}: a client that saw height H never accepts an older
 * state), of which replica ({@code replica}, or {@link #ANY}), whether to ask f+1 replicas and
 * take the highest proven height ({@code freshest}: freshness, not truth, is what more answers
 * buy), and how long a replica may hold the call for a block's certification or for
 * {@code minHeight} ({@code replicaWait}).
 */
public record ReadOptions(long minHeight, int replica, boolean freshest, Duration replicaWait) {
    public static final int ANY = -1;

    public ReadOptions {
        if (minHeight < 0 || replica < ANY || replicaWait.isNegative()) {
            throw new IllegalArgumentException("negative height, replica or wait");
        }
    }

    public static ReadOptions defaults() {
        return new ReadOptions(0, ANY, false, Duration.ofSeconds(2));
    }

    public ReadOptions atLeast(long height) {
        return new ReadOptions(height, replica, freshest, replicaWait);
    }

    /** Asks only {@code replica}; its answer is still taken only when its proof verifies. */
    public ReadOptions onlyReplica(int replica) {
        return new ReadOptions(minHeight, replica, freshest, replicaWait);
    }

    public ReadOptions freshest(boolean freshest) {
        return new ReadOptions(minHeight, replica, freshest, replicaWait);
    }

    public ReadOptions withReplicaWait(Duration wait) {
        return new ReadOptions(minHeight, replica, freshest, wait);
    }

    int replicaWaitMillis() {
        return (int) Math.min(Integer.MAX_VALUE, replicaWait.toMillis());
    }
}
