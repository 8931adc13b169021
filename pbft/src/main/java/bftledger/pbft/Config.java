package bftledger.pbft;

import bftledger.crypto.Digest;
import bftledger.crypto.KeyPair;
import bftledger.crypto.PublicKey;
import java.util.List;

/**
 * Everything a replica's core needs, fixed at construction. Every quantity a peer or a client
 * can grow has a bound here, and the class comment of {@link Replica} says what happens at each.
 *
 * @param validators public keys in replica order; replica {@code i} signs with {@code validators.get(i)}
 * @param replicaId this replica's index into {@code validators}
 * @param key this replica's signing key (its public key must be {@code validators.get(replicaId)})
 * @param checkpointInterval K: a checkpoint is taken after every K-th sequence number
 * @param watermarkWindow L: sequence numbers accepted are {@code (h, h+L]}; a multiple of K
 * @param batchCountMax most requests in one batch
 * @param batchBytesMax most request payload bytes in one batch
 * @param requestBytesMax most payload bytes in one request
 * @param pipelineDepthMax most batches the primary has proposed but not yet seen committed here;
 *     while the pipeline is full requests wait, which is what makes batches fill under load
 * @param requestTimeoutTicks ticks a backup waits for a pending request to execute before it
 *     suspects the primary
 * @param viewChangeTimeoutTicks ticks a replica waits for NEW-VIEW once a quorum of replicas sent
 *     VIEW-CHANGEs for its view or higher (also the interval at which it re-sends its own VIEW-CHANGE);
 *     doubled after each consecutive failed view change, up to {@code timeoutDoublingsMax} times
 * @param timeoutDoublingsMax cap on the doublings so a timeout cannot overflow
 * @param futureBufferPerReplicaMax most buffered future messages held per sender; a full sender
 *     has its newest message dropped (and reported), so one Byzantine peer cannot evict others'
 * @param pendingRequestsMax most client requests held waiting to be ordered; beyond it new
 *     requests are rejected (the client retries)
 * @param viewChangeAheadMax VIEW-CHANGEs are kept only for views up to current + this bound
 * @param checkpointsAheadPerReplicaMax CHECKPOINTs above the window are kept only this many per
 *     sender (the highest), enough to notice that the others moved on
 * @param genesisDigest the checkpoint digest at {@code startSequence}: the stable checkpoint this
 *     core starts from, with no proof (at 0, the genesis: nothing executed)
 * @param statusTicks every this many ticks a replica broadcasts a STATUS; peers answer it (at
 *     most once per period per peer) with the messages it is missing, which is how lost
 *     messages are recovered (there is no other retransmission)
 * @param primarySilenceTicks 0 (off), or: a backup whose request timer runs and that received
 *     no message from the primary for this many consecutive ticks, while its node says it hears
 *     q-1 others, suspects the primary at once instead of waiting out the request timeout. A
 *     live primary with requests to order sends all the time; a crashed, paused or cut-off one
 *     falls silent. Only while no view change failed since the last execution (otherwise the doubled
 *     request timeout governs), so a slow network cannot make it churn views.
 * @param anchorIdleTicks 0 (off), or: a primary with nothing to order, whose latest executed
 *     batch carried requests that no later batch's anchor has certified yet, proposes an empty
 *     batch anchoring it after this many idle ticks, so that the proof of a transaction never
 *     waits for the next client's request
 * @param startSequence the sequence this core starts after (a multiple of K): its first stable
 *     checkpoint, so it orders from {@code startSequence + 1}; 0 for the first validator set, the
 *     last sequence of the previous epoch for a later one
 * @param startView the view this core starts in; messages of lower views belong to an earlier
 *     epoch and are dropped as old (the node uses {@code epoch << 32}, so views keep rising)
 */
