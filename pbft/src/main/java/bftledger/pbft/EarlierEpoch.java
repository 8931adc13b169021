package bftledger.pbft;

import java.util.Optional;

/**
 * Recognises a message of an epoch before the one a core starts at ({@link Config#startView()},
 * {@link Config#startSequence()}). Every such message carries a view below the start view, except
 * a CHECKPOINT, which has no view and is at or below the start sequence. It is old, not faulty:
 * an honest replica of the previous validator set may still send it, so it is dropped as
 * {@link RejectReason#OLD_VIEW} or {@link RejectReason#OLD_SEQUENCE}, never kept as evidence
 * (EpochTest#aStartedCoreIgnoresTheOldEpochsMessagesWithoutCountingThemAsFaults).
 *
 * <p>An epoch's views are {@code [startView, startView + }{@link #VIEWS}{@code )}, so a message in
 * a higher view belongs to a later epoch, whose set may number the same key differently or have
 * another quorum: it is dropped as {@link RejectReason#BEYOND_EPOCH_END} before its signature is
 * checked, never counted towards this epoch's quorums (EpochTest#aCoreDropsTheNextEpochsMessages).
 * A later epoch's CHECKPOINT (no view) can only move this core to fetch blocks, each checked
 * against the set in force at its height.
 */
final class EarlierEpoch {
    /** Views one epoch may use: the next epoch starts {@code VIEWS} above this one's start view. */
    static final long VIEWS = 1L << 32;

    private EarlierEpoch() {}

    /** Why {@code p} belongs to an earlier epoch, or empty when it may belong to this one. */
    static Optional<Verdict.Rejected<Object>> of(Config config, Payload p) {
        long view;
        long sequence;
        if (p instanceof PrePrepare pp) {
            view = pp.view();
            sequence = pp.sequence();
        } else if (p instanceof Prepare pr) {
            view = pr.view();
            sequence = pr.sequence();
        } else if (p instanceof Commit c) {
            view = c.view();
            sequence = c.sequence();
        } else if (p instanceof Checkpoint c) {
            view = config.startView();
            sequence = c.sequence();
        } else if (p instanceof ViewChange vc) {
            // A VIEW-CHANGE of this epoch proves a stable checkpoint at or above the start.
            view = vc.newView();
            sequence = vc.stableSequence() < config.startSequence() ? config.startSequence() : Long.MAX_VALUE;
        } else if (p instanceof NewView nv) {
            view = nv.view();
            sequence = Long.MAX_VALUE;
        } else if (p instanceof Status st) {
            view = st.view();
            sequence = Long.MAX_VALUE;
        } else {
            return Optional.empty();
        }
        if (view - config.startView() >= VIEWS) {
            return Optional.of(new Verdict.Rejected<>(RejectReason.BEYOND_EPOCH_END,
                    p.type() + " of view " + view + ", in a later epoch than this one's (from view " + config.startView() + ")"));
        }
        if (view < config.startView()) {
            return Optional.of(new Verdict.Rejected<>(RejectReason.OLD_VIEW,
                    p.type() + " of view " + view + ", before this epoch's first view " + config.startView()));
        }
        if (sequence <= config.startSequence()) {
            return Optional.of(new Verdict.Rejected<>(RejectReason.OLD_SEQUENCE,
                    p.type() + " from before this epoch's start at sequence " + config.startSequence()));
        }
        return Optional.empty();
    }
}
