package bftledger.pbft;

import bftledger.crypto.Digest;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeMap;

/**
 * One PBFT replica as a pure state machine: {@link #step(Event)} takes one event and returns
 * the {@link Output} the node must carry out. No threads, I/O, clocks or randomness; the same
 * events in the same order give the same outputs. Not thread-safe: one thread drives it.
 *
 * <p>Incoming messages were verified by {@link MessageVerifier} (signature, membership, shape);
 * here each is classified against the replica's view and window (h, h+L]:
 * <ul>
 *   <li>old (lower view, or sequence at or below h): rejected and reported;</li>
 *   <li>current: handled;</li>
 *   <li>future (higher view, the current view before its NEW-VIEW, or above h+L): buffered, at
 *       most {@link Config#futureBufferPerReplicaMax()} per sender; beyond that the message is
 *       dropped and reported ({@link RejectReason#FUTURE_BUFFER_FULL}). Views further ahead than
 *       {@link Config#viewChangeAheadMax()} are rejected outright.</li>
 * </ul>
 * Client requests wait in a pending map bounded by {@link Config#pendingRequestsMax()} (beyond
 * it: rejected, the client retries). Request ids are remembered until executed and covered by
 * a stable checkpoint; after that a resubmitted id could be ordered again, and the ledger's
 * at-most-once rule makes that execution a no-op.
 *
 * <p>Section references are to Castro and Liskov, "Practical Byzantine Fault Tolerance" (OSDI
 * 1999).
 */
public final class Replica {
    /** See {@link #catchingUp()}: at most this many extra request timeouts while catching up. */
    static final int CATCH_UP_HOLDS_MAX = 4;

    private final Config config;
    private final MessageFactory factory;
    private final int self;
    private final ExecutedRequests executedIndex;
    private final ExecutedDigests executedDigests;
    /** What this replica may sign after a restore from incomplete records (see {@link SigningFloor}). */
    private SigningFloor signingFloor = SigningFloor.NONE;

    // View state (4.4).
    private long view;
    private boolean viewActive = true;
    private int failedViewChanges;
    /** Whether a request executed since the last NEW-VIEW; until then the view change is not known to have worked. */
    private boolean executedSinceNewView = true;
    private int requestTimerTicks = -1;
    /** The pending request the request timer runs for (4.4: the timer belongs to one request). */
    private Digest timedRequest;
    /** lastExecuted when the request timer was last armed or held (see {@link #catchingUp()}). */
    private long executedAtTimerStart;
    /** Times the request timer was held for {@link #timedRequest} because this replica was catching up. */
    private int catchUpHolds;
    private int viewChangeTimerTicks = -1;
    private int viewChangeResendTicks = -1;
    private Signed<ViewChange> ownViewChange;
    private Signed<NewView> currentNewView;
    private final TreeMap<Long, TreeMap<Integer, Signed<ViewChange>>> viewChanges = new TreeMap<>();

    // Log of the current view inside the window (4.2), and what survives view changes.
    private final TreeMap<Long, Slot> log = new TreeMap<>();
    private final TreeMap<Long, Signed<PrePrepare>> previousViewPrePrepares = new TreeMap<>();
    private final TreeMap<Long, PreparedCertificate> preparedCertificates = new TreeMap<>();
    private final TreeMap<Long, Output.CommittedBatch> committedUndelivered = new TreeMap<>();
    private final Map<VoteKey, Digest> ownVotes = new HashMap<>();
    private long nextSequence = 1;
    private long lastTimestampMillis;
    private long nowMillis;

    // Checkpoints (4.3).
    private long lowWatermark;
    private Digest stableDigest;
    private List<Signed<Checkpoint>> stableProof = List.of();
    private final TreeMap<Long, Digest> ownCheckpoints = new TreeMap<>();
    private final TreeMap<Long, Signed<Checkpoint>> ownCheckpointMessages = new TreeMap<>();
    private final TreeMap<Integer, TreeMap<Long, Signed<Checkpoint>>> checkpointVotes = new TreeMap<>();
    private long stateTransferTarget = -1;

    // Execution.
    private long lastDelivered;
    private long lastExecuted;
    private final TreeMap<Long, List<Digest>> deliveredIds = new TreeMap<>();

    // Header anchors (see Batch and HeaderAnchors).
    private final HeaderAnchors anchors;

    // Requests.
    private final LinkedHashMap<Digest, Request> pending = new LinkedHashMap<>();
    private final LinkedHashMap<Digest, Request> unordered = new LinkedHashMap<>();
    private final Map<Digest, Long> orderedIds = new HashMap<>();
    private final Map<Digest, Long> executedIds = new HashMap<>();
    private final TreeMap<Long, List<Digest>> executedIdsBySequence = new TreeMap<>();

    // Future messages, per sender, FIFO.
    private final TreeMap<Integer, ArrayDeque<Signed<?>>> futureBuffer = new TreeMap<>();

    // STATUS exchange (retransmission).
    private long ticks;
    /** The node's failure detector at the latest tick: 2f others heard recently (see {@link Event.Tick}). */
    private boolean quorumHeard = true;
    /** The detector at the latest tick: replicas not heard recently (see {@link Event.Tick}). */
    private java.util.Set<Integer> silentReplicas = java.util.Set.of();
    /** Consecutive ticks with the request timer running, 2f others heard and the primary silent. */
    private int primarySilentTicks;
    /** Why this replica last left a view, for operators (logs, status); never used in decisions. */
    private String viewChangeCause = "";
    private int statusCountdownTicks;
    private final TreeMap<Integer, Long> lastStatusReplyTick = new TreeMap<>();

    // For invariants across steps.
    private long previousExecuted;
    private final Map<VoteKey, Digest> acceptedPrePrepares = new HashMap<>();

    private OutputBuilder out;

    /** A replica whose batches carry no header anchors and which checks none (tests of other rules). */
    public Replica(Config config) {
        this(config, ExecutedRequests.NONE);
    }

    /** As {@link #Replica(Config)}, with the application's at-most-once index. */
    public Replica(Config config, ExecutedRequests executedIndex) {
        this(config, executedIndex, ExecutedDigests.NONE);
    }

    /**
     * @param executedIndex the application's at-most-once index, consulted for forgotten ids
     * @param executedDigests what the application reported for each executed sequence; with
     *     {@link ExecutedDigests#NONE} batches carry no anchors and anchors are not checked
     */
    public Replica(Config config, ExecutedRequests executedIndex, ExecutedDigests executedDigests) {
        this.config = Objects.requireNonNull(config);
        this.executedIndex = Objects.requireNonNull(executedIndex);
        this.executedDigests = Objects.requireNonNull(executedDigests);
        this.anchors = new HeaderAnchors(config, executedDigests);
        if (config.key() == null) {
            throw new IllegalArgumentException("a replica needs its signing key");
        }
        this.self = config.replicaId();
        this.factory = new MessageFactory(self, config.key());
        this.stableDigest = config.genesisDigest();
        this.statusCountdownTicks = config.statusTicks();
    }

    // ------------------------------------------------------------------------------------ step

    public Output step(Event event) {
        if (out != null) {
            throw new IllegalStateException("step re-entered");
        }
        out = new OutputBuilder();
        try {
            if (event instanceof Event.PeerMessage m) {
                onMessage(m.message());
            } else if (event instanceof Event.ClientRequest r) {
                onRequest(r.request());
            } else if (event instanceof Event.Tick t) {
                boolean healed = !quorumHeard && t.quorumHeard();
                quorumHeard = t.quorumHeard();
                silentReplicas = t.silentReplicas();
                if (healed && requestTimerTicks > 0) {
                    // Back in touch after being cut off (or paused): the timer ran while nothing
                    // could execute here. A full timeout from now to catch up before suspecting
                    // anyone; otherwise a timer about to expire fires on the first tick and the
                    // replica leaves the view alone, far behind the others
                    // (LaggingReplicaTimerTest#aReplicaHealedJustBeforeItsTimerExpiresGetsAFullTimeoutToCatchUp).
                    armRequestTimer();
                }
                onTick(t.nowMillis());
            } else if (event instanceof Event.Executed e) {
                onExecuted(e.sequence(), e.stateDigest());
            } else if (event instanceof Event.StateTransferred s) {
                onStateTransferred(s.sequence(), s.stateDigest(), s.executedRequestIds());
            }
            proposeBatches();
            deliverCommitted();
            return out.build();
        } finally {
            out = null;
        }
    }

