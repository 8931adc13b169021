package bftledger.pbft;

import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * The message log (4.2): a {@link Slot} per sequence of the current view inside the window, and
 * what outlives a view change: this replica's prepared certificates (for its next VIEW-CHANGE)
 * and the previous view's pre-prepares (to recognise a primary's equivocation in the
 * certificates a VIEW-CHANGE carries). Everything at or below the stable checkpoint goes.
 */
final class MessageLog {
    private final TreeMap<Long, Slot> slots = new TreeMap<>();
    private final TreeMap<Long, Signed<PrePrepare>> previousView = new TreeMap<>();
    private final TreeMap<Long, PreparedCertificate> prepared = new TreeMap<>();

    Slot slot(long sequence) {
        return slots.computeIfAbsent(sequence, k -> new Slot());
    }

    /** The slots in sequence order. */
    Collection<Slot> slots() {
        return slots.values();
    }

    Map<Long, Slot> slotsBySequence() {
        return Collections.unmodifiableMap(slots);
    }

    int size() {
        return slots.size();
    }

    /** A new view starts with an empty log. */
    void clear() {
        slots.clear();
    }

    /**
     * This replica's messages for the slots above {@code sequence}, in order: the pre-prepare and
     * its own PREPARE and COMMIT, whole slots until {@code budgetBytes} are spent (so up to one
     * slot more).
     */
    List<Signed<?>> ownSlotMessagesAbove(long sequence, int self, long budgetBytes) {
        List<Signed<?>> messages = new ArrayList<>();
        long budget = budgetBytes;
        for (Slot slot : slots.tailMap(sequence, false).values()) {
            if (budget <= 0) {
                break;
            }
            for (Signed<?> m : new Signed<?>[] {slot.prePrepare, slot.prepares.get(self), slot.commits.get(self)}) {
                if (m != null) {
                    messages.add(m);
                    budget -= m.wireLength();
                }
            }
        }
        return messages;
    }

    void recordPrepared(PreparedCertificate cert) {
        prepared.put(cert.sequence(), cert);
    }

    /** The prepared certificates above {@code sequence}, for a VIEW-CHANGE. */
    List<PreparedCertificate> preparedAbove(long sequence) {
        return new ArrayList<>(prepared.tailMap(sequence, false).values());
    }

    /** Leaving the current view: its pre-prepares stay known until the next view change. */
    void leaveView() {
        previousView.clear();
        for (Slot s : slots.values()) {
            if (s.prePrepare != null) {
                previousView.put(s.prePrepare.payload().sequence(), s.prePrepare);
            }
        }
    }

    /** The pre-prepare this replica accepted for (view, sequence) in this view or the previous one, or null. */
    Signed<PrePrepare> seen(long view, long sequence) {
        Slot slot = slots.get(sequence);
        if (slot != null && slot.prePrepare != null && slot.prePrepare.payload().view() == view) {
            return slot.prePrepare;
        }
        Signed<PrePrepare> previous = previousView.get(sequence);
        if (previous != null && previous.payload().view() == view) {
            return previous;
        }
        return null;
    }

    /** Discards everything at or below the stable checkpoint h (4.3). */
    void collectGarbage(long h) {
        slots.headMap(h, true).clear();
        previousView.headMap(h, true).clear();
        prepared.headMap(h, true).clear();
    }

    /** The epoch ends at {@code sequence}: nothing above it is ordered in this log. */
    void discardAbove(long sequence) {
        slots.tailMap(sequence, false).clear();
        prepared.tailMap(sequence, false).clear();
    }

    /** A prepared certificate read back from the records; the one of the highest view wins. */
    void restorePrepared(PreparedCertificate cert) {
        PreparedCertificate previous = prepared.get(cert.sequence());
        if (previous == null || previous.view() <= cert.view()) {
            prepared.put(cert.sequence(), cert);
        }
    }

    void checkInvariants(long lowWatermark, long highWatermark, int window) {
        Invariants.require(slots.isEmpty() || (slots.firstKey() > lowWatermark && slots.lastKey() <= highWatermark),
                "log outside window (" + lowWatermark + ", " + highWatermark + "]: " + slots.keySet());
        Invariants.require(slots.size() <= window, "log larger than the window");
    }
}
