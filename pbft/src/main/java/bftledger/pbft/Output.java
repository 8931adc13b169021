package bftledger.pbft;

import bftledger.crypto.Digest;
import java.util.List;

/**
 * What the node must do after one {@link Replica#step}, as a value. The contract, in order:
 * <ol>
 *   <li>{@link #persist}: append to the consensus WAL and make it durable (fsync) BEFORE any
 *       message of this output leaves; otherwise a crash could make the replica sign a
 *       contradiction of something already sent.</li>
 *   <li>{@link #messages}: send; loss is tolerated by the protocol (STATUS exchanges recover
 *       it). Every message this replica signed is in this or an earlier output's persist list,
 *       except STATUS, which carries no vote.</li>
 *   <li>{@link #execute}: execute in list order, which is strictly increasing sequence order
 *       continuing the previous outputs; report each with {@link Event.Executed}, at once (as the
 *       node does) or later with other events stepped in between (the simulator does both, by
 *       seed).</li>
 *   <li>{@link #stateTransfer}: fetch state up to the given stable checkpoint from peers,
 *       verify it against the proof, then report {@link Event.StateTransferred}.</li>
 *   <li>{@link #evidence} and {@link #rejections}: keep, expose, count. They change nothing.</li>
 * </ol>
 */
public record Output(
        List<PersistRecord> persist,
        List<Outbound> messages,
        List<CommittedBatch> execute,
        List<StateTransferRequest> stateTransfer,
        List<Evidence> evidence,
        List<Rejection> rejections) {

    public static final Output EMPTY = new Output(List.of(), List.of(), List.of(), List.of(), List.of(), List.of());

    public Output {
        persist = List.copyOf(persist);
        messages = List.copyOf(messages);
        execute = List.copyOf(execute);
        stateTransfer = List.copyOf(stateTransfer);
        evidence = List.copyOf(evidence);
        rejections = List.copyOf(rejections);
    }

    public boolean isEmpty() {
        return persist.isEmpty() && messages.isEmpty() && execute.isEmpty() && stateTransfer.isEmpty()
                && evidence.isEmpty() && rejections.isEmpty();
    }

    /** A message to send: to every other replica when {@code to} is {@link #BROADCAST}, else to one. */
    public record Outbound(int to, Signed<?> message) {
        public static final int BROADCAST = -1;

        public boolean broadcast() {
            return to == BROADCAST;
        }
    }

    /** One replica's COMMIT signature in a commit certificate: over {@code CommitVote(view, sequence, digest, replica)}. */
    public record CommitSignature(int replica, byte[] signature) {
        public CommitSignature {
            signature = signature.clone();
        }

        @Override
        public byte[] signature() {
            return signature.clone();
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof CommitSignature c && replica == c.replica && java.util.Arrays.equals(signature, c.signature);
        }

        @Override
        public int hashCode() {
            return replica * 31 + java.util.Arrays.hashCode(signature);
        }
    }

    /**
     * A committed batch to execute. {@code certificate} holds a quorum ({@link Config#quorum()})
     * of COMMIT signatures from distinct replicas, each over
     * {@code new CommitVote(view, sequence, digest, replica).encode()} under {@code Domain.COMMIT}; the node stores it with the block. A null batch (no requests,
     * timestamp 0, no anchor) still takes its sequence number. The anchor names the earlier block
     * header this batch certifies.
     */
    public record CommittedBatch(long sequence, long view, long timestampMillis, List<Request> requests,
            bftledger.crypto.HeaderAnchor anchor, Digest digest, List<CommitSignature> certificate) {
        public CommittedBatch {
            requests = List.copyOf(requests);
            certificate = List.copyOf(certificate);
        }
    }

    /**
     * Fetch state up to {@code sequence}, whose checkpoint digest the signed CHECKPOINTs in
     * {@code proof} agree on: a quorum of them when the checkpoint is stable, or at least f+1 (so
     * one correct replica vouches) when this replica fell behind its window or sits in a view change
     * while the others execute. Either way the node verifies what it fetches (blocks with their
     * commit certificates) and trusts no single peer; it reports {@link Event.StateTransferred}.
     */
    public record StateTransferRequest(long sequence, Digest digest, List<Signed<Checkpoint>> proof) {
        public StateTransferRequest {
            proof = List.copyOf(proof);
        }
    }

    /** Two messages signed by {@code replica} that cannot both be honest; both kept as received. */
    public record Evidence(int replica, MessageType type, long view, long sequence, Signed<?> first, Signed<?> second) {}

    /** An input that was not taken. {@code from} is the sending replica, or -1 for a client request. */
    public record Rejection(RejectReason reason, String detail, int from) {}
}
