package bftledger.pbft;

import bftledger.crypto.Digest;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Checkpoints (4.3): this replica's own, every replica's votes within their bounds, the stable
 * checkpoint and its proof (which set the low watermark h), and the state this replica decided
 * to fetch. It decides; {@link Replica} carries the decisions out (garbage collection, outputs).
 */
final class Checkpoints {
    private final Config config;
    private final int self;
    private long lowWatermark;
    private Digest stableDigest;
    private List<Signed<Checkpoint>> stableProof = List.of();
    private final TreeMap<Long, Digest> own = new TreeMap<>();
    private final TreeMap<Long, Signed<Checkpoint>> ownMessages = new TreeMap<>();
    private final TreeMap<Integer, TreeMap<Long, Signed<Checkpoint>>> votes = new TreeMap<>();
    /** The sequence whose state this replica asked for, until that state arrives; -1 for none. */
    private long stateTransferTarget = -1;

    /** What a recorded vote decided (see {@link #vote}). */
    sealed interface Decision {}

    /** Nothing yet. */
    record Wait() implements Decision {}

    /** A quorum of matching votes: the checkpoint at {@code sequence} is stable, {@code proof} proves it. */
    record Stable(long sequence, Digest digest, List<Signed<Checkpoint>> proof) implements Decision {}

    /** f+1 matching votes ahead of this replica: fetch that state (the target is set already). */
    record Fetch(Output.StateTransferRequest request) implements Decision {}

    Checkpoints(Config config) {
        this.config = config;
        this.self = config.replicaId();
        // The epoch starts from a checkpoint every replica of it derives from the same ledger.
        this.lowWatermark = config.startSequence();
        this.stableDigest = config.genesisDigest();
    }

    long lowWatermark() {
        return lowWatermark;
    }

    long highWatermark() {
        return lowWatermark + config.watermarkWindow();
    }

    Digest stableDigest() {
        return stableDigest;
    }

    List<Signed<Checkpoint>> stableProof() {
        return stableProof;
    }

    long stateTransferTarget() {
        return stateTransferTarget;
    }

    /** This replica's own checkpoint digest at {@code sequence}, or null. */
    Digest own(long sequence) {
        return own.get(sequence);
    }

    void recordOwn(Signed<Checkpoint> c) {
        own.put(c.payload().sequence(), c.payload().stateDigest());
        ownMessages.put(c.payload().sequence(), c);
    }

    /** Own CHECKPOINT messages above {@code sequence}, in order (what a STATUS answer relays). */
    Collection<Signed<Checkpoint>> ownMessagesAbove(long sequence) {
        return ownMessages.tailMap(sequence, false).values();
    }

    /** The vote {@code signer} already cast for {@code sequence}, or null. */
    Signed<Checkpoint> voteOf(int signer, long sequence) {
        return votes.getOrDefault(signer, new TreeMap<>()).get(sequence);
    }

    /**
     * Keeps each sender's checkpoints above h, at most L/K inside the window plus
     * {@link Config#checkpointsAheadPerReplicaMax()} beyond it (its highest), then looks for a
     * quorum matching: a stable checkpoint, possibly beyond what this replica executed.
     */
    Decision vote(Signed<Checkpoint> m, long lastDelivered, boolean viewActive) {
        TreeMap<Long, Signed<Checkpoint>> fromSender = votes.computeIfAbsent(m.signer(), k -> new TreeMap<>());
        fromSender.put(m.payload().sequence(), m);
        // Beyond the window keep only the sender's highest few; never evict its in-window votes
        // for that (a replica far ahead, or a flooding one, would otherwise push out the votes
        // that can still make a checkpoint in our window stable). In-window votes are at most
        // L/K, since votes at or below h are refused and garbage-collected.
        var beyond = fromSender.tailMap(highWatermark(), false);
        while (beyond.size() > config.checkpointsAheadPerReplicaMax()) {
            beyond.pollFirstEntry();
        }
        while (fromSender.size() > votesPerReplicaMax()) {
            fromSender.pollFirstEntry();
        }
        Checkpoint c = m.payload();
        List<Signed<Checkpoint>> matching = new ArrayList<>();
        for (TreeMap<Long, Signed<Checkpoint>> perReplica : votes.values()) {
            Signed<Checkpoint> v = perReplica.get(c.sequence());
            if (v != null && v.payload().stateDigest().equals(c.stateDigest())) {
                matching.add(v);
            }
        }
        if (matching.size() >= config.quorum()) {
            return new Stable(c.sequence(), c.stateDigest(), matching.subList(0, config.quorum()));
        } else if (matching.size() >= config.weakQuorum() && c.sequence() > lastDelivered
                && c.sequence() > stateTransferTarget && (c.sequence() > highWatermark() || !viewActive)) {
            // f+1 replicas (one of them correct) executed past our window, or past us while we
            // cannot order anything ourselves: fetch that state instead of waiting. The checkpoint
            // does not become stable here; our own CHECKPOINT after the transfer may make it so.
            stateTransferTarget = c.sequence();
            return new Fetch(new Output.StateTransferRequest(c.sequence(), c.stateDigest(), matching));
        }
        return new Wait();
    }