    private void onMessage(Signed<?> m) {
        if (m.signer() == self) {
            reject(RejectReason.DUPLICATE, "own message echoed back", m.signer());
            return;
        }
        Payload p = m.payload();
        if (!signerConsistent(m)) {
            reject(RejectReason.SIGNER_MISMATCH, m.type() + " signed by " + m.signer(), m.signer());
            return;
        }
        if (p instanceof PrePrepare pp) {
            if (classify(m, pp.view(), pp.sequence())) {
                onPrePrepare(m.as(PrePrepare.class));
            }
        } else if (p instanceof Prepare pr) {
            if (classify(m, pr.view(), pr.sequence())) {
                onPrepare(m.as(Prepare.class));
            }
        } else if (p instanceof Commit c) {
            if (classify(m, c.view(), c.sequence())) {
                onCommit(m.as(Commit.class));
            }
        } else if (p instanceof Checkpoint) {
            onCheckpoint(m.as(Checkpoint.class));
        } else if (p instanceof ViewChange) {
            onViewChange(m.as(ViewChange.class));
        } else if (p instanceof NewView) {
            onNewView(m.as(NewView.class));
        } else if (p instanceof Status) {
            onStatus(m.as(Status.class));
        }
    }

    /**
     * The verifier checked this already; repeated here because it is cheap and the core's
     * quorum counting is keyed by signer, so a slip in the caller must not become a double vote.
     */
    private boolean signerConsistent(Signed<?> m) {
        Payload p = m.payload();
        if (m.signer() < 0 || m.signer() >= config.n()) {
            return false;
        } else if (p instanceof PrePrepare pp) {
            return config.primary(pp.view()) == m.signer();
        } else if (p instanceof Prepare pr) {
            return pr.replica() == m.signer() && config.primary(pr.view()) != m.signer();
        } else if (p instanceof Commit c) {
            return c.replica() == m.signer();
        } else if (p instanceof Checkpoint c) {
            return c.replica() == m.signer();
        } else if (p instanceof ViewChange vc) {
            return vc.replica() == m.signer();
        } else if (p instanceof NewView nv) {
            return config.primary(nv.view()) == m.signer();
        } else if (p instanceof Status st) {
            return st.replica() == m.signer();
        }
        return false;
    }

    /** True when a normal-case message is current; otherwise it was rejected or buffered. */
    private boolean classify(Signed<?> m, long msgView, long sequence) {
        if (msgView < view) {
            reject(RejectReason.OLD_VIEW, m.type() + " of view " + msgView + " in view " + view, m.signer());
            return false;
        }
        if (msgView > view + config.viewChangeAheadMax()) {
            reject(RejectReason.VIEW_TOO_FAR_AHEAD, m.type() + " of view " + msgView + " in view " + view, m.signer());
            return false;
        }
        if (sequence <= lowWatermark) {
            reject(RejectReason.OLD_SEQUENCE, m.type() + " for " + sequence + " at or below h=" + lowWatermark, m.signer());
            return false;
        }
        if (msgView > view || !viewActive || sequence > highWatermark()) {
            buffer(m);
            return false;
        }
        return true;
    }

    private void buffer(Signed<?> m) {
        ArrayDeque<Signed<?>> queue = futureBuffer.computeIfAbsent(m.signer(), k -> new ArrayDeque<>());
        if (queue.size() >= config.futureBufferPerReplicaMax()) {
            reject(RejectReason.FUTURE_BUFFER_FULL, m.type() + " from " + m.signer() + " dropped", m.signer());
            if (queue.isEmpty()) {
                futureBuffer.remove(m.signer());
            }
            return;
        }
        queue.addLast(m);
    }

    /** Re-offers buffered messages after the view or the window moved; still-future ones go back. */
    private void replayBuffered() {
        if (futureBuffer.isEmpty()) {
            return;
        }
        List<Signed<?>> all = new ArrayList<>();
        for (ArrayDeque<Signed<?>> q : futureBuffer.values()) {
            all.addAll(q);
        }
        futureBuffer.clear();
        for (Signed<?> m : all) {
            onMessage(m);
        }
    }

    // ------------------------------------------------------------------ normal case (4.2)

    private void onPrePrepare(Signed<PrePrepare> m) {
        PrePrepare pp = m.payload();
        Slot slot = slot(pp.sequence());
        if (slot.prePrepare != null) {
            if (slot.prePrepare.payload().digest().equals(pp.digest())) {
                reject(RejectReason.DUPLICATE, "pre-prepare " + pp.sequence(), m.signer());
            } else {
                evidence(slot.prePrepare, m, pp.view(), pp.sequence());
                reject(RejectReason.CONFLICTING_MESSAGE, "second pre-prepare for (" + pp.view() + ", " + pp.sequence() + ")", m.signer());
            }
            return;
        }
        Digest own = ownVotes.get(new VoteKey(MessageType.PREPARE, pp.view(), pp.sequence()));
        if (own != null && !own.equals(pp.digest())) {
            reject(RejectReason.CONFLICTS_OWN_VOTE, "prepared another digest for (" + pp.view() + ", " + pp.sequence() + ")", m.signer());
            return;
        }
        HeaderAnchors.Check anchor = anchors.check(pp, lastExecuted);
        if (anchor.refused()) {
            // The primary names a header this replica did not execute (or none where one is due):
            // no PREPARE from here. Kept in the slot all the same, for equivocation evidence and
            // in case 2f others (one of them correct, so the anchor right) prepare it.
            reject(anchor.reason(), anchor.detail(), m.signer());
        }
        acceptPrePrepare(slot, m);
        if (anchor.ok()) {
            sendPrepare(pp);
        } else if (anchor.pending()) {
            slot.prepareAwaitsExecution = true;
        }
        checkPrepared(slot);
    }

    /** Sends the PREPAREs held until this replica executed what their batches' anchors name. */
    private void releaseHeldPrepares() {
        for (Slot slot : log.values()) {
            if (!slot.prepareAwaitsExecution) {
                continue;
            }
            PrePrepare pp = slot.prePrepare.payload();
            HeaderAnchors.Check anchor = anchors.check(pp, lastExecuted);
            if (anchor.pending()) {
                continue;
            }
            slot.prepareAwaitsExecution = false;
            if (anchor.ok()) {
                sendPrepare(pp);
                checkPrepared(slot);
            } else {
                reject(anchor.reason(), anchor.detail(), config.primary(pp.view()));
            }
        }
    }

    private void acceptPrePrepare(Slot slot, Signed<PrePrepare> m) {
        PrePrepare pp = m.payload();
        slot.prePrepare = m;
        Digest before = acceptedPrePrepares.putIfAbsent(new VoteKey(MessageType.PRE_PREPARE, pp.view(), pp.sequence()), pp.digest());
        if (before != null && !before.equals(pp.digest())) {
            throw new IllegalStateException("accepted a second pre-prepare digest for (" + pp.view() + ", " + pp.sequence() + ")");
        }
        for (Request r : pp.batch().requests()) {
            orderedIds.put(r.id(), pp.sequence());
            unordered.remove(r.id());
        }
    }

    private void sendPrepare(PrePrepare pp) {
        if (!signingFloor.allowsVote(pp.view(), pp.sequence())) {
            return;
        }
        Signed<Prepare> prepare = factory.prepare(pp.view(), pp.sequence(), pp.digest());
        sendOwn(prepare, MessageType.PREPARE, pp.view(), pp.sequence(), pp.digest());
        slot(pp.sequence()).prepares.put(self, prepare);
    }

    private void onPrepare(Signed<Prepare> m) {
        Prepare p = m.payload();
        Slot slot = slot(p.sequence());
        Signed<Prepare> previous = slot.prepares.get(m.signer());
        if (previous != null) {
            if (previous.payload().digest().equals(p.digest())) {
                reject(RejectReason.DUPLICATE, "prepare " + p.sequence(), m.signer());
            } else {
                evidence(previous, m, p.view(), p.sequence());
                reject(RejectReason.CONFLICTING_MESSAGE, "second prepare for (" + p.view() + ", " + p.sequence() + ")", m.signer());
            }
            return;
        }
        slot.prepares.put(m.signer(), m);
        checkPrepared(slot);
    }

    private void onCommit(Signed<Commit> m) {
        Commit c = m.payload();
        Slot slot = slot(c.sequence());
        Signed<Commit> previous = slot.commits.get(m.signer());
        if (previous != null) {
            if (previous.payload().digest().equals(c.digest())) {
                reject(RejectReason.DUPLICATE, "commit " + c.sequence(), m.signer());
            } else {
                evidence(previous, m, c.view(), c.sequence());
                reject(RejectReason.CONFLICTING_MESSAGE, "second commit for (" + c.view() + ", " + c.sequence() + ")", m.signer());
            }
            return;
        }
        slot.commits.put(m.signer(), m);
        checkCommitted(slot);
    }

