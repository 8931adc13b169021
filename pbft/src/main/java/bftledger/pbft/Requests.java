package bftledger.pbft;

import bftledger.crypto.Digest;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;

/**
 * Client requests at this replica: those pending (at most {@link Config#pendingRequestsMax()};
 * beyond it refused, the client retries), which of them are not yet ordered in this view, and
 * executed ids, remembered until a stable checkpoint covers them. After that a resubmitted id
 * could be ordered again, and the ledger's at-most-once rule makes that execution a no-op.
 */
final class Requests {
    private final Config config;
    private final ExecutedRequests executedIndex;
    /** In arrival order: the request timer runs for the oldest. */
    private final LinkedHashMap<Digest, Request> pending = new LinkedHashMap<>();
    private final LinkedHashMap<Digest, Request> unordered = new LinkedHashMap<>();
    private final Map<Digest, Long> orderedIds = new HashMap<>();
    private final Map<Digest, Long> executedIds = new HashMap<>();
    private final TreeMap<Long, List<Digest>> executedIdsBySequence = new TreeMap<>();

    Requests(Config config, ExecutedRequests executedIndex) {
        this.config = config;
        this.executedIndex = executedIndex;
    }

    /** Takes a client's request to wait for, or says why not. */
    Optional<Output.Rejection> admit(Request r) {
        Digest id = r.id();
        if (r.payloadLength() > config.requestBytesMax()) {
            return refuse(RejectReason.OVERSIZE, id.shortHex() + " of " + r.payloadLength() + " bytes");
        }
        if (executedIds.containsKey(id) || executedIndex.contains(id)) {
            return refuse(RejectReason.ALREADY_EXECUTED, id.shortHex());
        }
        if (pending.containsKey(id)) {
            return refuse(RejectReason.DUPLICATE, "request " + id.shortHex() + " already pending");
        }
        if (pending.size() >= config.pendingRequestsMax()) {
            return refuse(RejectReason.PENDING_REQUESTS_FULL, id.shortHex());
        }
        pending.put(id, r);
        if (!orderedIds.containsKey(id)) {
            unordered.put(id, r);
        }
        return Optional.empty();
    }

    private static Optional<Output.Rejection> refuse(RejectReason reason, String detail) {
        return Optional.of(new Output.Rejection(reason, detail, -1));
    }

    /** Pending ids in arrival order (a live view). */
    Set<Digest> pendingIds() {
        return pending.keySet();
    }

    int pendingCount() {
        return pending.size();
    }

    boolean anyUnordered() {
        return !unordered.isEmpty();
    }

    /**
     * The next batch for the primary to propose: unordered requests in arrival order, up to
     * {@link Config#batchCountMax()} and {@link Config#batchBytesMax()}. Requests the
     * application's index says executed (in state this replica fetched rather than executed
     * itself) are dropped on the way, so the batch may be empty while others still wait.
     */
    List<Request> nextBatch() {
        List<Request> requests = new ArrayList<>();
        long bytes = 0;
        Iterator<Request> it = unordered.values().iterator();
        while (it.hasNext() && requests.size() < config.batchCountMax()) {
            Request r = it.next();
            if (executedIndex.contains(r.id())) {
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
        return requests;
    }

    /** A pre-prepare for {@code sequence} with these requests was accepted. */
    void ordered(List<Request> batch, long sequence) {
        for (Request r : batch) {
            orderedIds.put(r.id(), sequence);
            unordered.remove(r.id());
        }
    }

    /** A new view starts: nothing is ordered in it yet. */
    void forgetOrdered() {
        orderedIds.clear();
    }

    /** Changing view: nothing is ordered, every pending request waits to be ordered in the next view. */
    void unorderAll() {
        orderedIds.clear();
        unordered.clear();
        unordered.putAll(pending);
    }

    /** In a new view: pending requests neither ordered by its NEW-VIEW nor in {@code committed} wait to be ordered. */
    void unorderAllBut(Set<Digest> committed) {
        unordered.clear();
        for (Request r : pending.values()) {
            if (!orderedIds.containsKey(r.id()) && !committed.contains(r.id())) {
                unordered.put(r.id(), r);
            }
        }
    }

    /** The batch at {@code sequence}, with these request ids, executed here. */
    void executed(long sequence, List<Digest> ids) {
        for (Digest id : ids) {
            pending.remove(id);
            unordered.remove(id);
            orderedIds.remove(id);
            executedIds.put(id, sequence);
        }
        executedIdsBySequence.put(sequence, ids);
    }

    /**
     * State up to {@code sequence} was transferred; {@code executedThere} are ids it executed as
     * far as this replica knows. The fetched state also executed requests this replica never saw
     * ordered: stop waiting for them, or its request timer fires for requests that already
     * executed and it sits alone in a view change (StateTransferRequestsTest).
     */
    void transferred(long sequence, List<Digest> executedThere) {
        List<Digest> executedHere = new ArrayList<>(executedThere);
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
    }

    /**
     * Forgets pending requests the application's at-most-once index says executed (in state or
     * blocks fetched from peers, which the core never saw ordered); true when {@code timed} was
     * one of them. Runs only when a request timer expires, so its index probes (one per pending
     * request) do not cost anything on the normal path.
     */
    boolean dropExecutedElsewhere(Digest timed) {
        boolean timedOne = false;
        for (Iterator<Request> it = pending.values().iterator(); it.hasNext(); ) {
            Digest id = it.next().id();
            if (executedIndex.contains(id)) {
                it.remove();
                unordered.remove(id);
                orderedIds.remove(id);
                timedOne |= id.equals(timed);
            }
        }
        return timedOne;
    }

    /** Forgets ids executed or ordered at or below the stable checkpoint h. */
    void collectGarbage(long h) {
        var executedBelow = executedIdsBySequence.headMap(h, true);
        for (List<Digest> ids : executedBelow.values()) {
            ids.forEach(executedIds::remove);
        }
        executedBelow.clear();
        // Requests ordered at or below h stay pending (if not seen executed) and are proposed
        // again after the next view change; the ledger's at-most-once rule absorbs a repeat.
        orderedIds.values().removeIf(s -> s <= h);
    }

    void checkInvariants() {
        Invariants.require(pending.size() <= config.pendingRequestsMax(), "pending above bound");
    }
}