    private int votesPerReplicaMax() {
        return config.watermarkWindow() / config.checkpointInterval() + config.checkpointsAheadPerReplicaMax();
    }

    /** Moves h up to a stable checkpoint; false (and nothing changes) when it is not above h. */
    boolean advance(long sequence, Digest digest, List<Signed<Checkpoint>> proof) {
        if (sequence <= lowWatermark) {
            return false;
        }
        lowWatermark = sequence;
        stableDigest = digest;
        stableProof = List.copyOf(proof);
        return true;
    }

    /** The request for the stable checkpoint's state; it stays the target until it arrives. */
    Output.StateTransferRequest fetchStable() {
        stateTransferTarget = Math.max(stateTransferTarget, lowWatermark);
        return new Output.StateTransferRequest(lowWatermark, stableDigest, stableProof);
    }

    /** State up to {@code sequence} arrived. */
    void transferred(long sequence) {
        if (stateTransferTarget <= sequence) {
            stateTransferTarget = -1;
        }
    }

    /** State this replica did not execute itself is needed before it can execute anything more. */
    boolean awaitingState(long lastExecuted) {
        return lastExecuted < lowWatermark || (stateTransferTarget >= 0 && lastExecuted < stateTransferTarget);
    }

    /** Other replicas whose highest vote is above {@code sequence}. */
    int othersAbove(long sequence) {
        int ahead = 0;
        for (Map.Entry<Integer, TreeMap<Long, Signed<Checkpoint>>> e : votes.entrySet()) {
            if (e.getKey() != self && !e.getValue().isEmpty() && e.getValue().lastKey() > sequence) {
                ahead++;
            }
        }
        return ahead;
    }

    /** Discards what the stable checkpoint h makes useless; own checkpoints at h stay, for STATUS answers. */
    void collectGarbage() {
        long h = lowWatermark;
        own.headMap(h, false).clear();
        ownMessages.headMap(h, false).clear();
        for (TreeMap<Long, Signed<Checkpoint>> fromSender : votes.values()) {
            fromSender.headMap(h, true).clear();
        }
        votes.values().removeIf(TreeMap::isEmpty);
    }

    // ------------------------------------------------------------------ restart

    void restoreStable(PersistRecord.StableCheckpoint sc) {
        if (sc.sequence() > lowWatermark) {
            lowWatermark = sc.sequence();
            stableDigest = sc.digest();
            stableProof = sc.proof();
        }
    }

    /** An own CHECKPOINT read back from the records; the caller counts it as a vote when above h. */
    void restoreOwn(Signed<Checkpoint> c) {
        if (c.payload().sequence() >= lowWatermark) {
            recordOwn(c);
        }
    }

    /** After a restore: an application behind h needs the stable state fetched. */
    void restored(long executed) {
        if (executed < lowWatermark) {
            stateTransferTarget = lowWatermark;
        }
    }

    void checkInvariants() {
        Invariants.require(lowWatermark % config.checkpointInterval() == 0, "h not a checkpoint: " + lowWatermark);
        Invariants.require(lowWatermark >= config.startSequence(), "h " + lowWatermark + " below the epoch start");
        for (TreeMap<Long, Signed<Checkpoint>> fromSender : votes.values()) {
            Invariants.require(fromSender.size() <= votesPerReplicaMax(), "checkpoint votes above bound");
        }
    }
}