    /** prepared(m, v, n, i): the pre-prepare and 2f matching prepares from distinct backups. */
    private void checkPrepared(Slot slot) {
        if (slot.prepared || slot.prePrepare == null) {
            return;
        }
        PrePrepare pp = slot.prePrepare.payload();
        List<Signed<Prepare>> matching = new ArrayList<>();
        for (Signed<Prepare> p : slot.prepares.values()) {
            if (p.payload().digest().equals(pp.digest()) && p.payload().view() == pp.view()) {
                matching.add(p);
            }
        }
        if (matching.size() < 2 * config.f()) {
            return;
        }
        slot.prepared = true;
        PreparedCertificate cert = new PreparedCertificate(slot.prePrepare, matching.subList(0, 2 * config.f()));
        out.persist.add(new PersistRecord.Prepared(cert));
        preparedCertificates.put(pp.sequence(), cert);
        if (signingFloor.allowsVote(pp.view(), pp.sequence())) {
            Signed<Commit> commit = factory.commit(pp.view(), pp.sequence(), pp.digest());
            sendOwn(commit, MessageType.COMMIT, pp.view(), pp.sequence(), pp.digest());
            slot.commits.put(self, commit);
        }
        checkCommitted(slot);
    }

    /** committed-local(m, v, n, i): prepared and 2f+1 matching commits from distinct replicas. */
    private void checkCommitted(Slot slot) {
        if (!slot.prepared || slot.committed) {
            return;
        }
        PrePrepare pp = slot.prePrepare.payload();
        List<Output.CommitSignature> certificate = new ArrayList<>();
        for (Signed<Commit> c : slot.commits.values()) {
            if (c.payload().digest().equals(pp.digest()) && c.payload().view() == pp.view()) {
                certificate.add(new Output.CommitSignature(c.signer(), c.signature()));
            }
        }
        if (certificate.size() < config.quorum()) {
            return;
        }
        slot.committed = true;
        if (pp.sequence() > lastDelivered && !committedUndelivered.containsKey(pp.sequence())) {
            committedUndelivered.put(pp.sequence(), new Output.CommittedBatch(pp.sequence(), pp.view(),
                    pp.batch().timestampMillis(), pp.batch().requests(), pp.batch().anchor(), pp.digest(),
                    certificate.subList(0, config.quorum())));
        }
    }

    private void deliverCommitted() {
        while (lastDelivered >= lowWatermark) {
            Output.CommittedBatch next = committedUndelivered.remove(lastDelivered + 1);
            if (next == null) {
                return;
            }
            lastDelivered = next.sequence();
            deliveredIds.put(next.sequence(), next.requests().stream().map(Request::id).toList());
            anchors.delivered(next.anchor());
            out.execute.add(next);
        }
    }

    // ------------------------------------------------------------------ requests and batching

    private void onRequest(Request r) {
        Digest id = r.id();
        if (r.payloadLength() > config.requestBytesMax()) {
            reject(RejectReason.OVERSIZE, id.shortHex() + " of " + r.payloadLength() + " bytes", -1);
            return;
        }
        if (executedIds.containsKey(id) || executedIndex.contains(id)) {
            reject(RejectReason.ALREADY_EXECUTED, id.shortHex(), -1);
            return;
        }
        if (pending.containsKey(id)) {
            reject(RejectReason.DUPLICATE, "request " + id.shortHex() + " already pending", -1);
            return;
        }
        if (pending.size() >= config.pendingRequestsMax()) {
            reject(RejectReason.PENDING_REQUESTS_FULL, id.shortHex(), -1);
            return;
        }
        pending.put(id, r);
        if (!orderedIds.containsKey(id)) {
            unordered.put(id, r);
        }
        updateRequestTimer();
    }

    /** The primary proposes while requests wait, the window has room and the pipeline is not full. */
    private void proposeBatches() {
        if (!viewActive || !isPrimary()) {
            return;
        }
        if (awaitingState()) {
            // Waiting for state this replica did not execute itself: until it arrives, it cannot
            // tell which pending requests that state already executed.
            return;
        }
        if (!signingFloor.allowsVote(view, nextSequence)) {
            return;
        }
        if (unordered.isEmpty()) {
            proposeIdleAnchor();
            return;
        }
        while (!unordered.isEmpty() && nextSequence <= highWatermark()
                && nextSequence - 1 - lastExecuted < config.pipelineDepthMax()) {
            List<Request> requests = new ArrayList<>();
            long bytes = 0;
            Iterator<Request> it = unordered.values().iterator();
            while (it.hasNext() && requests.size() < config.batchCountMax()) {
                Request r = it.next();
                if (executedIndex.contains(r.id())) {
                    // Executed in state this replica fetched rather than executed itself.
                    it.remove();
                    pending.remove(r.id());
                    continue;
                }
                if (bytes + r.payloadLength() > config.batchBytesMax()) {
                    break;
                }
                requests.add(r);
                bytes += r.payloadLength();
            }
            if (requests.isEmpty()) {
                continue; // all skipped as executed; the loop condition re-checks what is left
            }
            propose(requests);
        }
    }

    private void propose(List<Request> requests) {
        // Timestamps never go backwards and are never 0, so a real batch is never the null batch.
        long timestamp = Math.max(Math.max(nowMillis, lastTimestampMillis), 1);
        lastTimestampMillis = timestamp;
        Batch batch = new Batch(timestamp, requests, anchors.forProposal(lastExecuted));
        Signed<PrePrepare> pp = factory.prePrepare(view, nextSequence, batch);
        sendOwn(pp, MessageType.PRE_PREPARE, view, nextSequence, pp.payload().digest());
        acceptPrePrepare(slot(nextSequence), pp);
        anchors.proposed();
        nextSequence++;
    }

    /**
     * An idle primary certifies what it executed last: an empty batch anchoring it, once the
     * pipeline is empty and {@link Config#anchorIdleTicks()} ticks passed with nothing to order
     * (see {@link HeaderAnchors#idleAnchorDue}).
     */
    private void proposeIdleAnchor() {
        if (nextSequence - 1 == lastExecuted && nextSequence <= highWatermark()
                && anchors.idleAnchorDue(lastExecuted)) {
            propose(List.of());
        }
    }

    // ------------------------------------------------------------------ execution and checkpoints (4.3)

    private void onExecuted(long sequence, Digest stateDigest) {
        if (sequence <= lastExecuted) {
            return; // overtaken by a state transfer
        }
        if (sequence != lastExecuted + 1 || sequence > lastDelivered) {
            throw new IllegalStateException("executed " + sequence + " but last executed " + lastExecuted
                    + ", last delivered " + lastDelivered);
        }
        lastExecuted = sequence;
        List<Digest> ids = deliveredIds.remove(sequence);
        anchors.executed(sequence, ids != null && !ids.isEmpty());
        releaseHeldPrepares();
        if (ids != null && !ids.isEmpty()) {
            for (Digest id : ids) {
                pending.remove(id);
                unordered.remove(id);
                orderedIds.remove(id);
                executedIds.put(id, sequence);
            }
            executedIdsBySequence.put(sequence, ids);
            if (viewActive) {
                executedSinceNewView = true;
                failedViewChanges = 0;
            }
            updateRequestTimer();
        }
        if (sequence % config.checkpointInterval() == 0) {
            takeCheckpoint(sequence, stateDigest);
        }
    }

    private void takeCheckpoint(long sequence, Digest stateDigest) {
        ownCheckpoints.put(sequence, stateDigest);
        Signed<Checkpoint> c = factory.checkpoint(sequence, stateDigest);
        ownCheckpointMessages.put(sequence, c);
        sendOwn(c, MessageType.CHECKPOINT, 0, sequence, stateDigest);
        if (sequence > lowWatermark) {
            recordCheckpointVote(c);
        }
    }

    private void onCheckpoint(Signed<Checkpoint> m) {
        Checkpoint c = m.payload();
        if (c.sequence() <= lowWatermark) {
            reject(RejectReason.OLD_SEQUENCE, "checkpoint " + c.sequence() + " at or below h=" + lowWatermark, m.signer());
            return;
        }
        Signed<Checkpoint> previous = checkpointVotes.getOrDefault(m.signer(), new TreeMap<>()).get(c.sequence());
        if (previous != null) {
            if (previous.payload().stateDigest().equals(c.stateDigest())) {
                reject(RejectReason.DUPLICATE, "checkpoint " + c.sequence(), m.signer());
            } else {
                evidence(previous, m, 0, c.sequence());
                reject(RejectReason.CONFLICTING_MESSAGE, "second checkpoint for " + c.sequence(), m.signer());
            }
            return;
        }
        recordCheckpointVote(m);
    }

