package bftledger.pbft;

import java.util.TreeMap;

/** One sequence number in the current view (4.2): its pre-prepare, the votes for it, how far it got. */
final class Slot {
    Signed<PrePrepare> prePrepare;
    final TreeMap<Integer, Signed<Prepare>> prepares = new TreeMap<>();
    final TreeMap<Integer, Signed<Commit>> commits = new TreeMap<>();
    boolean prepared;
    boolean committed;
    /** This backup's PREPARE waits until it executed the sequence the batch's anchor names. */
    boolean prepareAwaitsExecution;
}
