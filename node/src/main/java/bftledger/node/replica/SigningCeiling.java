package bftledger.node.replica;

import bftledger.pbft.Commit;
import bftledger.pbft.NewView;
import bftledger.pbft.Payload;
import bftledger.pbft.PersistRecord;
import bftledger.pbft.PrePrepare;
import bftledger.pbft.Prepare;
import bftledger.pbft.SigningFloor;
import bftledger.pbft.ViewChange;
import java.util.List;

/**
 * An upper bound on what a replica has signed: no PRE-PREPARE, PREPARE or COMMIT for a view
 * above {@code view} or a sequence above {@code sequence}, and no VIEW-CHANGE or NEW-VIEW for a
 * view above {@code view}. Kept as a lease: {@link #cover} raises it ahead of need, the sequence
 * by a margin (a watermark window), so the node writes it durably once per window of sequences
 * and once per view instead of at every step; a replica that lost its WAL is restored under it as
 * its {@link SigningFloor}. CHECKPOINTs and STATUS are not covered: the floor never forbids them.
 */
public record SigningCeiling(long view, long sequence) {
    /** Nothing signed yet. */
    public static final SigningCeiling NONE = new SigningCeiling(-1, 0);

    public SigningCeiling {
        if (view < -1 || sequence < 0) {
            throw new IllegalArgumentException("signing ceiling (" + view + ", " + sequence + ") out of range");
        }
    }

    /**
     * This ceiling if every message signed in {@code records} is under it; otherwise one raised to
     * cover them all, its sequence {@code sequenceMargin} above the highest signed.
     */
    public SigningCeiling cover(List<PersistRecord> records, long sequenceMargin) {
        long highestView = view;
        long highestSequence = -1;
        for (PersistRecord r : records) {
            if (r instanceof PersistRecord.OwnMessage own) {
                Payload p = own.message().payload();
                long v;
                long s = 0;
                if (p instanceof PrePrepare x) {
                    v = x.view();
                    s = x.sequence();
                } else if (p instanceof Prepare x) {
                    v = x.view();
                    s = x.sequence();
                } else if (p instanceof Commit x) {
                    v = x.view();
                    s = x.sequence();
                } else if (p instanceof ViewChange x) {
                    v = x.newView();
                } else if (p instanceof NewView x) {
                    v = x.view();
                } else {
                    continue;
                }
                highestView = Math.max(highestView, v);
                highestSequence = Math.max(highestSequence, s);
            }
        }
        long newSequence = highestSequence > sequence ? highestSequence + sequenceMargin : sequence;
        return highestView == view && newSequence == sequence ? this : new SigningCeiling(highestView, newSequence);
    }

    /** Whether this bound is at least {@code other} in both view and sequence. */
    public boolean covers(SigningCeiling other) {
        return view >= other.view && sequence >= other.sequence;
    }

    public SigningCeiling max(SigningCeiling other) {
        return new SigningCeiling(Math.max(view, other.view), Math.max(sequence, other.sequence));
    }

    /** What a replica that lost its record of what it signed may still sign: nothing under this ceiling. */
    public SigningFloor asFloor() {
        return new SigningFloor(view, sequence);
    }
}