    /**
     * Keeps each sender's checkpoints above h, at most L/K inside the window plus
     * {@link Config#checkpointsAheadPerReplicaMax()} beyond it (its highest), then looks for 2f+1
     * matching: a stable checkpoint, possibly beyond what this replica executed.
     */
    private void recordCheckpointVote(Signed<Checkpoint> m) {
        TreeMap<Long, Signed<Checkpoint>> votes = checkpointVotes.computeIfAbsent(m.signer(), k -> new TreeMap<>());
        votes.put(m.payload().sequence(), m);
        // Beyond the window keep only the sender's highest few; never evict its in-window votes
        // for that (a replica far ahead, or a flooding one, would otherwise push out the votes
        // that can still make a checkpoint in our window stable). In-window votes are at most
        // L/K, since votes at or below h are refused and garbage-collected.
        var beyond = votes.tailMap(highWatermark(), false);
        while (beyond.size() > config.checkpointsAheadPerReplicaMax()) {
            beyond.pollFirstEntry();
        }
        int bound = config.watermarkWindow() / config.checkpointInterval() + config.checkpointsAheadPerReplicaMax();
        while (votes.size() > bound) {
            votes.pollFirstEntry();
        }
        Checkpoint c = m.payload();
        List<Signed<Checkpoint>> matching = new ArrayList<>();
        for (TreeMap<Long, Signed<Checkpoint>> perReplica : checkpointVotes.values()) {
            Signed<Checkpoint> v = perReplica.get(c.sequence());
            if (v != null && v.payload().stateDigest().equals(c.stateDigest())) {
                matching.add(v);
            }
        }
        if (matching.size() >= config.quorum()) {
            makeStable(c.sequence(), c.stateDigest(), matching.subList(0, config.quorum()));
        } else if (matching.size() >= config.weakQuorum() && c.sequence() > lastDelivered
                && c.sequence() > stateTransferTarget && (c.sequence() > highWatermark() || !viewActive)) {
            // f+1 replicas (one of them correct) executed past our window, or past us while we
            // cannot order anything ourselves: fetch that state instead of waiting. The checkpoint
            // does not become stable here; our own CHECKPOINT after the transfer may make it so.
            stateTransferTarget = c.sequence();
            out.stateTransfer.add(new Output.StateTransferRequest(c.sequence(), c.stateDigest(), matching));
        }
    }

    private void makeStable(long sequence, Digest digest, List<Signed<Checkpoint>> proof) {
        if (sequence <= lowWatermark) {
            return;
        }
        lowWatermark = sequence;
        stableDigest = digest;
        stableProof = List.copyOf(proof);
        out.persist.add(new PersistRecord.StableCheckpoint(sequence, digest, proof));
        Digest own = ownCheckpoints.get(sequence);
        collectGarbage();
        if (own != null && !own.equals(digest)) {
            // 2f+1 replicas agree on another state: ours diverged (a bug or corruption here).
            reject(RejectReason.CHECKPOINT_DIVERGENCE, "own digest " + own.shortHex() + " at " + sequence
                    + ", stable " + digest.shortHex(), self);
            requestStateTransfer();
        } else if (lastDelivered < sequence) {
            requestStateTransfer();
        }
        nextSequence = Math.max(nextSequence, sequence + 1);
        replayBuffered();
    }

    private void requestStateTransfer() {
        stateTransferTarget = Math.max(stateTransferTarget, lowWatermark);
        out.stateTransfer.add(new Output.StateTransferRequest(lowWatermark, stableDigest, stableProof));
    }

    /** Discards everything at or below the stable checkpoint h (4.3). */
    private void collectGarbage() {
        long h = lowWatermark;
        log.headMap(h, true).clear();
        previousViewPrePrepares.headMap(h, true).clear();
        preparedCertificates.headMap(h, true).clear();
        committedUndelivered.headMap(h, true).clear();
        ownVotes.keySet().removeIf(k -> k.sequence() != 0 && k.sequence() <= h);
        acceptedPrePrepares.keySet().removeIf(k -> k.sequence() <= h);
        evidenceReported.removeIf(k -> k.sequence() != 0 && k.sequence() <= h);
        ownCheckpoints.headMap(h, false).clear();
        ownCheckpointMessages.headMap(h, false).clear();
        for (TreeMap<Long, Signed<Checkpoint>> votes : checkpointVotes.values()) {
            votes.headMap(h, true).clear();
        }
        checkpointVotes.values().removeIf(TreeMap::isEmpty);
        var executedBelow = executedIdsBySequence.headMap(h, true);
        for (List<Digest> ids : executedBelow.values()) {
            ids.forEach(executedIds::remove);
        }
        executedBelow.clear();
        // Requests ordered at or below h stay pending (if not seen executed) and are proposed
        // again after the next view change; the ledger's at-most-once rule absorbs a repeat.
        orderedIds.values().removeIf(s -> s <= h);
    }

    private void onStateTransferred(long sequence, Digest digest, List<Digest> reportedIds) {
        if (sequence <= lastExecuted) {
            return;
        }
        lastExecuted = sequence;
        anchors.transferred(sequence);
        releaseHeldPrepares();
        lastDelivered = Math.max(lastDelivered, sequence);
        // Batches this replica committed (or handed out) at or below the transferred sequence are
        // the ones the fetched state executed (one committed batch per sequence), so their
        // requests are executed too, even though no Executed event will come for them.
        List<Digest> executedHere = new ArrayList<>(reportedIds);
        var delivered = deliveredIds.headMap(sequence, true);
        delivered.values().forEach(executedHere::addAll);
        delivered.clear();
        var committed = committedUndelivered.headMap(sequence, true);
        for (Output.CommittedBatch b : committed.values()) {
            b.requests().forEach(r -> executedHere.add(r.id()));
        }
        committed.clear();
        if (stateTransferTarget <= sequence) {
            stateTransferTarget = -1;
        }
        // The fetched state executed requests this replica never saw ordered: stop waiting for
        // them, or its request timer fires for requests that already executed and it sits alone
        // in a view change (StateTransferRequestsTest).
        for (Request r : new ArrayList<>(pending.values())) {
            if (executedIndex.contains(r.id())) {
                executedHere.add(r.id());
            }
        }
        List<Digest> recorded = new ArrayList<>();
        for (Digest id : executedHere) {
            boolean wasPending = pending.remove(id) != null;
            unordered.remove(id);
            orderedIds.remove(id);
            if (wasPending && executedIds.putIfAbsent(id, sequence) == null) {
                recorded.add(id);
            }
        }
        if (!recorded.isEmpty()) {
            executedIdsBySequence.computeIfAbsent(sequence, k -> new ArrayList<>()).addAll(recorded);
        }
        updateRequestTimer();
        if (sequence % config.checkpointInterval() == 0 && !ownCheckpoints.containsKey(sequence)) {
            takeCheckpoint(sequence, digest);
        }
    }

    // ------------------------------------------------------------------ timers

    private void onTick(long now) {
        nowMillis = Math.max(nowMillis, now);
        ticks++;
        anchors.tick(viewActive && isPrimary() && unordered.isEmpty());
        if (--statusCountdownTicks <= 0) {
            statusCountdownTicks = config.statusTicks();
            out.messages.add(new Output.Outbound(Output.Outbound.BROADCAST,
                    factory.status(view, viewActive, lowWatermark, lastExecuted)));
        }
        boolean primarySilent = viewActive && requestTimerTicks > 0 && quorumHeard
                && silentReplicas.contains(config.primary(view));
        primarySilentTicks = primarySilent ? primarySilentTicks + 1 : 0;
        if (viewActive) {
            if (requestTimerTicks > 0 && primarySilenceSuspected()) {
                // A crashed, paused or cut-off primary: its silence while we wait for requests says
                // so sooner than the request timeout would.
                requestTimerTicks = -1;
                primarySilentTicks = 0;
                viewChangeCause = "primary " + config.primary(view) + " silent for " + config.primarySilenceTicks()
                        + " ticks with requests waiting";
                onRequestTimeout();
            } else if (requestTimerTicks > 0 && --requestTimerTicks == 0) {
                requestTimerTicks = -1;
                if (dropPendingExecutedElsewhere()) {
                    // The request waited for is in the ledger already: it executed in blocks this
                    // replica fetched (catch-up) rather than ordered itself. The primary did its
                    // job; wait for what is really still pending.
                    updateRequestTimer();
                } else if (lagging() || !quorumHeard) {
                    // Requests do not execute here, but not (as far as this replica can tell)
                    // because the primary stalls: this replica lags (waiting for state), or it
                    // hears too few others to be in any quorum (cut off,
                    // or just resumed from a pause). A VIEW-CHANGE now would take it out of the
                    // view alone, where it stays until the others change view too, while they go
                    // on without it. So wait a timeout more. Liveness: if the primary is faulty,
                    // the others' VIEW-CHANGEs still pull this one along (f+1 rule, 4.5.2); once it
                    // hears 2f others again and is not behind, the next expiry suspects the
                    // primary as before.
                    updateRequestTimer();
                } else if (catchingUp()) {
                    // Provably behind (f+1 others, one of them correct, checkpointed past us) and
                    // moving forward: the request may well sit in what we have yet to execute.
                    // Bounded, so a primary cannot use a replica's lag to censor a request for
                    // longer than a few timeouts.
                    catchUpHolds++;
                    updateRequestTimer();
                } else {
                    viewChangeCause = "request " + (timedRequest == null ? "?" : timedRequest.shortHex())
                            + " not executed within the request timeout";
                    onRequestTimeout();
                }
            }
            return;
        }
        if (viewChangeTimerTicks > 0 && --viewChangeTimerTicks == 0) {
            viewChangeTimerTicks = -1;
            onViewChangeTimeout();
            return;
        }
        if (ownViewChange == null) {
            return;
        }
        if (viewChangeResendTicks > 0 && --viewChangeResendTicks == 0) {
            // Our VIEW-CHANGE may have been lost; say it again until a quorum is in.
            viewChangeResendTicks = config.viewChangeTimeoutTicks();
            out.messages.add(new Output.Outbound(Output.Outbound.BROADCAST, ownViewChange));
        }
    }

