package bftledger.node.edge;

/**
 * Bounds on what clients may ask of one replica. Each lane has its own in-flight cap; a call
 * beyond it is refused at once with RESOURCE_EXHAUSTED and a retry-after hint, so no queue
 * grows with the offered load.
 *
 * @param submitInFlightMax     submissions admitted and not yet answered (each holds a waiter)
 * @param queryInFlightMax      reads and status calls being served
 * @param peerStreamsMax        peer transport streams open (authenticated or not yet)
 * @param catchUpInFlightMax    block fetches being served to catching-up peers
 * @param laneQueueMax          tasks waiting for a client or catch-up lane's threads; a new call
 *                              arriving at a longer queue is refused (the lane is behind: taking
 *                              more work would only make every caller wait longer)
 * @param addressRatePerSecond  client calls per second per remote IP address (submissions and reads)
 * @param addressBurst          burst of the same
 * @param senderRatePerSecond   submissions per second per sender key, counted after the signature verifies
 * @param senderBurst           burst of the same
 * @param badSignatureRatePerSecond  submissions with a bad signature forgiven per second per remote
 *                              IP address; an address with none left is refused before anything
 *                              it sends is parsed or verified, until one comes back
 * @param badSignatureBurst     how many bad signatures an address may send before that
 * @param rateKeysMax           buckets remembered per limiter (least recently used evicted)
 * @param shedRetryAfterMillis  retry-after hint when an in-flight cap is reached
 */
public record AdmissionLimits(int submitInFlightMax, int queryInFlightMax, int peerStreamsMax, int catchUpInFlightMax, int laneQueueMax,
                              long addressRatePerSecond, long addressBurst, long senderRatePerSecond, long senderBurst,
                              long badSignatureRatePerSecond, long badSignatureBurst, int rateKeysMax,
                              long shedRetryAfterMillis) {
    public AdmissionLimits {
        if (submitInFlightMax < 1 || queryInFlightMax < 1 || peerStreamsMax < 1 || catchUpInFlightMax < 1 || laneQueueMax < 1
                || addressRatePerSecond < 1 || addressBurst < 1 || senderRatePerSecond < 1 || senderBurst < 1
                || badSignatureRatePerSecond < 1 || badSignatureBurst < 1 || rateKeysMax < 1 || shedRetryAfterMillis < 0) {
            throw new IllegalArgumentException("admission limits must be positive: " + this);
        }
    }

    /**
     * Defaults for an n-replica network whose submit waiters are capped at {@code waitersMax}.
     * The per-address rate is generous because many honest clients may share one NAT address
     * (and tests run everything on loopback); the per-sender rate is the one that stops one
     * flooding account. An honest client never sends a bad signature, so an address gets a few
     * (a client with a broken key sees its rejections) and then one a second: a forger's
     * transactions then cost a replica a refused call each, not a verification and a signed
     * rejection (bench.sh --fault forged-signatures).
     */
    public static AdmissionLimits defaults(int n, int waitersMax) {
        return new AdmissionLimits(waitersMax, 512, 4 * n, 2 * n, 256, 5_000, 10_000, 500, 1_000, 1, 32, 10_000, 250);
    }
}
