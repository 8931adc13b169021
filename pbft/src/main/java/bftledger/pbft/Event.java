package bftledger.pbft;

import bftledger.crypto.Digest;

/** What the node hands to {@link Replica#step}. Time, execution and state transfer are events too. */
public sealed interface Event permits Event.PeerMessage, Event.ClientRequest, Event.Tick, Event.Executed,
        Event.StateTransferred, Event.EpochEnds {

    /** A message from a peer that {@link MessageVerifier} accepted. The core does not re-check signatures. */
    record PeerMessage(Signed<?> message) implements Event {}

    /** A client request the node checked with its {@link RequestValidator}. */
    record ClientRequest(Request request) implements Event {}

    /**
     * One tick of the node's clock; the caller chooses the period. {@code nowMillis} is the
     * node's wall clock, handed in as data: the primary stamps batches with it (never going
     * backwards). Timeouts count ticks, not milliseconds.
     *
     * <p>{@code quorumHeard} is the node's failure detector, also handed in as data: whether it
     * heard at least {@link Config#quorum()} - 1 other replicas recently. When it did not (cut
     * off, or just resumed from a pause), an expiring request timer is re-armed rather than
     * suspecting the primary: a VIEW-CHANGE could not gather a quorum then, and would leave this replica alone in a view the
     * others never join. {@code silentReplicas} are the replicas the detector has not heard from
     * recently (not even answering pings): with {@link Config#primarySilenceTicks()} set, a backup
     * waiting for requests suspects a silent primary without waiting out the request timeout.
     * Liveness only; a caller without a detector passes true and no one.
     */
    record Tick(long nowMillis, boolean quorumHeard, java.util.Set<Integer> silentReplicas) implements Event {
        public Tick {
            silentReplicas = java.util.Set.copyOf(silentReplicas);
        }

        /** A tick from a caller without a failure detector: the original behaviour. */
        public Tick(long nowMillis) {
            this(nowMillis, true, java.util.Set.of());
        }

        public Tick(long nowMillis, boolean quorumHeard) {
            this(nowMillis, quorumHeard, java.util.Set.of());
        }
    }

    /**
     * The application executed the batch at {@code sequence} (handed out in an earlier output,
     * strictly in order) and its state digest there is {@code stateDigest}; at checkpoint
     * sequences the digest becomes this replica's CHECKPOINT.
     */
    record Executed(long sequence, Digest stateDigest) implements Event {}

    /**
     * The node fetched and verified state up to the stable checkpoint {@code sequence}.
     * {@code executedRequestIds} are the request ids the fetched blocks executed, when the node
     * has them at hand (may be empty or partial): the core stops waiting for those requests even
     * when no {@link ExecutedRequests} index was plugged in. Pending requests the index reports
     * executed are cleared either way.
     */
    record StateTransferred(long sequence, Digest stateDigest, java.util.List<Digest> executedRequestIds) implements Event {
        public StateTransferred {
            executedRequestIds = java.util.List.copyOf(executedRequestIds);
        }

        /** The original shape: no id list, the core relies on its {@link ExecutedRequests} index. */
        public StateTransferred(long sequence, Digest stateDigest) {
            this(sequence, stateDigest, java.util.List.of());
        }
    }

    /**
     * This core's epoch ends at {@code lastSequence}: the validator set changes there and a new
     * core, started with {@link Config#withStart}, orders from {@code lastSequence + 1}. The node
     * learns it from executing the ledger and hands it in as soon as it does (again after a
     * restart: it is not persisted). From then on this core orders nothing above it; once it
     * executed {@code lastSequence} it is finished ({@link Replica#epochFinished()}).
     * {@code lastSequence} is a multiple of K, not below what this replica executed or handed out
     * for execution, and the same for the life of the core: {@link Replica#step} throws
     * {@link IllegalArgumentException} otherwise (a bug in the caller). The same event again
     * changes nothing.
     */
    record EpochEnds(long lastSequence) implements Event {}
}