    /**
     * 4.4: a backup starts the timer when it receives a request and the timer is not running,
     * stops it when it no longer waits for that request, and restarts it then if it waits for
     * another (the oldest pending). Executions of other requests do not restart it: otherwise a
     * primary that orders other clients' requests at least once per timeout could censor one
     * request forever (CensorshipTest#aPrimaryOrderingOtherRequestsUnderLoadStillCannotCensorOne).
     */
    private void updateRequestTimer() {
        if (!viewActive || isPrimary() || pending.isEmpty()) {
            requestTimerTicks = -1;
            timedRequest = null;
            return;
        }
        if (requestTimerTicks < 0 || timedRequest == null || !pending.containsKey(timedRequest)) {
            Digest oldest = pending.keySet().iterator().next();
            if (!oldest.equals(timedRequest)) {
                catchUpHolds = 0;
            }
            timedRequest = oldest;
            armRequestTimer();
        }
    }

    /** A full request timeout from now for {@link #timedRequest}, and progress counted from here. */
    private void armRequestTimer() {
        // Doubled like the view-change timer while no request executed since the NEW-VIEW.
        requestTimerTicks = config.requestTimeoutTicks() << failedViewChanges;
        executedAtTimerStart = lastExecuted;
    }

    /**
     * Forgets pending requests the application's at-most-once index says executed (in state or
     * blocks fetched from peers, which the core never saw ordered); true when the request the
     * timer was running for was one of them. Runs only when a request timer expires, so its index
     * probes (one per pending request) do not cost anything on the normal path.
     */
    private boolean dropPendingExecutedElsewhere() {
        boolean timedOne = false;
        for (Iterator<Request> it = pending.values().iterator(); it.hasNext(); ) {
            Digest id = it.next().id();
            if (executedIndex.contains(id)) {
                it.remove();
                unordered.remove(id);
                orderedIds.remove(id);
                timedOne |= id.equals(timedRequest);
            }
        }
        return timedOne;
    }

    /** See {@link Config#primarySilenceTicks()}: off after a failed view change, and while this replica lags. */
    private boolean primarySilenceSuspected() {
        return config.primarySilenceTicks() > 0 && primarySilentTicks >= config.primarySilenceTicks()
                && failedViewChanges == 0 && !lagging();
    }

    /**
     * Behind the others, as far as this replica can know: waiting for state. Not "f+1 others
     * checkpointed past it": a replica that counted that as lag held its timer while the others'
     * view change needed its vote (RandomizedScheduleTest).
     */
    private boolean lagging() {
        return awaitingState();
    }

    /**
     * Whether an expired request timer should wait once more because this replica is catching up:
     * it executed something since the timer started (it is moving), f+1 other replicas signed
     * checkpoints above its last executed sequence (so at least one correct replica is ahead: the
     * primary is not stalling everyone), and it has held this request's timer fewer than
     * {@link #CATCH_UP_HOLDS_MAX} times. Bounded, because a replica holding its timer without limit
     * can withhold the vote a view change needs (RandomizedScheduleTest); needed, because a replica
     * far behind after a partition would otherwise time out mid catch-up and leave the view alone
     * (LaggingReplicaTimerTest).
     */
    private boolean catchingUp() {
        if (catchUpHolds >= CATCH_UP_HOLDS_MAX || lastExecuted <= executedAtTimerStart) {
            return false;
        }
        int ahead = 0;
        for (Map.Entry<Integer, TreeMap<Long, Signed<Checkpoint>>> e : checkpointVotes.entrySet()) {
            if (e.getKey() != self && !e.getValue().isEmpty() && e.getValue().lastKey() > lastExecuted) {
                ahead++;
            }
        }
        return ahead >= config.weakQuorum();
    }

    /** State this replica did not execute itself is needed before it can execute anything more. */
    private boolean awaitingState() {
        return lastExecuted < lowWatermark || (stateTransferTarget >= 0 && lastExecuted < stateTransferTarget);
    }

    /** A backup waited too long for a request to execute: suspect the primary (4.4). */
    private void onRequestTimeout() {
        if (!executedSinceNewView) {
            // The last view change installed a view in which nothing executed: it failed too.
            failedViewChanges = Math.min(failedViewChanges + 1, config.timeoutDoublingsMax());
        }
        startViewChange(view + 1);
    }

    /** 2f+1 replicas left the old view (see {@link #leftViewCount}) but no valid NEW-VIEW came in time: try the next view, waiting longer. */
    private void onViewChangeTimeout() {
        viewChangeCause = "no NEW-VIEW for view " + view + " in time";
        failedViewChanges = Math.min(failedViewChanges + 1, config.timeoutDoublingsMax());
        startViewChange(view + 1);
    }

    // ------------------------------------------------------------------ retransmission

    /**
     * Answers a peer's STATUS with what it lacks, at most once per status period per peer so a
     * peer cannot make this replica amplify traffic. Everything sent is a message already signed
     * (ours, or the primary's and other replicas' relayed as received), so nothing new is signed.
     */
    private void onStatus(Signed<Status> m) {
        Status st = m.payload();
        int peer = m.signer();
        if (!answerAllowed(peer)) {
            reject(RejectReason.STATUS_TOO_SOON, "status from " + peer, peer);
            return;
        }
        if (viewActive && currentNewView != null && (st.view() < view || (st.view() == view && !st.viewActive()))) {
            relay(peer, currentNewView);
        }
        if (!viewActive && ownViewChange != null && (st.view() < view || (st.view() == view && !st.viewActive()))) {
            // No NEW-VIEW yet: our VIEW-CHANGE is what a peer behind us or changing with us may lack.
            relay(peer, ownViewChange);
        }
        if (st.lowWatermark() < lowWatermark) {
            for (Signed<Checkpoint> c : stableProof) {
                relay(peer, c);
            }
        }
        // Every own CHECKPOINT the peer has not seen stable, not only those above what it executed:
        // a peer that executed past a checkpoint but lost the votes for it never advances h, and
        // with everyone in that state the window fills and nothing new is ordered (StatusTest#aReplicaThatExecutedPastLostCheckpointsStillGetsThemAndAdvancesH).
        // At most L/K + checkpointsAhead messages, once per status period.
        for (Signed<Checkpoint> c : ownCheckpointMessages.tailMap(Math.max(st.lowWatermark(), lowWatermark), false).values()) {
            relay(peer, c);
        }
        if (viewActive && st.viewActive() && st.view() == view) {
            // Slots in order from the first the peer lacks, up to a byte budget: a peer claiming to
            // have executed nothing must not pull the whole window (up to L full batches) from every
            // replica each period. It asks again next period from where it then stands.
            long budget = statusAnswerSlotBytesMax();
            for (Slot slot : log.tailMap(st.lastExecuted(), false).values()) {
                if (budget <= 0) {
                    break;
                }
                if (slot.prePrepare != null) {
                    relay(peer, slot.prePrepare);
                    budget -= slot.prePrepare.wireLength();
                }
                Signed<Prepare> prepare = slot.prepares.get(self);
                if (prepare != null) {
                    relay(peer, prepare);
                    budget -= prepare.wireLength();
                }
                Signed<Commit> commit = slot.commits.get(self);
                if (commit != null) {
                    relay(peer, commit);
                    budget -= commit.wireLength();
                }
            }
        }
    }

    /**
     * Bytes of relayed slot messages in one STATUS answer: four full PRE-PREPAREs' worth. A
     * slot is sent whole, so an answer may exceed this by one slot.
     */
    long statusAnswerSlotBytesMax() {
        return 4 * config.prePrepareBytesMax();
    }

    /** At most one answer (to a STATUS or a stale VIEW-CHANGE) per peer per status period. */
    private boolean answerAllowed(int peer) {
        Long last = lastStatusReplyTick.get(peer);
        if (last != null && ticks - last < config.statusTicks()) {
            return false;
        }
        lastStatusReplyTick.put(peer, ticks);
        return true;
    }

    private void relay(int peer, Signed<?> m) {
        if (m.signer() != peer) {
            out.messages.add(new Output.Outbound(peer, m));
        }
    }

    // ------------------------------------------------------------------ view change (4.4)

