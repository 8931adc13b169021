package bftledger.pbft;

/**
 * What a replica may sign after it lost part of its record of what it signed (a lost, damaged
 * or older consensus WAL): {@code view} and {@code sequence} bound every view and every sequence
 * number for which it may have signed a PRE-PREPARE, PREPARE, COMMIT, VIEW-CHANGE or NEW-VIEW
 * before (the node keeps such a bound apart from its WAL). The rules, and why each keeps the
 * replica from contradicting a signature it no longer knows of:
 * <ul>
 *   <li>PRE-PREPARE, PREPARE, COMMIT for (v, s): only when {@code v > view} or
 *       {@code s > sequence}. Every lost vote lies inside the box (view, sequence), so a vote
 *       outside it has no lost twin of the same type, view and sequence that it could
 *       contradict.</li>
 *   <li>VIEW-CHANGE for v, and so the NEW-VIEW the primary of v builds on its own VIEW-CHANGE:
 *       only when {@code v > view} and the replica's stable checkpoint is at or above
 *       {@code sequence}. A VIEW-CHANGE must report every request prepared above its stable
 *       checkpoint; sent while lost certificates could lie above the checkpoint, it would omit
 *       them and a new view could drop a request committed at correct replicas. From
 *       {@code sequence} on every lost certificate is below a checkpoint that a quorum of
 *       replicas signed.</li>
 *   <li>CHECKPOINT: always; its digest follows from executing the committed log, the same at
 *       every correct replica. STATUS carries no vote.</li>
 * </ul>
 * Until it is past the floor ({@link #passed}) the replica follows without voting: it accepts
 * PRE-PREPAREs, counts the others' PREPAREs and COMMITs, executes what a quorum of others commit,
 * follows NEW-VIEWs, stable checkpoints and state transfers, and adds no signature to any
 * quorum. The others go on without it while it is one of the f faulty replicas the protocol
 * allows for (see SigningFloorTest).
 */
public record SigningFloor(long view, long sequence) {
    /** Nothing lost: every message may be signed. */
    public static final SigningFloor NONE = new SigningFloor(-1, 0);

    public SigningFloor {
        if (view < -1 || sequence < 0) {
            throw new IllegalArgumentException("signing floor (" + view + ", " + sequence + ") out of range");
        }
    }

    /** Whether a PRE-PREPARE, PREPARE or COMMIT for ({@code msgView}, {@code msgSequence}) may be signed. */
    public boolean allowsVote(long msgView, long msgSequence) {
        return msgView > view || msgSequence > sequence;
    }

    /** Whether a VIEW-CHANGE to {@code newView} may be signed while the stable checkpoint is {@code stableSequence}. */
    public boolean allowsViewChange(long newView, long stableSequence) {
        return newView > view && stableSequence >= sequence;
    }

    /**
     * Whether nothing is forbidden any more from this view and stable checkpoint on, so the
     * replica votes as any other: every vote still to come is for a sequence above the stable
     * checkpoint (so above {@code sequence}) and every VIEW-CHANGE for a view above the current
     * one (so above {@code view}).
     */
    public boolean passed(long currentView, long stableSequence) {
        return currentView >= view && stableSequence >= sequence;
    }

    /** Throws when {@code m}, about to be signed and sent, is one the floor forbids: a bug in the caller. */
    void requireAllowed(Signed<?> m) {
        Payload p = m.payload();
        boolean allowed;
        if (p instanceof PrePrepare x) {
            allowed = allowsVote(x.view(), x.sequence());
        } else if (p instanceof Prepare x) {
            allowed = allowsVote(x.view(), x.sequence());
        } else if (p instanceof Commit x) {
            allowed = allowsVote(x.view(), x.sequence());
        } else if (p instanceof ViewChange x) {
            allowed = allowsViewChange(x.newView(), x.stableSequence());
        } else if (p instanceof NewView x) {
            allowed = x.view() > view;
        } else {
            allowed = true;
        }
        if (!allowed) {
            throw new IllegalStateException("about to sign " + m.type() + " below the signing floor " + this);
        }
    }
}
