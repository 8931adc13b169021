package bftledger.sim;

import bftledger.crypto.Digest;
import bftledger.crypto.Sha256;
import bftledger.pbft.Checkpoint;
import bftledger.pbft.Commit;
import bftledger.pbft.MessageType;
import bftledger.pbft.NewView;
import bftledger.pbft.PrePrepare;
import bftledger.pbft.Prepare;
import bftledger.pbft.Signed;
import bftledger.pbft.ViewChange;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Never a second vote: every message an honest replica signs and sends, across all its
 * incarnations (crashes, restarts, lost or damaged WALs), is remembered by (replica, type, view,
 * sequence); two that differ there are a violation. PRE-PREPARE, PREPARE, COMMIT and CHECKPOINT
 * compare their digests; VIEW-CHANGE and NEW-VIEW, one per replica and view, compare their signed
 * payload bytes. The receivers' view of the same property is {@link Checkers#evidence}; this
 * one sees it at the sender, also when no honest replica happened to receive both.
 */
final class SecondVotes {
    private record Key(int replica, MessageType type, long view, long sequence) {}

    private final Map<Key, Digest> first = new HashMap<>();
    private final List<Violation> violations = new ArrayList<>();

    /** Honest replica {@code replica} sends {@code m}, which it signed. */
    void sent(int replica, Signed<?> m, long tick) {
        Key key;
        Digest digest;
        if (m.payload() instanceof PrePrepare p) {
            key = new Key(replica, m.type(), p.view(), p.sequence());
            digest = p.digest();
        } else if (m.payload() instanceof Prepare p) {
            key = new Key(replica, m.type(), p.view(), p.sequence());
            digest = p.digest();
        } else if (m.payload() instanceof Commit p) {
            key = new Key(replica, m.type(), p.view(), p.sequence());
            digest = p.digest();
        } else if (m.payload() instanceof Checkpoint p) {
            key = new Key(replica, m.type(), 0, p.sequence());
            digest = p.stateDigest();
        } else if (m.payload() instanceof ViewChange p) {
            key = new Key(replica, m.type(), p.newView(), 0);
            digest = Sha256.hash(m.payloadBytes());
        } else if (m.payload() instanceof NewView p) {
            key = new Key(replica, m.type(), p.view(), 0);
            digest = Sha256.hash(m.payloadBytes());
        } else {
            return;
        }
        Digest before = first.putIfAbsent(key, digest);
        if (before != null && !before.equals(digest)) {
            violations.add(new Violation("second-vote", List.of(replica), "replica " + replica + " signed a second " + m.type()
                    + " for view " + key.view() + ", sequence " + key.sequence() + ": " + before.shortHex() + " then "
                    + digest.shortHex() + " (tick " + tick + ")"));
        }
    }

    List<Violation> violations() {
        return List.copyOf(violations);
    }
}