    private void startViewChange(long newView) {
        if (viewActive) {
            previousViewPrePrepares.clear();
            for (Slot s : log.values()) {
                if (s.prePrepare != null) {
                    previousViewPrePrepares.put(s.prePrepare.payload().sequence(), s.prePrepare);
                }
            }
        }
        view = newView;
        viewActive = false;
        // Views only grow, so votes of earlier views can never be asked for again; checkpoint
        // votes are view-independent and stay until garbage collection.
        ownVotes.keySet().removeIf(k -> k.type() != MessageType.CHECKPOINT && k.view() < newView);
        acceptedPrePrepares.keySet().removeIf(k -> k.view() < newView);
        requestTimerTicks = -1;
        viewChangeTimerTicks = -1;
        viewChangeResendTicks = config.viewChangeTimeoutTicks();
        currentNewView = null;
        log.clear();
        orderedIds.clear();
        unordered.clear();
        unordered.putAll(pending);
        out.persist.add(new PersistRecord.ViewState(newView, true));
        viewChanges.headMap(newView, false).clear();
        if (signingFloor.allowsViewChange(newView, lowWatermark)) {
            List<PreparedCertificate> prepared = new ArrayList<>(preparedCertificates.tailMap(lowWatermark, false).values());
            ownViewChange = factory.viewChange(newView, lowWatermark, stableDigest, stableProof, prepared);
            sendOwn(ownViewChange, MessageType.VIEW_CHANGE, newView, 0, null);
            viewChanges.computeIfAbsent(newView, k -> new TreeMap<>()).put(self, ownViewChange);
        } else {
            ownViewChange = null; // follows the others into the view without a vote
        }
        afterViewChangeVote();
    }

    private void onViewChange(Signed<ViewChange> m) {
        ViewChange vc = m.payload();
        checkPreparedAgainstSeen(vc);
        if (vc.newView() < view || (vc.newView() == view && viewActive)) {
            if (viewActive && currentNewView != null && answerAllowed(m.signer())) {
                // The sender is behind: it missed the NEW-VIEW of our view. Any replica may relay
                // it (it is the primary's signed message and proves 2f+1 moved). Rate-limited like
                // STATUS answers, since a NEW-VIEW is large and old VIEW-CHANGEs cost nothing to replay.
                relay(m.signer(), currentNewView);
            } else if (!viewActive && ownViewChange != null && vc.newView() < view && answerAllowed(m.signer())) {
                // We moved past the sender's view change without a NEW-VIEW: tell it where we
                // went, so it can count us toward the timer quorum or the f+1 join (4.5.2).
                relay(m.signer(), ownViewChange);
            }
            reject(RejectReason.OLD_VIEW, "view change to " + vc.newView() + " in view " + view, m.signer());
            return;
        }
        if (vc.newView() > view + config.viewChangeAheadMax()) {
            reject(RejectReason.VIEW_TOO_FAR_AHEAD, "view change to " + vc.newView() + " in view " + view, m.signer());
            return;
        }
        TreeMap<Integer, Signed<ViewChange>> forView = viewChanges.computeIfAbsent(vc.newView(), k -> new TreeMap<>());
        if (forView.containsKey(m.signer())) {
            reject(RejectReason.DUPLICATE, "view change to " + vc.newView(), m.signer());
            return;
        }
        forView.put(m.signer(), m);
        if (!joinHigherView()) {
            afterViewChangeVote();
        }
    }

    /**
     * 4.5.2 liveness rule: f+1 replicas asking for views above ours include a correct one, so
     * join the smallest such view instead of waiting for our own timer.
     */
    private boolean joinHigherView() {
        Set<Integer> askers = new HashSet<>();
        long smallest = Long.MAX_VALUE;
        for (Map.Entry<Long, TreeMap<Integer, Signed<ViewChange>>> e : viewChanges.tailMap(view, false).entrySet()) {
            for (Integer r : e.getValue().keySet()) {
                if (r != self) {
                    askers.add(r);
                    smallest = Math.min(smallest, e.getKey());
                }
            }
        }
        if (askers.size() >= config.weakQuorum()) {
            viewChangeCause = "f+1 replicas " + askers + " asked for view " + smallest + " or higher";
            startViewChange(smallest);
            return true;
        }
        return false;
    }

    private void afterViewChangeVote() {
        if (viewActive) {
            return;
        }
        if (viewChangeTimerTicks < 0 && leftViewCount() >= config.quorum()) {
            viewChangeTimerTicks = config.viewChangeTimeoutTicks() << failedViewChanges;
        }
        TreeMap<Integer, Signed<ViewChange>> forView = viewChanges.getOrDefault(view, new TreeMap<>());
        if (forView.size() >= config.quorum() && isPrimary() && forView.containsKey(self)) {
            sendNewView(forView);
        }
    }

    /**
     * Distinct replicas (us included) that sent VIEW-CHANGE for our view or a higher one. The
     * view-change timer (4.5.2) starts when this reaches 2f+1. The paper counts VIEW-CHANGEs for
     * our view only; with lossy links that alone can stall forever: a replica that had 2f+1 for
     * v, timed out and moved to v+1 stops re-sending its VIEW-CHANGE for v, so replicas that lost
     * it hold 2f for v and one for v+1: no quorum for v (no timer, no escalation) and fewer than
     * f+1 above v (no join). Counting every view at or above ours still needs 2f+1 replicas to
     * have abandoned the previous view, so a lone replica (a slow request, a state transfer) never
     * escalates by itself and stays at most one view ahead, where the others find it when they
     * change view; we do not start it at our own VIEW-CHANGE for that reason. This is a liveness
     * trigger only: moving to a higher view is always safe, and the NEW-VIEW still needs 2f+1
     * VIEW-CHANGEs for its own view.
     */
    private int leftViewCount() {
        Set<Integer> replicas = new HashSet<>();
        for (TreeMap<Integer, Signed<ViewChange>> forView : viewChanges.tailMap(view, true).values()) {
            replicas.addAll(forView.keySet());
        }
        return replicas.size();
    }

    private void sendNewView(TreeMap<Integer, Signed<ViewChange>> forView) {
        // V: our own VIEW-CHANGE and the lowest-numbered others, so the choice is deterministic.
        List<Signed<ViewChange>> chosen = new ArrayList<>();
        chosen.add(forView.get(self));
        for (Map.Entry<Integer, Signed<ViewChange>> e : forView.entrySet()) {
            if (chosen.size() >= config.quorum()) {
                break;
            }
            if (e.getKey() != self) {
                chosen.add(e.getValue());
            }
        }
        NewViewPlan plan = NewViewPlan.compute(chosen.stream().map(Signed::payload).toList());
        List<Signed<PrePrepare>> o = new ArrayList<>();
        for (Map.Entry<Long, Batch> e : plan.batches().entrySet()) {
            Signed<PrePrepare> pp = factory.prePrepare(view, e.getKey(), e.getValue());
            recordOwnVote(MessageType.PRE_PREPARE, view, e.getKey(), pp.payload().digest());
            // Also persisted on its own: STATUS answers may send it outside the NEW-VIEW.
            out.persist.add(new PersistRecord.OwnMessage(pp));
            o.add(pp);
        }
        Signed<NewView> nv = factory.newView(view, chosen, o);
        signingFloor.requireAllowed(nv);
        out.persist.add(new PersistRecord.OwnMessage(nv));
        out.persist.add(new PersistRecord.ViewState(view, false));
        out.messages.add(new Output.Outbound(Output.Outbound.BROADCAST, nv));
        enterView(nv, plan);
    }

    private void onNewView(Signed<NewView> m) {
        NewView nv = m.payload();
        if (nv.view() < view || (nv.view() == view && viewActive)) {
            reject(nv.view() == view ? RejectReason.DUPLICATE : RejectReason.OLD_VIEW,
                    "new view " + nv.view() + " in view " + view, m.signer());
            return;
        }
        // No view-ahead bound here (unlike VIEW-CHANGEs and normal-case messages): a NEW-VIEW is
        // self-certifying (2f+1 signed VIEW-CHANGEs, checked by the verifier and recomputed below)
        // and is handled at once, never buffered. A replica more than viewChangeAheadMax views
        // behind can rejoin only this way (ViewChangeLivenessTest#aReplicaManyViewsBehindRejoinsThroughARelayedNewView).
        // The verifier checked the signatures; recompute O here too, since this is where it matters.
        NewViewPlan plan = NewViewPlan.compute(nv.viewChanges().stream().map(Signed::payload).toList());
        var mismatch = plan.mismatch(nv.view(), nv.prePrepares());
        if (mismatch.isPresent()) {
            reject(RejectReason.NEW_VIEW_MISMATCH, mismatch.get(), m.signer());
            return;
        }
        for (Signed<ViewChange> vc : nv.viewChanges()) {
            checkPreparedAgainstSeen(vc.payload());
        }
        if (nv.view() > view) {
            // A valid NEW-VIEW proves 2f+1 replicas moved; follow without our own VIEW-CHANGE.
            if (viewActive) {
                viewChangeCause = "followed a valid NEW-VIEW for view " + nv.view();
                startViewChange(nv.view());
            } else {
                view = nv.view();
            }
        }
        out.persist.add(new PersistRecord.ViewState(view, false));
        enterView(m, plan);
    }

