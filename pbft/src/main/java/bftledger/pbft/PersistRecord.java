package bftledger.pbft;

import bftledger.crypto.Digest;
import java.util.List;

/**
 * What a replica must find again after a crash so it never contradicts what it signed:
 * the node appends these to its consensus WAL, durably, before sending any message of the same
 * {@link Output}. {@link Replica#restore} rebuilds from them. Records whose {@link #sequence()}
 * is at or below the latest {@link StableCheckpoint} may be discarded by the WAL (view records
 * and VIEW-CHANGE/NEW-VIEW records report sequence 0 but only the latest view's are needed).
 */
public sealed interface PersistRecord permits PersistRecord.OwnMessage, PersistRecord.Prepared,
        PersistRecord.ViewState, PersistRecord.StableCheckpoint {

    /** Highest sequence this record is about, for WAL truncation. */
    long sequence();

    /** A message this replica signed: PRE-PREPARE, PREPARE, COMMIT, CHECKPOINT, VIEW-CHANGE, NEW-VIEW (never STATUS). */
    record OwnMessage(Signed<?> message) implements PersistRecord {
        @Override
        public long sequence() {
            Payload p = message.payload();
            if (p instanceof PrePrepare x) {
                return x.sequence();
            } else if (p instanceof Prepare x) {
                return x.sequence();
            } else if (p instanceof Commit x) {
                return x.sequence();
            } else if (p instanceof Checkpoint x) {
                return x.sequence();
            }
            return 0;
        }
    }

    /** A certificate this replica prepared; it goes into the next VIEW-CHANGE. */
    record Prepared(PreparedCertificate certificate) implements PersistRecord {
        @Override
        public long sequence() {
            return certificate.sequence();
        }
    }

    /** The replica's view, and whether it is changing to it (VIEW-CHANGE sent, no NEW-VIEW yet). */
    record ViewState(long view, boolean changing) implements PersistRecord {
        @Override
        public long sequence() {
            return 0;
        }
    }

    /** A checkpoint became stable, with its quorum of signed CHECKPOINTs. */
    record StableCheckpoint(long sequence, Digest digest, List<Signed<Checkpoint>> proof) implements PersistRecord {
        public StableCheckpoint {
            proof = List.copyOf(proof);
        }
    }
}
