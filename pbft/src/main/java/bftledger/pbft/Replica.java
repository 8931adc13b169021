package bftledger.pbft;

import static bftledger.pbft.Invariants.require;

import bftledger.crypto.Digest;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
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
 * Rules with state of their own are named parts that decide while this class routes and acts:
 * {@code Checkpoints} (4.3), {@code ViewChanges} (4.4), {@code RequestTimer} and
 * {@code StatusTimer} (ticks), {@code Requests} (pending client requests, bounded by
 * {@link Config#pendingRequestsMax()}), {@code MessageLog}, {@code FutureBuffer} and
 * {@code EvidenceReports}. This class keeps the dispatch, the normal case (4.2), execution and
 * restart.
 *
 * <p>Epochs: a core orders the sequences of one validator set. It starts after
 * {@link Config#startSequence()} in {@link Config#startView()} (0 and 0 for the first set), and
 * messages of an earlier epoch are old ({@link EarlierEpoch}). Once told {@link Event.EpochEnds}
 * it orders nothing above that last sequence: its window stops there, messages above it are
 * dropped ({@link RejectReason#BEYOND_EPOCH_END}), and a primary with nothing to order proposes
 * empty batches until the end is reached. Then it is finished: it starts no view change for
 * waiting requests (the next core orders them) but still answers STATUS and keeps checkpoints,
 * so laggards can finish too.
 *
 * <p>Section references are to Castro and Liskov, "Practical Byzantine Fault Tolerance" (OSDI
 * 1999).
 */
public final class Replica {
    private final Config config;
    private final MessageFactory factory;
    private final int self;
    private final ExecutedDigests executedDigests;
    /** What this replica may sign after a restore from incomplete records (see {@link SigningFloor}). */
    private SigningFloor signingFloor = SigningFloor.NONE;

    /** The epoch's end was not announced: the window is never cut. */
    private static final long NO_END = Long.MAX_VALUE;

    // View state (4.4).
    private long view;
    private boolean viewActive = true;

    // The normal case (4.2).
    private final MessageLog log = new MessageLog();
    private final TreeMap<Long, Output.CommittedBatch> committedUndelivered = new TreeMap<>();
    private long nextSequence;
    private long lastTimestampMillis;
    private long nowMillis;

    // Execution.
    private long lastDelivered;
    private long lastExecuted;
    private final TreeMap<Long, List<Digest>> deliveredIds = new TreeMap<>();
    /** The last sequence of this core's epoch (see {@link Event.EpochEnds}), or {@link #NO_END}. */
    private long epochEnd = NO_END;

    // Header anchors (see Batch and HeaderAnchors).
    private final HeaderAnchors anchors;

    // Parts.
    private final OwnVotes ownVotes;
    /** The low watermark h, the stable checkpoint, state transfer (4.3). */
    private final Checkpoints checkpoints;
    private final ViewChanges viewChanges;
    private final RequestTimer requestTimer;
    private final StatusTimer statusTimer;
    private final Requests requests;
    private final FutureBuffer futureBuffer;
    private final EvidenceReports evidenceReports = new EvidenceReports();

    // For invariants across steps.
    private long previousExecuted;
    /** The pre-prepare digest accepted per (view, sequence). */
    private final Map<SlotKey, Digest> acceptedPrePrepares = new HashMap<>();

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
        this.requests = new Requests(config, Objects.requireNonNull(executedIndex));
        this.futureBuffer = new FutureBuffer(config);
        this.executedDigests = Objects.requireNonNull(executedDigests);
        this.anchors = new HeaderAnchors(config, executedDigests);
        if (config.key() == null) {
            throw new IllegalArgumentException("a replica needs its signing key");
        }
        this.self = config.replicaId();
        this.factory = new MessageFactory(self, config.key());
        this.ownVotes = new OwnVotes(self);
        this.checkpoints = new Checkpoints(config);
        this.viewChanges = new ViewChanges(config);
        this.requestTimer = new RequestTimer(config);
        this.statusTimer = new StatusTimer(config);
        // The application executed the previous epochs up to the start; this one orders after it.
        this.view = config.startView();
        this.nextSequence = config.startSequence() + 1;
        this.lastExecuted = config.startSequence();
        this.lastDelivered = config.startSequence();
        this.previousExecuted = config.startSequence();
        anchors.restored(config.startSequence());
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
                onTick(t);
            } else if (event instanceof Event.Executed e) {
                onExecuted(e.sequence(), e.stateDigest());
            } else if (event instanceof Event.StateTransferred s) {
                onStateTransferred(s.sequence(), s.stateDigest(), s.executedRequestIds());
            } else if (event instanceof Event.EpochEnds e) {
                onEpochEnds(e.lastSequence());
            }
            // Delivered first: a batch committed by this step frees the pipeline, and the next
            // PRE-PREPARE leaves before the batch is executed (PipelineTest).
            deliverCommitted();
            proposeBatches();
            return out.build();
        } finally {
            out = null;
        }
    }

    private void onMessage(Signed<?> m) {
        Payload p = m.payload();
        // Before anything else: the signer numbering of an earlier epoch may differ from ours.
        Optional<Verdict.Rejected<Object>> earlier = EarlierEpoch.of(config, p);
        if (earlier.isPresent()) {
            reject(earlier.get().reason(), earlier.get().detail(), m.signer());
            return;
        }
        if (m.signer() == self) {
            reject(RejectReason.DUPLICATE, "own message echoed back", m.signer());
            return;
        }
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
        if (sequence <= lowWatermark()) {
            reject(RejectReason.OLD_SEQUENCE, m.type() + " for " + sequence + " at or below h=" + lowWatermark(), m.signer());
            return false;
        }
        if (sequence > epochEnd) {
            rejectBeyondEnd(m, sequence);
            return false;
        }
        if (msgView > view || !viewActive || sequence > highWatermark()) {
            buffer(m);
            return false;
        }
        return true;
    }

    /**
     * Dropped, not buffered: no sequence above the end is ordered in this epoch, and a replica that
     * has not learned the end yet may send one honestly (EpochTest#aByzantinePrimaryProposingBeyondTheEndGetsNoPrepares).
     */
    private void rejectBeyondEnd(Signed<?> m, long sequence) {
        reject(RejectReason.BEYOND_EPOCH_END, m.type() + " for " + sequence + " above the epoch's end " + epochEnd, m.signer());
    }

    private void buffer(Signed<?> m) {
        if (!futureBuffer.offer(m)) {
            reject(RejectReason.FUTURE_BUFFER_FULL, m.type() + " from " + m.signer() + " dropped", m.signer());
        }
    }

    /** Re-offers buffered messages after the view or the window moved; still-future ones go back. */
    private void replayBuffered() {
        for (Signed<?> m : futureBuffer.drain()) {
            onMessage(m);
        }
    }

    // ------------------------------------------------------------------ normal case (4.2)

    private void onPrePrepare(Signed<PrePrepare> m) {
        PrePrepare pp = m.payload();
        Slot slot = log.slot(pp.sequence());
        if (slot.prePrepare != null) {
            if (slot.prePrepare.payload().digest().equals(pp.digest())) {
                reject(RejectReason.DUPLICATE, "pre-prepare " + pp.sequence(), m.signer());
            } else {
                evidence(slot.prePrepare, m, pp.view(), pp.sequence());
                reject(RejectReason.CONFLICTING_MESSAGE, "second pre-prepare for (" + pp.view() + ", " + pp.sequence() + ")", m.signer());
            }
            return;
        }
        Digest own = ownVotes.get(MessageType.PREPARE, pp.view(), pp.sequence());
        if (own != null && !own.equals(pp.digest())) {
            reject(RejectReason.CONFLICTS_OWN_VOTE, "prepared another digest for (" + pp.view() + ", " + pp.sequence() + ")", m.signer());
            return;
        }
        HeaderAnchors.Check anchor = anchors.check(pp, lastExecuted);
        if (anchor.refused()) {
            // The primary names a header this replica did not execute (or none where one is due):
            // no PREPARE from here. Kept in the slot all the same, for equivocation evidence and
            // in case q-1 others (f+1 of them correct, so the anchor right) prepare it.
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
        for (Slot slot : log.slots()) {
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
        Digest before = acceptedPrePrepares.putIfAbsent(new SlotKey(pp.view(), pp.sequence()), pp.digest());
        if (before != null && !before.equals(pp.digest())) {
            throw new IllegalStateException("accepted a second pre-prepare digest for (" + pp.view() + ", " + pp.sequence() + ")");
        }
        requests.ordered(pp.batch().requests(), pp.sequence());
    }

    private void sendPrepare(PrePrepare pp) {
        if (!signingFloor.allowsVote(pp.view(), pp.sequence())) {
            return;
        }
        Signed<Prepare> prepare = factory.prepare(pp.view(), pp.sequence(), pp.digest());
        sendOwn(prepare, MessageType.PREPARE, pp.view(), pp.sequence(), pp.digest());
        log.slot(pp.sequence()).prepares.put(self, prepare);
    }

    private void onPrepare(Signed<Prepare> m) {
        Prepare p = m.payload();
        Slot slot = log.slot(p.sequence());
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
        Slot slot = log.slot(c.sequence());
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

    /** prepared(m, v, n, i): the pre-prepare and q-1 matching prepares from distinct backups. */
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
        if (matching.size() < config.preparedQuorum()) {
            return;
        }
        slot.prepared = true;
        PreparedCertificate cert = new PreparedCertificate(slot.prePrepare, matching.subList(0, config.preparedQuorum()));
        out.persist.add(new PersistRecord.Prepared(cert));
        log.recordPrepared(cert);
        if (signingFloor.allowsVote(pp.view(), pp.sequence())) {
            Signed<Commit> commit = factory.commit(pp.view(), pp.sequence(), pp.digest());
            sendOwn(commit, MessageType.COMMIT, pp.view(), pp.sequence(), pp.digest());
            slot.commits.put(self, commit);
        }
        checkCommitted(slot);
    }

    /** committed-local(m, v, n, i): prepared and a quorum of matching commits from distinct replicas. */
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
        while (lastDelivered >= lowWatermark()) {
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
        requests.admit(r).ifPresentOrElse(out.rejections::add, this::updateRequestTimer);
    }

    /**
     * The primary proposes while requests wait, the window has room and the pipeline is not full:
     * fewer than {@link Config#pipelineDepthMax()} of its batches are proposed and not yet
     * committed here. Committed, not executed: the node sends the next PRE-PREPARE before it
     * executes the batch just committed, so the primary's execution overlaps the next round.
     */
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
        if (!requests.anyUnordered()) {
            if (epochEndPending()) {
                proposeEmptyTowardEpochEnd();
            } else {
                proposeIdleAnchor();
            }
            return;
        }
        while (requests.anyUnordered() && pipelineHasRoom()) {
            List<Request> batch = requests.nextBatch();
            if (batch.isEmpty()) {
                continue; // all skipped as executed; the loop condition re-checks what is left
            }
            propose(batch, false);
        }
    }

    private boolean pipelineHasRoom() {
        return nextSequence <= highWatermark() && nextSequence - 1 - lastDelivered < config.pipelineDepthMax();
    }

    /**
     * Stronger than the idle anchor while the epoch's end is pending: empty batches back to back,
     * so the next validator set takes over soon even when no client sends anything
     * (EpochTest#withNoRequestsAfterTheAnnouncementTheCoreStillReachesTheEnd).
     */
    private void proposeEmptyTowardEpochEnd() {
        while (pipelineHasRoom()) {
            propose(List.of(), false);
        }
    }

    private void propose(List<Request> batchRequests, boolean idleAnchor) {
        // Timestamps never go backwards and are never 0, so a real batch is never the null batch.
        long timestamp = Math.max(Math.max(nowMillis, lastTimestampMillis), 1);
        lastTimestampMillis = timestamp;
        Batch batch = new Batch(timestamp, batchRequests, anchors.forProposal(nextSequence, lastExecuted, lastDelivered, idleAnchor));
        Signed<PrePrepare> pp = factory.prePrepare(view, nextSequence, batch);
        sendOwn(pp, MessageType.PRE_PREPARE, view, nextSequence, pp.payload().digest());
        acceptPrePrepare(log.slot(nextSequence), pp);
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
            propose(List.of(), true);
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
            requests.executed(sequence, ids);
            if (viewActive) {
                viewChanges.executed();
            }
            updateRequestTimer();
        } else if (epochEnd != NO_END) {
            // Progress toward the end restarts its timer, and reaching it stops every timer.
            updateRequestTimer();
        }
        if (sequence % config.checkpointInterval() == 0) {
            takeCheckpoint(sequence, stateDigest);
        }
    }

    private void takeCheckpoint(long sequence, Digest stateDigest) {
        Signed<Checkpoint> c = factory.checkpoint(sequence, stateDigest);
        checkpoints.recordOwn(c);
        sendOwn(c, MessageType.CHECKPOINT, 0, sequence, stateDigest);
        if (sequence > lowWatermark()) {
            recordCheckpointVote(c);
        }
    }

    private void onCheckpoint(Signed<Checkpoint> m) {
        Checkpoint c = m.payload();
        if (c.sequence() <= lowWatermark()) {
            reject(RejectReason.OLD_SEQUENCE, "checkpoint " + c.sequence() + " at or below h=" + lowWatermark(), m.signer());
            return;
        }
        if (c.sequence() > epochEnd) {
            // Never state beyond the end: the next core starts from the end's checkpoint.
            rejectBeyondEnd(m, c.sequence());
            return;
        }
        Signed<Checkpoint> previous = checkpoints.voteOf(m.signer(), c.sequence());
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

    private void recordCheckpointVote(Signed<Checkpoint> m) {
        Checkpoints.Decision decision = checkpoints.vote(m, lastDelivered, viewActive);
        if (decision instanceof Checkpoints.Stable stable) {
            makeStable(stable.sequence(), stable.digest(), stable.proof());
        } else if (decision instanceof Checkpoints.Fetch fetch) {
            out.stateTransfer.add(fetch.request());
        }
    }

    private void makeStable(long sequence, Digest digest, List<Signed<Checkpoint>> proof) {
        if (!checkpoints.advance(sequence, digest, proof)) {
            return;
        }
        out.persist.add(new PersistRecord.StableCheckpoint(sequence, digest, proof));
        Digest own = checkpoints.own(sequence);
        collectGarbage();
        if (own != null && !own.equals(digest)) {
            // A quorum agrees on another state: ours diverged (a bug or corruption here).
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
        out.stateTransfer.add(checkpoints.fetchStable());
    }

    /** Discards everything at or below the stable checkpoint h (4.3). */
    private void collectGarbage() {
        long h = lowWatermark();
        log.collectGarbage(h);
        committedUndelivered.headMap(h, true).clear();
        ownVotes.collectGarbage(h);
        acceptedPrePrepares.keySet().removeIf(k -> k.sequence() <= h);
        evidenceReports.collectGarbage(h);
        checkpoints.collectGarbage();
        requests.collectGarbage(h);
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
        List<Digest> executedThere = new ArrayList<>(reportedIds);
        var delivered = deliveredIds.headMap(sequence, true);
        delivered.values().forEach(executedThere::addAll);
        delivered.clear();
        var committed = committedUndelivered.headMap(sequence, true);
        for (Output.CommittedBatch b : committed.values()) {
            b.requests().forEach(r -> executedThere.add(r.id()));
        }
        committed.clear();
        checkpoints.transferred(sequence);
        requests.transferred(sequence, executedThere);
        updateRequestTimer();
        if (sequence % config.checkpointInterval() == 0 && checkpoints.own(sequence) == null) {
            takeCheckpoint(sequence, digest);
        }
    }

    // ------------------------------------------------------------------ epochs

    /**
     * See {@link Event.EpochEnds}. Slots, certificates and buffered messages above the end go: a
     * PREPARE held for an anchor above it must never be released, and a VIEW-CHANGE must carry no
     * certificate above it, so that primary and backups compute the same NEW-VIEW.
     */
    private void onEpochEnds(long lastSequence) {
        if (lastSequence == epochEnd) {
            return;
        }
        if (epochEnd != NO_END) {
            throw new IllegalArgumentException("the epoch ends at " + epochEnd + ", not at " + lastSequence);
        }
        if (lastSequence % config.checkpointInterval() != 0 || lastSequence < lastDelivered) {
            // Below what was handed out for execution, the next core would order those sequences again.
            throw new IllegalArgumentException("epoch end " + lastSequence + " must be a checkpoint sequence at or above "
                    + "the last executed " + lastExecuted + " and the last handed out " + lastDelivered);
        }
        epochEnd = lastSequence;
        log.discardAbove(lastSequence);
        committedUndelivered.tailMap(lastSequence, false).clear();
        acceptedPrePrepares.keySet().removeIf(k -> k.sequence() > lastSequence);
        updateRequestTimer();
        replayBuffered();
    }

    /** The end was announced and not executed yet. */
    private boolean epochEndPending() {
        return epochEnd != NO_END && lastExecuted < epochEnd;
    }

    // ------------------------------------------------------------------ timers

    private void onTick(Event.Tick t) {
        if (requestTimer.detected(t) && requestTimer.running()) {
            // Back in touch after being cut off (or paused): the timer ran while nothing
            // could execute here. A full timeout from now to catch up before suspecting
            // anyone; otherwise a timer about to expire fires on the first tick and the
            // replica leaves the view alone, far behind the others
            // (LaggingReplicaTimerTest#aReplicaHealedJustBeforeItsTimerExpiresGetsAFullTimeoutToCatchUp).
            armRequestTimer();
        }
        nowMillis = Math.max(nowMillis, t.nowMillis());
        anchors.tick(viewActive && isPrimary() && !requests.anyUnordered());
        if (statusTimer.tick()) {
            out.messages.add(new Output.Outbound(Output.Outbound.BROADCAST,
                    factory.status(view, viewActive, lowWatermark(), lastExecuted)));
        }
        requestTimer.countPrimarySilence(viewActive, config.primary(view));
        if (viewActive) {
            onRequestTimerTick();
            return;
        }
        switch (viewChanges.tick()) {
            case TIMED_OUT -> onViewChangeTimeout();
            case RESEND -> out.messages.add(new Output.Outbound(Output.Outbound.BROADCAST, viewChanges.own()));
            case NOTHING -> { }
        }
    }

    private void onRequestTimerTick() {
        switch (requestTimer.tick(viewChanges.failed(), lagging())) {
            case PRIMARY_SILENT -> {
                // A crashed, paused or cut-off primary (PrimarySilenceTest).
                viewChanges.cause("primary " + config.primary(view) + " silent for " + config.primarySilenceTicks()
                        + " ticks with requests waiting");
                onRequestTimeout();
            }
            case EXPIRED -> onRequestTimerExpired();
            case NONE -> { }
        }
    }

    private void onRequestTimerExpired() {
        if (requests.dropExecutedElsewhere(requestTimer.timedRequest())) {
            // The request waited for is in the ledger already: it executed in blocks this
            // replica fetched (catch-up) rather than ordered itself. The primary did its
            // job; wait for what is really still pending.
            updateRequestTimer();
        } else if (lagging() || !requestTimer.quorumHeard()) {
            // Requests do not execute here, but not (as far as this replica can tell)
            // because the primary stalls: this replica lags (waiting for state), or it
            // hears too few others to be in any quorum (cut off,
            // or just resumed from a pause). A VIEW-CHANGE now would take it out of the
            // view alone, where it stays until the others change view too, while they go
            // on without it. So wait a timeout more. Liveness: if the primary is faulty,
            // the others' VIEW-CHANGEs still pull this one along (f+1 rule, 4.5.2); once it
            // hears a quorum again and is not behind, the next expiry suspects the
            // primary as before.
            updateRequestTimer();
        } else if (requestTimer.holdForCatchUp(lastExecuted, checkpoints.othersAbove(lastExecuted))) {
            // Provably behind (f+1 others, one of them correct, checkpointed past us) and
            // moving forward: the request may well sit in what we have yet to execute.
            // Bounded, so a primary cannot use a replica's lag to censor a request for
            // longer than a few timeouts.
            updateRequestTimer();
        } else {
            Digest timed = requestTimer.timedRequest();
            viewChanges.cause(timed == null && epochEndPending()
                    ? "epoch end " + epochEnd + " not reached within the request timeout"
                    : "request " + (timed == null ? "?" : timed.shortHex()) + " not executed within the request timeout");
            onRequestTimeout();
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
        if (!viewActive || isPrimary() || epochFinished()) {
            // Finished: what waits is for the next core (EpochTest#afterTheEndNoViewChangeStartsThoughRequestsWait).
            requestTimer.clear();
        } else if (requests.pendingCount() > 0) {
            requestTimer.watch(requests.pendingIds(), requestTimeoutTicks(), lastExecuted);
        } else if (epochEndPending()) {
            requestTimer.watchEpochEnd(requestTimeoutTicks(), lastExecuted);
        } else {
            requestTimer.clear();
        }
    }

    /** A full request timeout from now, and progress counted from here. */
    private void armRequestTimer() {
        requestTimer.arm(requestTimeoutTicks(), lastExecuted);
    }

    /** Doubled like the view-change timer while no request executed since the NEW-VIEW. */
    private int requestTimeoutTicks() {
        return viewChanges.backedOff(config.requestTimeoutTicks());
    }

    /**
     * Behind the others, as far as this replica can know: waiting for state. Not "f+1 others
     * checkpointed past it": a replica that counted that as lag held its timer while the others'
     * view change needed its vote (RandomizedScheduleTest).
     */
    private boolean lagging() {
        return awaitingState();
    }

    /** State this replica did not execute itself is needed before it can execute anything more. */
    private boolean awaitingState() {
        return checkpoints.awaitingState(lastExecuted);
    }

    /** A backup waited too long for a request to execute: suspect the primary (4.4). */
    private void onRequestTimeout() {
        viewChanges.requestTimedOut();
        startViewChange(view + 1);
    }

    /** A quorum left the old view but no valid NEW-VIEW came in time: try the next view, waiting longer. */
    private void onViewChangeTimeout() {
        viewChanges.timedOut(view);
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
        if (!statusTimer.answerAllowed(peer)) {
            reject(RejectReason.STATUS_TOO_SOON, "status from " + peer, peer);
            return;
        }
        if (viewActive && viewChanges.currentNewView() != null && (st.view() < view || (st.view() == view && !st.viewActive()))) {
            relay(peer, viewChanges.currentNewView());
        }
        if (!viewActive && viewChanges.own() != null && (st.view() < view || (st.view() == view && !st.viewActive()))) {
            // No NEW-VIEW yet: our VIEW-CHANGE is what a peer behind us or changing with us may lack.
            relay(peer, viewChanges.own());
        }
        if (st.lowWatermark() < lowWatermark()) {
            for (Signed<Checkpoint> c : checkpoints.stableProof()) {
                relay(peer, c);
            }
        }
        // Every own CHECKPOINT the peer has not seen stable, not only those above what it executed:
        // a peer that executed past a checkpoint but lost the votes for it never advances h, and
        // with everyone in that state the window fills and nothing new is ordered (StatusTest#aReplicaThatExecutedPastLostCheckpointsStillGetsThemAndAdvancesH).
        // At most L/K + checkpointsAhead messages, once per status period.
        for (Signed<Checkpoint> c : checkpoints.ownMessagesAbove(Math.max(st.lowWatermark(), lowWatermark()))) {
            relay(peer, c);
        }
        if (viewActive && st.viewActive() && st.view() == view) {
            // Slots in order from the first the peer lacks, up to a byte budget: a peer claiming to
            // have executed nothing must not pull the whole window (up to L full batches) from every
            // replica each period. It asks again next period from where it then stands.
            for (Signed<?> slotMessage : log.ownSlotMessagesAbove(st.lastExecuted(), self, statusAnswerSlotBytesMax())) {
                relay(peer, slotMessage);
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

    private void relay(int peer, Signed<?> m) {
        if (m.signer() != peer) {
            out.messages.add(new Output.Outbound(peer, m));
        }
    }

    // ------------------------------------------------------------------ view change (4.4)

    private void startViewChange(long newView) {
        if (viewActive) {
            log.leaveView();
        }
        view = newView;
        viewActive = false;
        ownVotes.forgetViewsBelow(newView);
        acceptedPrePrepares.keySet().removeIf(k -> k.view() < newView);
        requestTimer.stop();
        viewChanges.start(newView);
        log.clear();
        requests.unorderAll();
        out.persist.add(new PersistRecord.ViewState(newView, true));
        // Where its signing floor forbids a VIEW-CHANGE, it sends none and follows the others in.
        if (signingFloor.allowsViewChange(newView, lowWatermark())) {
            List<PreparedCertificate> prepared = log.preparedAbove(lowWatermark());
            Signed<ViewChange> own = factory.viewChange(newView, lowWatermark(), checkpoints.stableDigest(),
                    checkpoints.stableProof(), prepared);
            sendOwn(own, MessageType.VIEW_CHANGE, newView, 0, null);
            viewChanges.recordOwn(own);
        }
        afterViewChangeVote();
    }

    private void onViewChange(Signed<ViewChange> m) {
        ViewChange vc = m.payload();
        checkPreparedAgainstSeen(vc);
        if (vc.newView() < view || (vc.newView() == view && viewActive)) {
            if (viewActive && viewChanges.currentNewView() != null && statusTimer.answerAllowed(m.signer())) {
                // The sender is behind: it missed the NEW-VIEW of our view. Any replica may relay
                // it (it is the primary's signed message and proves a quorum moved). Rate-limited like
                // STATUS answers, since a NEW-VIEW is large and old VIEW-CHANGEs cost nothing to replay.
                relay(m.signer(), viewChanges.currentNewView());
            } else if (!viewActive && viewChanges.own() != null && vc.newView() < view
                    && statusTimer.answerAllowed(m.signer())) {
                // We moved past the sender's view change without a NEW-VIEW: tell it where we
                // went, so it can count us toward the timer quorum or the f+1 join (4.5.2).
                relay(m.signer(), viewChanges.own());
            }
            reject(RejectReason.OLD_VIEW, "view change to " + vc.newView() + " in view " + view, m.signer());
            return;
        }
        if (vc.newView() > view + config.viewChangeAheadMax()) {
            reject(RejectReason.VIEW_TOO_FAR_AHEAD, "view change to " + vc.newView() + " in view " + view, m.signer());
            return;
        }
        if (vc.stableSequence() > epochEnd) {
            rejectBeyondEnd(m, vc.stableSequence());
            return;
        }
        if (!viewChanges.record(m)) {
            reject(RejectReason.DUPLICATE, "view change to " + vc.newView(), m.signer());
            return;
        }
        if (!joinHigherView()) {
            afterViewChangeVote();
        }
    }

    /** The f+1 rule of 4.5.2 (see {@link ViewChanges#higherViewToJoin}); true when it moved this replica. */
    private boolean joinHigherView() {
        Optional<ViewChanges.Join> join = viewChanges.higherViewToJoin(view);
        if (join.isEmpty()) {
            return false;
        }
        viewChanges.cause("f+1 replicas " + join.get().askers() + " asked for view " + join.get().view() + " or higher");
        startViewChange(join.get().view());
        return true;
    }

    private void afterViewChangeVote() {
        if (viewActive) {
            return;
        }
        List<Signed<ViewChange>> chosen = viewChanges.afterVote(view, isPrimary());
        if (!chosen.isEmpty()) {
            sendNewView(chosen);
        }
    }

    private void sendNewView(List<Signed<ViewChange>> chosen) {
        NewViewPlan plan = ViewChanges.plan(chosen, epochEnd);
        List<Signed<PrePrepare>> o = new ArrayList<>();
        for (Map.Entry<Long, Batch> e : plan.batches().entrySet()) {
            Signed<PrePrepare> pp = factory.prePrepare(view, e.getKey(), e.getValue());
            ownVotes.record(MessageType.PRE_PREPARE, view, e.getKey(), pp.payload().digest());
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
        // self-certifying (a quorum of signed VIEW-CHANGEs, checked by the verifier and recomputed below)
        // and is handled at once, never buffered. A replica more than viewChangeAheadMax views
        // behind can rejoin only this way (ViewChangeLivenessTest#aReplicaManyViewsBehindRejoinsThroughARelayedNewView).
        // The verifier checked the signatures; recompute O here too, since this is where it matters.
        NewViewPlan plan = ViewChanges.plan(nv.viewChanges(), epochEnd);
        var mismatch = plan.mismatch(nv.view(), nv.prePrepares());
        if (mismatch.isPresent()) {
            reject(RejectReason.NEW_VIEW_MISMATCH, mismatch.get(), m.signer());
            return;
        }
        for (Signed<ViewChange> vc : nv.viewChanges()) {
            checkPreparedAgainstSeen(vc.payload());
        }
        if (nv.view() > view) {
            // A valid NEW-VIEW proves a quorum moved; follow without our own VIEW-CHANGE.
            if (viewActive) {
                viewChanges.cause("followed a valid NEW-VIEW for view " + nv.view());
                startViewChange(nv.view());
            } else {
                view = nv.view();
            }
        }
        out.persist.add(new PersistRecord.ViewState(view, false));
        enterView(m, plan);
    }

    private void enterView(Signed<NewView> nv, NewViewPlan plan) {
        if (plan.stableSequence() > lowWatermark()) {
            // Adopted while still changing view, so the replay inside puts this view's messages
            // back in the buffer instead of into a log that is about to be rebuilt.
            makeStable(plan.stableSequence(), plan.stableDigest(), plan.stableProof());
        }
        viewActive = true;
        viewChanges.enter(view, nv);
        log.clear();
        requests.forgetOrdered();
        for (Signed<PrePrepare> pp : nv.payload().prePrepares()) {
            long s = pp.payload().sequence();
            if (s <= lowWatermark()) {
                continue;
            }
            acceptPrePrepare(log.slot(s), pp);
            if (!isPrimary()) {
                sendPrepare(pp.payload());
            }
        }
        nextSequence = Math.max(plan.maxSequence(), lowWatermark()) + 1;
        Set<Digest> committedHere = new HashSet<>();
        deliveredIds.values().forEach(committedHere::addAll);
        for (Output.CommittedBatch b : committedUndelivered.values()) {
            b.requests().forEach(r -> committedHere.add(r.id()));
        }
        requests.unorderAllBut(committedHere);
        requestTimer.stop();
        updateRequestTimer();
        replayBuffered();
    }

    /** A prepared certificate whose pre-prepare conflicts with one we accepted is primary equivocation. */
    private void checkPreparedAgainstSeen(ViewChange vc) {
        for (PreparedCertificate pc : vc.prepared()) {
            Signed<PrePrepare> seen = log.seen(pc.view(), pc.sequence());
            if (seen != null && !seen.payload().digest().equals(pc.digest())) {
                evidence(seen, pc.prePrepare(), pc.view(), pc.sequence());
            }
        }
    }

    // ------------------------------------------------------------------ helpers

    private void sendOwn(Signed<?> m, MessageType type, long msgView, long sequence, Digest digest) {
        signingFloor.requireAllowed(m);
        if (digest != null) {
            ownVotes.record(type, msgView, sequence, digest);
        }
        out.persist.add(new PersistRecord.OwnMessage(m));
        out.messages.add(new Output.Outbound(Output.Outbound.BROADCAST, m));
    }

    private void reject(RejectReason reason, String detail, int from) {
        out.rejections.add(new Output.Rejection(reason, detail, from));
    }

    /** Reports a conflict between two signed messages, once (see {@link EvidenceReports}). */
    private void evidence(Signed<?> first, Signed<?> second, long msgView, long sequence) {
        if (evidenceReports.first(second.signer(), second.type(), msgView, sequence)) {
            out.evidence.add(new Output.Evidence(second.signer(), second.type(), msgView, sequence, first, second));
        }
    }

    /** h + L, cut at the epoch's end. */
    private long highWatermark() {
        return Math.min(checkpoints.highWatermark(), epochEnd);
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
     * <p>A core started at an epoch ({@link Config#withStart}) keeps its start: the view is at least
     * the start view, h at least the start sequence, and records of an earlier epoch are ignored.
     *
     * @param lastExecuted the highest sequence the application state covers; at least the start
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
        if (lastExecuted < config.startSequence()) {
            throw new IllegalArgumentException("executed " + lastExecuted + ", before the epoch's start " + config.startSequence());
        }
        Replica r = new Replica(config, executedIndex, executedDigests);
        r.signingFloor = Objects.requireNonNull(floor);
        r.restoreFrom(records, lastExecuted);
        return r;
    }

    private void restoreFrom(List<PersistRecord> allRecords, long executed) {
        List<PersistRecord> records = allRecords.stream().filter(rec -> !ofEarlierEpoch(rec)).toList();
        boolean changing = false;
        for (PersistRecord rec : records) {
            if (rec instanceof PersistRecord.ViewState vs) {
                if (vs.view() >= view) {
                    view = vs.view();
                    changing = vs.changing();
                }
            } else if (rec instanceof PersistRecord.StableCheckpoint sc) {
                checkpoints.restoreStable(sc);
            } else if (rec instanceof PersistRecord.Prepared p) {
                log.restorePrepared(p.certificate());
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
        log.collectGarbage(lowWatermark());
        ownVotes.collectGarbage(lowWatermark());
        nextSequence = Math.max(nextSequence, Math.max(lowWatermark(), executed) + 1);
        if (!viewActive) {
            viewChanges.resendAtNextTick();
        }
        checkpoints.restored(executed);
    }

    /** A record a core of an earlier epoch wrote, where the node keeps one WAL across epochs. */
    private boolean ofEarlierEpoch(PersistRecord rec) {
        if (rec instanceof PersistRecord.ViewState vs) {
            return vs.view() < config.startView();
        } else if (rec instanceof PersistRecord.StableCheckpoint sc) {
            return sc.sequence() < config.startSequence();
        } else if (rec instanceof PersistRecord.Prepared p) {
            return p.certificate().view() < config.startView();
        } else if (rec instanceof PersistRecord.OwnMessage om) {
            return EarlierEpoch.of(config, om.message().payload()).isPresent();
        }
        return false;
    }

    private void restoreOwn(Signed<?> m) {
        Payload p = m.payload();
        if (p instanceof PrePrepare pp) {
            ownVotes.record(MessageType.PRE_PREPARE, pp.view(), pp.sequence(), pp.digest());
            lastTimestampMillis = Math.max(lastTimestampMillis, pp.batch().timestampMillis());
            if (pp.view() == view && viewActive && pp.sequence() > lowWatermark() && pp.sequence() <= highWatermark()) {
                acceptPrePrepare(log.slot(pp.sequence()), m.as(PrePrepare.class));
                nextSequence = Math.max(nextSequence, pp.sequence() + 1);
            }
            if (pp.view() == view) {
                nextSequence = Math.max(nextSequence, pp.sequence() + 1);
            }
        } else if (p instanceof Prepare pr) {
            ownVotes.record(MessageType.PREPARE, pr.view(), pr.sequence(), pr.digest());
            if (pr.view() == view && viewActive && pr.sequence() > lowWatermark() && pr.sequence() <= highWatermark()) {
                log.slot(pr.sequence()).prepares.put(self, m.as(Prepare.class));
            }
        } else if (p instanceof Commit c) {
            ownVotes.record(MessageType.COMMIT, c.view(), c.sequence(), c.digest());
            if (c.view() == view && viewActive && c.sequence() > lowWatermark() && c.sequence() <= highWatermark()) {
                log.slot(c.sequence()).commits.put(self, m.as(Commit.class));
            }
        } else if (p instanceof Checkpoint c) {
            // A guard like every own vote (re-executing to another digest must not sign again), and
            // a vote: without it a restarted replica with f peers silent never sees this
            // checkpoint stable (RestartTest#aRestartedReplicaCountsItsOwnCheckpointVote).
            ownVotes.record(MessageType.CHECKPOINT, 0, c.sequence(), c.stateDigest());
            checkpoints.restoreOwn(m.as(Checkpoint.class));
            if (c.sequence() > lowWatermark()) {
                recordCheckpointVote(m.as(Checkpoint.class));
            }
        } else if (p instanceof ViewChange vc) {
            if (vc.newView() == view) {
                viewChanges.recordOwn(m.as(ViewChange.class));
            }
        } else if (p instanceof NewView nv) {
            if (nv.view() == view) {
                viewChanges.restoreNewView(m.as(NewView.class));
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
            if (!viewActive && viewChanges.own() != null) {
                out.messages.add(new Output.Outbound(Output.Outbound.BROADCAST, viewChanges.own()));
            } else if (!viewActive) {
                // Crashed between persisting the view and its VIEW-CHANGE: send one now.
                long v = view;
                viewActive = true;
                startViewChange(v);
            }
            if (checkpoints.stateTransferTarget() >= 0 && lastExecuted < lowWatermark()) {
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
        return viewChanges.cause();
    }

    /** False between sending VIEW-CHANGE and accepting the NEW-VIEW. */
    public boolean viewActive() {
        return viewActive;
    }

    public boolean isPrimary() {
        return config.primary(view) == self;
    }

    public long lowWatermark() {
        return checkpoints.lowWatermark();
    }

    public SigningFloor signingFloor() {
        return signingFloor;
    }

    public Digest stableDigest() {
        return checkpoints.stableDigest();
    }

    public long lastExecuted() {
        return lastExecuted;
    }

    public long lastDelivered() {
        return lastDelivered;
    }

    public int pendingRequests() {
        return requests.pendingCount();
    }

    public int logSize() {
        return log.size();
    }

    public int futureBuffered() {
        return futureBuffer.size();
    }

    /**
     * Consecutive view changes that failed (no NEW-VIEW in time, or a NEW-VIEW after which no
     * request executed before the request timer expired); the view-change and request timeouts
     * are doubled this often. Back to 0 when a request executes.
     */
    public int failedViewChanges() {
        return viewChanges.failed();
    }

    public long stateTransferTarget() {
        return checkpoints.stateTransferTarget();
    }

    /** The last sequence of this core's epoch, once announced ({@link Event.EpochEnds}). */
    public java.util.OptionalLong epochEnd() {
        return epochEnd == NO_END ? java.util.OptionalLong.empty() : java.util.OptionalLong.of(epochEnd);
    }

    /**
     * The epoch's end was announced and executed here: this core orders nothing more, runs no
     * request timer, and stays only to answer STATUS and serve checkpoints to laggards.
     */
    public boolean epochFinished() {
        return epochEnd != NO_END && lastExecuted >= epochEnd;
    }

    /**
     * Throws {@link IllegalStateException} when an internal invariant is broken: that is a bug
     * in this class, never a consequence of peer input. Tests call it after every step.
     */
    public void checkInvariants() {
        checkpoints.checkInvariants();
        log.checkInvariants(lowWatermark(), highWatermark(), config.watermarkWindow());
        require(lastExecuted >= previousExecuted, "executed went backwards");
        previousExecuted = lastExecuted;
        require(lastExecuted <= lastDelivered, "executed " + lastExecuted + " beyond delivered " + lastDelivered);
        require(committedUndelivered.isEmpty() || committedUndelivered.firstKey() > lastDelivered,
                "committed batch at or below delivered");
        requests.checkInvariants();
        futureBuffer.checkInvariants();
        viewChanges.checkInvariants(view);
        for (Map.Entry<Long, Slot> e : log.slotsBySequence().entrySet()) {
            Slot s = e.getValue();
            if (s.prePrepare != null) {
                PrePrepare pp = s.prePrepare.payload();
                require(pp.sequence() == e.getKey() && pp.view() == view, "slot holds a foreign pre-prepare");
                Digest accepted = acceptedPrePrepares.get(new SlotKey(pp.view(), pp.sequence()));
                require(accepted == null || accepted.equals(pp.digest()), "two pre-prepares accepted for one slot");
            }
            require(!s.committed || s.prepared, "committed without prepared");
            require(s.prepares.size() <= config.n() && s.commits.size() <= config.n(), "slot votes above n");
        }
        require(!viewActive || !isPrimary() || nextSequence > lowWatermark(), "primary's next sequence below h");
        require(view >= config.startView(), "view " + view + " below the epoch's start view");
        require(lastDelivered <= epochEnd && committedUndelivered.tailMap(epochEnd, false).isEmpty(),
                "handed out or committed beyond the epoch's end " + epochEnd);
    }

    // ------------------------------------------------------------------ internal types

    private record SlotKey(long view, long sequence) {}
}