    private void enterView(Signed<NewView> nv, NewViewPlan plan) {
        viewChanges.headMap(view, true).clear();
        if (plan.stableSequence() > lowWatermark) {
            // Adopted while still changing view, so the replay inside puts this view's messages
            // back in the buffer instead of into a log that is about to be rebuilt.
            makeStable(plan.stableSequence(), plan.stableDigest(), plan.stableProof());
        }
        viewActive = true;
        // 4.5.2: the timeout grows until a request executes in the new view, not merely until a
        // NEW-VIEW arrives; otherwise a network slower than the base timeout churns views forever
        // (ViewChangeLivenessTest#aSlowButFaultFreeNetworkStopsChurningViewsOnceTimeoutsExceedTheDelay). Reset in onExecuted.
        executedSinceNewView = false;
        viewChangeTimerTicks = -1;
        viewChangeResendTicks = -1;
        currentNewView = nv;
        log.clear();
        orderedIds.clear();
        for (Signed<PrePrepare> pp : nv.payload().prePrepares()) {
            long s = pp.payload().sequence();
            if (s <= lowWatermark) {
                continue;
            }
            acceptPrePrepare(slot(s), pp);
            if (!isPrimary()) {
                sendPrepare(pp.payload());
            }
        }
        nextSequence = Math.max(plan.maxSequence(), lowWatermark) + 1;
        unordered.clear();
        Set<Digest> committedHere = new HashSet<>();
        deliveredIds.values().forEach(committedHere::addAll);
        for (Output.CommittedBatch b : committedUndelivered.values()) {
            b.requests().forEach(r -> committedHere.add(r.id()));
        }
        for (Request r : pending.values()) {
            if (!orderedIds.containsKey(r.id()) && !committedHere.contains(r.id())) {
                unordered.put(r.id(), r);
            }
        }
        requestTimerTicks = -1;
        updateRequestTimer();
        replayBuffered();
    }

    /** A prepared certificate whose pre-prepare conflicts with one we accepted is primary equivocation. */
    private void checkPreparedAgainstSeen(ViewChange vc) {
        for (PreparedCertificate pc : vc.prepared()) {
            Signed<PrePrepare> seen = null;
            Slot slot = log.get(pc.sequence());
            if (slot != null && slot.prePrepare != null && slot.prePrepare.payload().view() == pc.view()) {
                seen = slot.prePrepare;
            } else {
                Signed<PrePrepare> previous = previousViewPrePrepares.get(pc.sequence());
                if (previous != null && previous.payload().view() == pc.view()) {
                    seen = previous;
                }
            }
            if (seen != null && !seen.payload().digest().equals(pc.digest())) {
                evidence(seen, pc.prePrepare(), pc.view(), pc.sequence());
            }
        }
    }

    // ------------------------------------------------------------------ helpers

    private void sendOwn(Signed<?> m, MessageType type, long msgView, long sequence, Digest digest) {
        signingFloor.requireAllowed(m);
        if (digest != null) {
            recordOwnVote(type, msgView, sequence, digest);
        }
        out.persist.add(new PersistRecord.OwnMessage(m));
        out.messages.add(new Output.Outbound(Output.Outbound.BROADCAST, m));
    }

    /** The one place that guarantees this replica never signs two digests for one (type, view, sequence). */
    private void recordOwnVote(MessageType type, long msgView, long sequence, Digest digest) {
        VoteKey key = new VoteKey(type, msgView, sequence);
        Digest previous = ownVotes.putIfAbsent(key, digest);
        if (previous != null && !previous.equals(digest)) {
            throw new IllegalStateException("replica " + self + " about to sign a conflicting " + key);
        }
    }

    private Slot slot(long sequence) {
        return log.computeIfAbsent(sequence, k -> new Slot());
    }

    private void reject(RejectReason reason, String detail, int from) {
        out.rejections.add(new Output.Rejection(reason, detail, from));
    }

    /**
     * Reports a conflict once per (signer, type, view, sequence): one pair of signed messages
     * proves it, and a Byzantine peer sending the thousandth conflicting PREPARE for a slot, or
     * replaying an old VIEW-CHANGE with an equivocated certificate, must not make this replica
     * emit a thousand records (EquivocationTest#aConflictIsReportedOncePerSlotHoweverOftenItIsRepeated). The set is trimmed with the log and capped.
     */
    private void evidence(Signed<?> first, Signed<?> second, long msgView, long sequence) {
        if (!evidenceReported.add(new EvidenceKey(second.signer(), second.type(), msgView, sequence))) {
            return;
        }
        out.evidence.add(new Output.Evidence(second.signer(), second.type(), msgView, sequence, first, second));
    }

    private record EvidenceKey(int signer, MessageType type, long view, long sequence) {}

    /** Keys already reported; insertion order, so the oldest go first at {@link #EVIDENCE_REPORTED_MAX}. */
    private final Set<EvidenceKey> evidenceReported = java.util.Collections.newSetFromMap(new LinkedHashMap<>() {
        @Override
        protected boolean removeEldestEntry(Map.Entry<EvidenceKey, Boolean> eldest) {
            return size() > EVIDENCE_REPORTED_MAX;
        }
    });
    static final int EVIDENCE_REPORTED_MAX = 4_096;

    private long highWatermark() {
        return lowWatermark + config.watermarkWindow();
    }

    // ------------------------------------------------------------------ restart

    /**
     * Rebuilds a replica after a crash from the records it persisted (in the order they were
     * written) and the application's progress. It resumes in the persisted view (still changing
     * if it was), keeps its own votes so it never signs a conflicting message, its prepared
     * certificates for the next VIEW-CHANGE, its stable checkpoint, and, as primary, never
     * reuses a sequence number it assigned. Slots in which it voted but did not execute need the
     * others' messages again; if those are gone it catches up by checkpoint and state transfer.
     *
     * @param lastExecuted the highest sequence the application state covers
     */
    public static Replica restore(Config config, List<PersistRecord> records, long lastExecuted) {
        return restore(config, ExecutedRequests.NONE, records, lastExecuted);
    }

    public static Replica restore(Config config, ExecutedRequests executedIndex, List<PersistRecord> records,
            long lastExecuted) {
        return restore(config, executedIndex, ExecutedDigests.NONE, records, lastExecuted, SigningFloor.NONE);
    }

    /**
     * As above, with the executed headers' digests the anchors are checked against, for a
     * replica whose records of what it signed may be incomplete (its WAL was lost, damaged or
     * replaced by an older copy): {@code records} are those it kept since, and it signs nothing
     * {@code floor} forbids (see {@link SigningFloor}; {@link SigningFloor#NONE} when complete).
     */
    public static Replica restore(Config config, ExecutedRequests executedIndex, ExecutedDigests executedDigests,
            List<PersistRecord> records, long lastExecuted, SigningFloor floor) {
        Replica r = new Replica(config, executedIndex, executedDigests);
        r.signingFloor = Objects.requireNonNull(floor);
        r.restoreFrom(records, lastExecuted);
        return r;
    }

    private void restoreFrom(List<PersistRecord> records, long executed) {
        boolean changing = false;
        for (PersistRecord rec : records) {
            if (rec instanceof PersistRecord.ViewState vs) {
                if (vs.view() >= view) {
                    view = vs.view();
                    changing = vs.changing();
                }
            } else if (rec instanceof PersistRecord.StableCheckpoint sc) {
                if (sc.sequence() > lowWatermark) {
                    lowWatermark = sc.sequence();
                    stableDigest = sc.digest();
                    stableProof = sc.proof();
                }
            } else if (rec instanceof PersistRecord.Prepared p) {
                PreparedCertificate previous = preparedCertificates.get(p.certificate().sequence());
                if (previous == null || previous.view() <= p.certificate().view()) {
                    preparedCertificates.put(p.certificate().sequence(), p.certificate());
                }
            }
        }
        for (PersistRecord rec : records) {
            // Our own NEW-VIEW for this view may have been sent even if the record saying we
            // entered the view was torn off the WAL: we must not build a second, different one.
            if (rec instanceof PersistRecord.OwnMessage om && om.message().payload() instanceof NewView nv
                    && nv.view() == view) {
                changing = false;
            }
        }
        lastExecuted = executed;
        lastDelivered = executed;
        previousExecuted = executed;
        anchors.restored(executed);
        viewActive = !changing;
        for (PersistRecord rec : records) {
            if (rec instanceof PersistRecord.OwnMessage om) {
                restoreOwn(om.message());
            }
        }
        preparedCertificates.headMap(lowWatermark, true).clear();
        log.headMap(lowWatermark, true).clear();
        ownVotes.keySet().removeIf(k -> k.sequence() != 0 && k.sequence() <= lowWatermark);
        nextSequence = Math.max(nextSequence, Math.max(lowWatermark, executed) + 1);
        if (!viewActive) {
            viewChangeResendTicks = 1;
        }
        if (executed < lowWatermark) {
            stateTransferTarget = lowWatermark;
        }
    }