public record Config(
        List<PublicKey> validators,
        int replicaId,
        KeyPair key,
        int checkpointInterval,
        int watermarkWindow,
        int batchCountMax,
        int batchBytesMax,
        int requestBytesMax,
        int pipelineDepthMax,
        int requestTimeoutTicks,
        int viewChangeTimeoutTicks,
        int timeoutDoublingsMax,
        int futureBufferPerReplicaMax,
        int pendingRequestsMax,
        int viewChangeAheadMax,
        int checkpointsAheadPerReplicaMax,
        Digest genesisDigest,
        int statusTicks,
        int primarySilenceTicks,
        int anchorIdleTicks,
        long startSequence,
        long startView) {

    /** Envelope overhead: type u8, signer u32, payload length u32, signature. */
    public static final int ENVELOPE_BYTES = 1 + 4 + 4 + bftledger.crypto.Signature.LENGTH;

    public Config {
        validators = List.copyOf(validators);
        int n = validators.size();
        if (n < 4) {
            throw new IllegalArgumentException("PBFT needs n >= 4 replicas (n >= 3f+1 with f >= 1), got " + n);
        }
        if (replicaId < 0 || replicaId >= n) {
            throw new IllegalArgumentException("replica id " + replicaId + " outside 0.." + (n - 1));
        }
        if (key != null && !key.publicKey().equals(validators.get(replicaId))) {
            throw new IllegalArgumentException("key does not belong to replica " + replicaId);
        }
        if (checkpointInterval < 1 || watermarkWindow < checkpointInterval || watermarkWindow % checkpointInterval != 0) {
            throw new IllegalArgumentException("need K >= 1 and L a positive multiple of K");
        }
        if (batchCountMax < 1 || batchBytesMax < 1 || requestBytesMax < 1 || requestBytesMax > batchBytesMax) {
            throw new IllegalArgumentException("batch and request bounds must be positive, request <= batch");
        }
        if (pipelineDepthMax < 1 || pipelineDepthMax > watermarkWindow) {
            throw new IllegalArgumentException("pipeline depth must be in 1..L");
        }
        if (requestTimeoutTicks < 1 || viewChangeTimeoutTicks < 1 || timeoutDoublingsMax < 0 || timeoutDoublingsMax > 20) {
            throw new IllegalArgumentException("timeouts must be positive, doublings in 0..20");
        }
        if (futureBufferPerReplicaMax < 0 || pendingRequestsMax < 1 || viewChangeAheadMax < 1 || checkpointsAheadPerReplicaMax < 1) {
            throw new IllegalArgumentException("buffer bounds out of range");
        }
        if (genesisDigest == null) {
            throw new IllegalArgumentException("genesis digest required");
        }
        if (statusTicks < 1) {
            throw new IllegalArgumentException("status period must be at least one tick");
        }
        if (primarySilenceTicks < 0) {
            throw new IllegalArgumentException("primary silence ticks must be 0 (off) or positive");
        }
        if (anchorIdleTicks < 0) {
            throw new IllegalArgumentException("anchor idle ticks must be 0 (off) or positive");
        }
        if (startSequence < 0 || startSequence % checkpointInterval != 0 || startView < 0) {
            throw new IllegalArgumentException("start (" + startSequence + ", view " + startView
                    + ") must be a checkpoint sequence and a view, both >= 0");
        }
    }

    /** The shape before epochs: a core that starts at sequence 0 in view 0. */
    public Config(List<PublicKey> validators, int replicaId, KeyPair key, int checkpointInterval, int watermarkWindow,
            int batchCountMax, int batchBytesMax, int requestBytesMax, int pipelineDepthMax, int requestTimeoutTicks,
            int viewChangeTimeoutTicks, int timeoutDoublingsMax, int futureBufferPerReplicaMax, int pendingRequestsMax,
            int viewChangeAheadMax, int checkpointsAheadPerReplicaMax, Digest genesisDigest, int statusTicks,
            int primarySilenceTicks, int anchorIdleTicks) {
        this(validators, replicaId, key, checkpointInterval, watermarkWindow, batchCountMax, batchBytesMax,
                requestBytesMax, pipelineDepthMax, requestTimeoutTicks, viewChangeTimeoutTicks, timeoutDoublingsMax,
                futureBufferPerReplicaMax, pendingRequestsMax, viewChangeAheadMax, checkpointsAheadPerReplicaMax,
                genesisDigest, statusTicks, primarySilenceTicks, anchorIdleTicks, 0, 0);
    }

    /** The first published shape, kept for callers written against it: status every 50 ticks. */
    public Config(List<PublicKey> validators, int replicaId, KeyPair key, int checkpointInterval, int watermarkWindow,
            int batchCountMax, int batchBytesMax, int requestBytesMax, int pipelineDepthMax, int requestTimeoutTicks,
            int viewChangeTimeoutTicks, int timeoutDoublingsMax, int futureBufferPerReplicaMax, int pendingRequestsMax,
            int viewChangeAheadMax, int checkpointsAheadPerReplicaMax, Digest genesisDigest) {
        this(validators, replicaId, key, checkpointInterval, watermarkWindow, batchCountMax, batchBytesMax,
                requestBytesMax, pipelineDepthMax, requestTimeoutTicks, viewChangeTimeoutTicks, timeoutDoublingsMax,
                futureBufferPerReplicaMax, pendingRequestsMax, viewChangeAheadMax, checkpointsAheadPerReplicaMax,
                genesisDigest, DEFAULT_STATUS_TICKS, 0, 0);
    }

    public static final int DEFAULT_STATUS_TICKS = 50;

    /** Defaults sized for a small ledger network; change one with the {@code with...} copies. */
    public static Config of(List<PublicKey> validators, int replicaId, KeyPair key) {
        return new Config(validators, replicaId, key,
                16, 32, 256, 256 * 1024, 16 * 1024, 4,
                200, 200, 6,
                64, 10_000, 4, 4, Digest.ZERO);
    }

    public int n() {
        return validators.size();
    }

    public int f() {
        return (validators.size() - 1) / 3;
    }

    /**
     * q = ceil((n+f+1)/2): committed, stable checkpoint, VIEW-CHANGE set of a NEW-VIEW, and the
     * replicas behind a prepared certificate. Any two quorums share 2q-n >= f+1 replicas, so at
     * least one correct replica, which never votes for two things in one slot; and q <= n-f, so
     * the correct replicas alone form one. 2f+1 when n = 3f+1 (see QuorumTest).
     */
    public int quorum() {
        return (n() + f() + 2) / 2;
    }

    /**
     * q-1: matching PREPAREs from distinct backups that, with the primary's PRE-PREPARE, make a
     * slot prepared; the primary does not prepare, so together they are q replicas.
     */
    public int preparedQuorum() {
        return quorum() - 1;
    }

    /** f+1: at least one correct replica among them. */
    public int weakQuorum() {
        return f() + 1;
    }

    public int primary(long view) {
        return (int) Math.floorMod(view, (long) n());
    }

    public Config withReplica(int id, KeyPair key) {
        return new Config(validators, id, key, checkpointInterval, watermarkWindow, batchCountMax, batchBytesMax,
                requestBytesMax, pipelineDepthMax, requestTimeoutTicks, viewChangeTimeoutTicks, timeoutDoublingsMax,
                futureBufferPerReplicaMax, pendingRequestsMax, viewChangeAheadMax, checkpointsAheadPerReplicaMax,
                genesisDigest, statusTicks, primarySilenceTicks, anchorIdleTicks, startSequence, startView);
    }

    public Config withCheckpoints(int interval, int window) {
        return new Config(validators, replicaId, key, interval, window, batchCountMax, batchBytesMax,
                requestBytesMax, Math.min(pipelineDepthMax, window), requestTimeoutTicks, viewChangeTimeoutTicks,
                timeoutDoublingsMax, futureBufferPerReplicaMax, pendingRequestsMax, viewChangeAheadMax,
                checkpointsAheadPerReplicaMax, genesisDigest, statusTicks, primarySilenceTicks, anchorIdleTicks,
                startSequence, startView);
    }

    public Config withBatching(int countMax, int bytesMax, int requestMax, int pipelineDepth) {
        return new Config(validators, replicaId, key, checkpointInterval, watermarkWindow, countMax, bytesMax,
                requestMax, pipelineDepth, requestTimeoutTicks, viewChangeTimeoutTicks, timeoutDoublingsMax,
                futureBufferPerReplicaMax, pendingRequestsMax, viewChangeAheadMax, checkpointsAheadPerReplicaMax,
                genesisDigest, statusTicks, primarySilenceTicks, anchorIdleTicks, startSequence, startView);
    }

    public Config withTimeouts(int requestTicks, int viewChangeTicks, int doublingsMax) {
        return new Config(validators, replicaId, key, checkpointInterval, watermarkWindow, batchCountMax, batchBytesMax,
                requestBytesMax, pipelineDepthMax, requestTicks, viewChangeTicks, doublingsMax,
                futureBufferPerReplicaMax, pendingRequestsMax, viewChangeAheadMax, checkpointsAheadPerReplicaMax,
                genesisDigest, statusTicks, primarySilenceTicks, anchorIdleTicks, startSequence, startView);
    }

    public Config withBuffers(int futurePerReplica, int pendingRequests, int viewChangeAhead, int checkpointsAhead) {
        return new Config(validators, replicaId, key, checkpointInterval, watermarkWindow, batchCountMax, batchBytesMax,
                requestBytesMax, pipelineDepthMax, requestTimeoutTicks, viewChangeTimeoutTicks, timeoutDoublingsMax,
                futurePerReplica, pendingRequests, viewChangeAhead, checkpointsAhead, genesisDigest, statusTicks,
                primarySilenceTicks, anchorIdleTicks, startSequence, startView);
    }

    public Config withStatusTicks(int ticks) {
        return new Config(validators, replicaId, key, checkpointInterval, watermarkWindow, batchCountMax, batchBytesMax,
                requestBytesMax, pipelineDepthMax, requestTimeoutTicks, viewChangeTimeoutTicks, timeoutDoublingsMax,
                futureBufferPerReplicaMax, pendingRequestsMax, viewChangeAheadMax, checkpointsAheadPerReplicaMax,
                genesisDigest, ticks, primarySilenceTicks, anchorIdleTicks, startSequence, startView);
    }

    public Config withPrimarySilence(int ticks) {
        return new Config(validators, replicaId, key, checkpointInterval, watermarkWindow, batchCountMax, batchBytesMax,
                requestBytesMax, pipelineDepthMax, requestTimeoutTicks, viewChangeTimeoutTicks, timeoutDoublingsMax,
                futureBufferPerReplicaMax, pendingRequestsMax, viewChangeAheadMax, checkpointsAheadPerReplicaMax,
                genesisDigest, statusTicks, ticks, anchorIdleTicks, startSequence, startView);
    }

    public Config withAnchorIdle(int ticks) {
        return new Config(validators, replicaId, key, checkpointInterval, watermarkWindow, batchCountMax, batchBytesMax,
                requestBytesMax, pipelineDepthMax, requestTimeoutTicks, viewChangeTimeoutTicks, timeoutDoublingsMax,
                futureBufferPerReplicaMax, pendingRequestsMax, viewChangeAheadMax, checkpointsAheadPerReplicaMax,
                genesisDigest, statusTicks, primarySilenceTicks, ticks, startSequence, startView);
    }

    public Config withGenesisDigest(Digest genesis) {
        return new Config(validators, replicaId, key, checkpointInterval, watermarkWindow, batchCountMax, batchBytesMax,
                requestBytesMax, pipelineDepthMax, requestTimeoutTicks, viewChangeTimeoutTicks, timeoutDoublingsMax,
                futureBufferPerReplicaMax, pendingRequestsMax, viewChangeAheadMax, checkpointsAheadPerReplicaMax, genesis, statusTicks, primarySilenceTicks, anchorIdleTicks,
                startSequence, startView);
    }

    /**
     * This core starts after {@code sequence} in {@code view}, from the checkpoint {@code digest}
     * there: the first core of a new validator set, whose first sequence is {@code sequence + 1}.
     */
    public Config withStart(long sequence, long view, Digest digest) {
        return new Config(validators, replicaId, key, checkpointInterval, watermarkWindow, batchCountMax, batchBytesMax,
                requestBytesMax, pipelineDepthMax, requestTimeoutTicks, viewChangeTimeoutTicks, timeoutDoublingsMax,
                futureBufferPerReplicaMax, pendingRequestsMax, viewChangeAheadMax, checkpointsAheadPerReplicaMax, digest,
                statusTicks, primarySilenceTicks, anchorIdleTicks, sequence, view);
    }

    // Size bounds per message type, derived from the batch bounds and the window, so a decoder
    // can refuse an oversized message before parsing it.

    public long prePrepareBytesMax() {
        return ENVELOPE_BYTES + 8 + 8 + 8 + 8 + 32 + 4 + (long) batchCountMax * (32 + 4) + batchBytesMax;
    }

    public long voteBytesMax() {
        return ENVELOPE_BYTES + bftledger.crypto.CommitVote.ENCODED_LENGTH;
    }

    public long checkpointBytesMax() {
        return ENVELOPE_BYTES + 8 + 32 + 4;
    }

    public long statusBytesMax() {
        return ENVELOPE_BYTES + 8 + 1 + 8 + 8 + 4;
    }

    public long preparedCertificateBytesMax() {
        return 4 + prePrepareBytesMax() + 4 + (long) preparedQuorum() * (4 + voteBytesMax());
    }

    public long viewChangeBytesMax() {
        return ENVELOPE_BYTES + 8 + 8 + 32 + 4 + 4 + (long) quorum() * (4 + checkpointBytesMax())
                + 4 + (long) watermarkWindow * preparedCertificateBytesMax();
    }

    public long newViewBytesMax() {
        return ENVELOPE_BYTES + 8 + 4 + (long) quorum() * (4 + viewChangeBytesMax())
                + 4 + (long) watermarkWindow * (4 + prePrepareBytesMax());
    }

    /** The largest message of any type; a transport may refuse frames above it unread. */
    public long messageBytesMax() {
        return Math.max(newViewBytesMax(), viewChangeBytesMax());
    }
}
