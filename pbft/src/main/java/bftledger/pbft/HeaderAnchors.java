package bftledger.pbft;

import bftledger.crypto.Digest;
import bftledger.crypto.HeaderAnchor;

/**
 * The core's rules for header anchors (see {@link Batch}): what a primary names in the batches
 * it proposes, when a backup's PREPARE may vouch for a named header, and when an idle primary
 * proposes an empty batch to certify what it executed last. Pure; owned by one {@link Replica}.
 *
 * <p>A primary names the sequence before the latest committed here (or the latest it executed,
 * if that is lower), with the digest its application reported; an idle primary's empty batch
 * names the latest executed. One behind, because a primary proposes the moment a batch commits
 * here while the backups are still gathering that batch's COMMITs and executing it: naming it
 * would make every backup hold its PREPARE for the next batch until then, putting execution on
 * the ordering path (measured in docs/performance.md).
 * A backup sends PREPARE for a batch only when the anchor names a sequence below the batch's own
 * and at most L (the watermark window) below it, and, unless it names nothing, a sequence this
 * backup executed with exactly that digest; it holds the PREPARE while the named sequence is not
 * executed here yet. A primary never has more than L batches in flight and names the latest when
 * one behind would be more than L below, so its anchors always pass the range check, and the
 * latest blocks are certified within L sequences even under a primary that names stale headers.
 *
 * <p>Why a commit certificate certifies the anchored header: a batch is prepared only with the
 * primary's PRE-PREPARE and q-1 PREPAREs from distinct backups, q replicas of which at least
 * q-f >= f+1 are correct, and each correct one either named its own executed header (the primary) or
 * checked the name against its own execution. Correct replicas execute the same committed batches
 * deterministically, so the anchor is the header every correct replica executed. A batch reaching
 * a NEW-VIEW again is prepared by that same argument, so a backup may prepare it there unchecked
 * (see {@code AnchorTest}).
 */
final class HeaderAnchors {
    /** What a backup may do about a PRE-PREPARE's anchor. */
    record Check(Kind kind, RejectReason reason, String detail) {
        enum Kind { OK, PENDING, REFUSED }

        static final Check OK_CHECK = new Check(Kind.OK, null, "");
        static final Check PENDING_CHECK = new Check(Kind.PENDING, null, "");

        static Check refused(RejectReason reason, String detail) {
            return new Check(Kind.REFUSED, reason, detail);
        }

        boolean ok() {
            return kind == Kind.OK;
        }

        boolean pending() {
            return kind == Kind.PENDING;
        }

        boolean refused() {
            return kind == Kind.REFUSED;
        }
    }

    private final Config config;
    private final ExecutedDigests digests;
    private final boolean enabled;
    /** Highest executed sequence whose batch carried requests: what an idle primary certifies. */
    private long lastExecutedWithRequests;
    /** Highest sequence named by a batch delivered for execution here: certified (or about to be). */
    private long highestDeliveredAnchor;
    /** Consecutive ticks as a primary with nothing to order. */
    private int idleTicks;

    HeaderAnchors(Config config, ExecutedDigests digests) {
        this.config = config;
        this.digests = digests;
        this.enabled = digests != ExecutedDigests.NONE;
    }

    /**
     * The anchor for batch {@code sequence} proposed now: the sequence before the latest
     * delivered one, if executed, else the latest executed; the latest executed for an idle
     * primary's empty batch or where one behind would fall out of the window; none before there
     * is one (see {@code AnchorTest}).
     */
    HeaderAnchor forProposal(long sequence, long lastExecuted, long lastDelivered, boolean idleAnchor) {
        long oneBehind = Math.min(lastExecuted, lastDelivered - 1);
        boolean latest = idleAnchor || sequence - oneBehind > config.watermarkWindow();
        long named = latest ? lastExecuted : oneBehind;
        if (!enabled || named <= 0) {
            return HeaderAnchor.NONE;
        }
        Digest digest = digests.at(named);
        if (digest == null) {
            throw new IllegalStateException("the application reports no digest for sequence " + named
                    + ", which it executed");
        }
        return new HeaderAnchor(named, digest);
    }

    /** Whether this backup may PREPARE {@code pp} now, later (once it executed the named sequence), or never. */
    Check check(PrePrepare pp, long lastExecuted) {
        if (!enabled) {
            return Check.OK_CHECK;
        }
        HeaderAnchor anchor = pp.batch().anchor();
        long sequence = pp.sequence();
        if (anchor.height() >= sequence) {
            return Check.refused(RejectReason.ANCHOR_OUT_OF_RANGE, "batch " + sequence + " names " + anchor.height()
                    + ", not an earlier sequence");
        }
        if (sequence - anchor.height() > config.watermarkWindow()) {
            return Check.refused(RejectReason.ANCHOR_OUT_OF_RANGE, "batch " + sequence + " names "
                    + (anchor.isNone() ? "no header" : "sequence " + anchor.height()) + ", more than "
                    + config.watermarkWindow() + " below it");
        }
        if (anchor.isNone()) {
            return Check.OK_CHECK;
        }
        if (anchor.height() > lastExecuted) {
            return Check.PENDING_CHECK;
        }
        Digest mine = digests.at(anchor.height());
        if (mine == null) {
            return Check.refused(RejectReason.ANCHOR_UNKNOWN, "batch " + sequence + " names sequence " + anchor.height()
                    + ", whose digest this replica no longer keeps");
        }
        if (!mine.equals(anchor.hash())) {
            return Check.refused(RejectReason.ANCHOR_MISMATCH, "batch " + sequence + " names " + anchor
                    + ", this replica executed " + mine.shortHex() + " there");
        }
        return Check.OK_CHECK;
    }

    void delivered(HeaderAnchor anchor) {
        highestDeliveredAnchor = Math.max(highestDeliveredAnchor, anchor.height());
    }

    void executed(long sequence, boolean hadRequests) {
        if (hadRequests) {
            lastExecutedWithRequests = sequence;
        }
        idleTicks = 0;
    }

    /** State fetched from peers up to {@code sequence}: it may hold requests not certified yet. */
    void transferred(long sequence) {
        lastExecutedWithRequests = Math.max(lastExecutedWithRequests, sequence);
        idleTicks = 0;
    }

    void restored(long lastExecuted) {
        lastExecutedWithRequests = lastExecuted;
    }

    void tick(boolean idlePrimary) {
        idleTicks = idlePrimary ? Math.min(idleTicks + 1, Integer.MAX_VALUE - 1) : 0;
    }

    /**
     * Whether an idle primary with an empty pipeline should propose an empty batch now: executed
     * requests wait for certification and {@link Config#anchorIdleTicks()} ticks passed idle.
     */
    boolean idleAnchorDue(long lastExecuted) {
        return enabled && config.anchorIdleTicks() > 0 && idleTicks >= config.anchorIdleTicks()
                && lastExecutedWithRequests > highestDeliveredAnchor && lastExecutedWithRequests <= lastExecuted;
    }

    void proposed() {
        idleTicks = 0;
    }
}