    private void restoreOwn(Signed<?> m) {
        Payload p = m.payload();
        if (p instanceof PrePrepare pp) {
            recordOwnVote(MessageType.PRE_PREPARE, pp.view(), pp.sequence(), pp.digest());
            lastTimestampMillis = Math.max(lastTimestampMillis, pp.batch().timestampMillis());
            if (pp.view() == view && viewActive && pp.sequence() > lowWatermark && pp.sequence() <= highWatermark()) {
                acceptPrePrepare(slot(pp.sequence()), m.as(PrePrepare.class));
                nextSequence = Math.max(nextSequence, pp.sequence() + 1);
            }
            if (pp.view() == view) {
                nextSequence = Math.max(nextSequence, pp.sequence() + 1);
            }
        } else if (p instanceof Prepare pr) {
            recordOwnVote(MessageType.PREPARE, pr.view(), pr.sequence(), pr.digest());
            if (pr.view() == view && viewActive && pr.sequence() > lowWatermark && pr.sequence() <= highWatermark()) {
                slot(pr.sequence()).prepares.put(self, m.as(Prepare.class));
            }
        } else if (p instanceof Commit c) {
            recordOwnVote(MessageType.COMMIT, c.view(), c.sequence(), c.digest());
            if (c.view() == view && viewActive && c.sequence() > lowWatermark && c.sequence() <= highWatermark()) {
                slot(c.sequence()).commits.put(self, m.as(Commit.class));
            }
        } else if (p instanceof Checkpoint c) {
            // A guard like every own vote (re-executing to another digest must not sign again), and
            // a vote: without it a restarted replica with f peers silent never sees this
            // checkpoint stable (RestartTest#aRestartedReplicaCountsItsOwnCheckpointVote).
            recordOwnVote(MessageType.CHECKPOINT, 0, c.sequence(), c.stateDigest());
            if (c.sequence() >= lowWatermark) {
                ownCheckpoints.put(c.sequence(), c.stateDigest());
                ownCheckpointMessages.put(c.sequence(), m.as(Checkpoint.class));
            }
            if (c.sequence() > lowWatermark) {
                recordCheckpointVote(m.as(Checkpoint.class));
            }
        } else if (p instanceof ViewChange vc) {
            if (vc.newView() == view) {
                ownViewChange = m.as(ViewChange.class);
                viewChanges.computeIfAbsent(view, k -> new TreeMap<>()).put(self, ownViewChange);
            }
        } else if (p instanceof NewView nv) {
            if (nv.view() == view) {
                currentNewView = m.as(NewView.class);
                for (Signed<PrePrepare> pp : nv.prePrepares()) {
                    restoreOwn(pp);
                }
            }
        }
    }

    /**
     * The output a restored replica should act on first: its VIEW-CHANGE again when it crashed
     * while changing view, and a state transfer when its application is behind its stable
     * checkpoint. Call once after {@link #restore}.
     */
    public Output resume() {
        out = new OutputBuilder();
        try {
            if (!viewActive && ownViewChange != null) {
                out.messages.add(new Output.Outbound(Output.Outbound.BROADCAST, ownViewChange));
            } else if (!viewActive) {
                // Crashed between persisting the view and its VIEW-CHANGE: send one now.
                long v = view;
                viewActive = true;
                startViewChange(v);
            }
            if (stateTransferTarget >= 0 && lastExecuted < lowWatermark) {
                requestStateTransfer();
            }
            return out.build();
        } finally {
            out = null;
        }
    }

    // ------------------------------------------------------------------ inspection and invariants

    public Config config() {
        return config;
    }

    public int id() {
        return self;
    }

    public long view() {
        return view;
    }

    /** Why this replica last left a view (operators only; empty before the first time). */
    public String viewChangeCause() {
        return viewChangeCause;
    }

    /** False between sending VIEW-CHANGE and accepting the NEW-VIEW. */
    public boolean viewActive() {
        return viewActive;
    }

    public boolean isPrimary() {
        return config.primary(view) == self;
    }

    public long lowWatermark() {
        return lowWatermark;
    }

    public SigningFloor signingFloor() {
        return signingFloor;
    }

    public Digest stableDigest() {
        return stableDigest;
    }

    public long lastExecuted() {
        return lastExecuted;
    }

    public long lastDelivered() {
        return lastDelivered;
    }

    public int pendingRequests() {
        return pending.size();
    }

    public int logSize() {
        return log.size();
    }

    public int futureBuffered() {
        int total = 0;
        for (ArrayDeque<Signed<?>> q : futureBuffer.values()) {
            total += q.size();
        }
        return total;
    }

    /**
     * Consecutive view changes that failed (no NEW-VIEW in time, or a NEW-VIEW after which no
     * request executed before the request timer expired); the view-change and request timeouts
     * are doubled this often. Back to 0 when a request executes.
     */
    public int failedViewChanges() {
        return failedViewChanges;
    }

    public long stateTransferTarget() {
        return stateTransferTarget;
    }

    /**
     * Throws {@link IllegalStateException} when an internal invariant is broken: that is a bug
     * in this class, never a consequence of peer input. Tests call it after every step.
     */
    public void checkInvariants() {
        require(lowWatermark % config.checkpointInterval() == 0, "h not a checkpoint: " + lowWatermark);
        require(log.isEmpty() || (log.firstKey() > lowWatermark && log.lastKey() <= highWatermark()),
                "log outside window (" + lowWatermark + ", " + highWatermark() + "]: " + log.keySet());
        require(log.size() <= config.watermarkWindow(), "log larger than the window");
        require(lastExecuted >= previousExecuted, "executed went backwards");
        previousExecuted = lastExecuted;
        require(lastExecuted <= lastDelivered, "executed " + lastExecuted + " beyond delivered " + lastDelivered);
        require(committedUndelivered.isEmpty() || committedUndelivered.firstKey() > lastDelivered,
                "committed batch at or below delivered");
        require(pending.size() <= config.pendingRequestsMax(), "pending above bound");
        for (ArrayDeque<Signed<?>> q : futureBuffer.values()) {
            require(q.size() <= config.futureBufferPerReplicaMax(), "future buffer above bound");
        }
        require(viewChanges.isEmpty() || viewChanges.lastKey() <= view + config.viewChangeAheadMax(),
                "view changes kept too far ahead");
        for (Map.Entry<Long, Slot> e : log.entrySet()) {
            Slot s = e.getValue();
            if (s.prePrepare != null) {
                PrePrepare pp = s.prePrepare.payload();
                require(pp.sequence() == e.getKey() && pp.view() == view, "slot holds a foreign pre-prepare");
                Digest accepted = acceptedPrePrepares.get(new VoteKey(MessageType.PRE_PREPARE, pp.view(), pp.sequence()));
                require(accepted == null || accepted.equals(pp.digest()), "two pre-prepares accepted for one slot");
            }
            require(!s.committed || s.prepared, "committed without prepared");
            require(s.prepares.size() <= config.n() && s.commits.size() <= config.n(), "slot votes above n");
        }
        require(!viewActive || !isPrimary() || nextSequence > lowWatermark, "primary's next sequence below h");
        for (TreeMap<Long, Signed<Checkpoint>> votes : checkpointVotes.values()) {
            require(votes.size() <= config.watermarkWindow() / config.checkpointInterval()
                    + config.checkpointsAheadPerReplicaMax(), "checkpoint votes above bound");
        }
    }

    private static void require(boolean condition, String what) {
        if (!condition) {
            throw new IllegalStateException("invariant broken: " + what);
        }
    }

    // ------------------------------------------------------------------ internal types

    private record VoteKey(MessageType type, long view, long sequence) {}

    /** One sequence number in the current view. */
    private static final class Slot {
        Signed<PrePrepare> prePrepare;
        final TreeMap<Integer, Signed<Prepare>> prepares = new TreeMap<>();
        final TreeMap<Integer, Signed<Commit>> commits = new TreeMap<>();
        boolean prepared;
        boolean committed;
        /** This backup's PREPARE waits until it executed the sequence the batch's anchor names. */
        boolean prepareAwaitsExecution;
    }

    private static final class OutputBuilder {
        final List<PersistRecord> persist = new ArrayList<>();
        final List<Output.Outbound> messages = new ArrayList<>();
        final List<Output.CommittedBatch> execute = new ArrayList<>();
        final List<Output.StateTransferRequest> stateTransfer = new ArrayList<>();
        final List<Output.Evidence> evidence = new ArrayList<>();
        final List<Output.Rejection> rejections = new ArrayList<>();

        Output build() {
            return new Output(persist, messages, execute, stateTransfer, evidence, rejections);
        }
    }
}
