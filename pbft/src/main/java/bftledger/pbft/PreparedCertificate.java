package bftledger.pbft;

import bftledger.crypto.Digest;
import java.util.List;

/**
 * Proof that a request batch prepared at (view, sequence): the primary's signed pre-prepare and
 * q-1 ({@link Config#preparedQuorum()}) signed prepares from distinct backups with the same view,
 * sequence and digest. Carried in VIEW-CHANGE messages and persisted before the COMMIT that follows from it is sent.
 */
public record PreparedCertificate(Signed<PrePrepare> prePrepare, List<Signed<Prepare>> prepares) {
    public PreparedCertificate {
        if (prePrepare == null) {
            throw new IllegalArgumentException("prepared certificate without pre-prepare");
        }
        prepares = List.copyOf(prepares);
    }

    public long view() {
        return prePrepare.payload().view();
    }

    public long sequence() {
        return prePrepare.payload().sequence();
    }

    public Digest digest() {
        return prePrepare.payload().digest();
    }
}
