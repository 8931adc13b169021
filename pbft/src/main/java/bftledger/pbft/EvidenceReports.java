package bftledger.pbft;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;

/**
 * Conflicts already reported, once per (signer, type, view, sequence): one pair of signed
 * messages proves it, and a Byzantine peer sending the thousandth conflicting PREPARE for a slot,
 * or replaying an old VIEW-CHANGE with an equivocated certificate, must not make this replica
 * emit a thousand records (EquivocationTest#aConflictIsReportedOncePerSlotHoweverOftenItIsRepeated).
 * Trimmed with the log and capped at {@link #REPORTED_MAX}, the oldest going first.
 */
final class EvidenceReports {
    static final int REPORTED_MAX = 4_096;

    private record Key(int signer, MessageType type, long view, long sequence) {}

    private final Set<Key> reported = Collections.newSetFromMap(new LinkedHashMap<>() {
        @Override
        protected boolean removeEldestEntry(Map.Entry<Key, Boolean> eldest) {
            return size() > REPORTED_MAX;
        }
    });

    /** True the first time a conflict by {@code signer} for this (type, view, sequence) is seen. */
    boolean first(int signer, MessageType type, long view, long sequence) {
        return reported.add(new Key(signer, type, view, sequence));
    }

    /** Forgets conflicts at or below the stable checkpoint h (sequence 0: view-wide, kept). */
    void collectGarbage(long h) {
        reported.removeIf(k -> k.sequence() != 0 && k.sequence() <= h);
    }
}
