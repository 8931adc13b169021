package bftledger.node.cli;

import bftledger.crypto.CommitVote;
import bftledger.crypto.Digest;
import bftledger.crypto.PublicKey;
import bftledger.ledger.proto.CommitCertificate;
import bftledger.ledger.proto.CommitSignature;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * Judges the commit certificates of two different blocks that nodes hold at one height, trusting
 * no node: a replica whose COMMIT signature verifies under its key (in the set in force at that
 * sequence) in both certificates, for the same view and sequence but different batch digests, is proven faulty — an honest
 * replica accepts one pre-prepare per view and sequence, so it never commit-votes two digests
 * there. This catches a fork made by f+1 Byzantine replicas even when no honest node saw both
 * sides (so no node stored conflicting messages as evidence). When the two certificates are for
 * the same sequence in different views, the overlap is NOT proof (an honest replica may
 * commit-vote a new digest in a later view when the earlier one did not commit), so the overlap
 * is only listed as suspects, with that reason, and never as culprits. A signature that does not
 * verify accuses no one.
 */
final class ForkEvidence {
    static final String KIND = "conflicting-commit-certificates";
    /** Pieces printed in full (hex) in the text report; --json lists all of them. */
    static final int TEXT_PIECES_MAX = 5;

    /** One proven double signer: both signatures verified under {@code signer}'s key in the set in force. */
    record Piece(long height, long view, long sequence, int signer, Digest firstDigest, Digest secondDigest,
                 String firstSignature, String secondSignature, List<Integer> firstHeldBy, List<Integer> secondHeldBy) {}

    /** A replica that signed both certificates in different views: suspicious, not proof. */
    record Suspect(int replica, long height, long sequence, long firstView, long secondView, String reason) {}

    /** The validators' keys in force at a sequence, in replica order. */
    private final java.util.function.LongFunction<List<PublicKey>> keysAt;
    private final Map<String, Piece> pieces = new LinkedHashMap<>();
    private final Map<String, Suspect> suspects = new LinkedHashMap<>();

    /** Against genesis's validators alone. */
    ForkEvidence(List<PublicKey> validators) {
        List<PublicKey> keys = List.copyOf(validators);
        this.keysAt = sequence -> keys;
    }

    private ForkEvidence(java.util.function.LongFunction<List<PublicKey>> keysAt) {
        this.keysAt = keysAt;
    }

    /** Against {@code sets}, a chain of validator sets followed from genesis: each certificate under the set in force at its sequence. */
    static ForkEvidence following(List<bftledger.ledger.ValidatorSets.ValidatorSet> sets) {
        return new ForkEvidence(sequence -> bftledger.ledger.ValidatorSets.inForce(sets, sequence).keys());
    }

    /**
     * Compares the certificates of two different blocks at {@code height}, held by nodes
     * {@code firstHeldBy} and {@code secondHeldBy} respectively.
     */
    void compare(long height, CommitCertificate first, List<Integer> firstHeldBy, CommitCertificate second, List<Integer> secondHeldBy) {
        if (first.getSequence() != second.getSequence()) {
            // Different slots: signing both is what honest replicas do for consecutive batches.
            return;
        }
        Digest da;
        Digest db;
        try {
            da = Digest.of(first.getBatchDigest().toByteArray());
            db = Digest.of(second.getBatchDigest().toByteArray());
        } catch (RuntimeException e) {
            return; // a malformed digest can carry no verifiable vote
        }
        if (da.equals(db)) {
            return; // the same batch: the votes do not conflict
        }
        // Order the pair so the same contradiction found from either side is one piece.
        if (first.getView() > second.getView() || (first.getView() == second.getView() && da.toString().compareTo(db.toString()) > 0)) {
            CommitCertificate t = first;
            first = second;
            second = t;
            Digest td = da;
            da = db;
            db = td;
            List<Integer> th = firstHeldBy;
            firstHeldBy = secondHeldBy;
            secondHeldBy = th;
        }
        Map<Integer, byte[]> inFirst = validSigners(first, da);
        Map<Integer, byte[]> inSecond = validSigners(second, db);
        HexFormat hex = HexFormat.of();
        for (Map.Entry<Integer, byte[]> e : inFirst.entrySet()) {
            int r = e.getKey();
            byte[] other = inSecond.get(r);
            if (other == null) {
                continue;
            }
            String key = r + "/" + first.getView() + "/" + second.getView() + "/" + first.getSequence() + "/" + da + "/" + db;
            if (first.getView() == second.getView()) {
                pieces.putIfAbsent(key, new Piece(height, first.getView(), first.getSequence(), r, da, db,
                        hex.formatHex(e.getValue()), hex.formatHex(other), List.copyOf(firstHeldBy), List.copyOf(secondHeldBy)));
            } else {
                suspects.putIfAbsent(key, new Suspect(r, height, first.getSequence(), first.getView(), second.getView(),
                        "commit-signed different digests for sequence " + first.getSequence() + " in views " + first.getView()
                                + " and " + second.getView() + "; not proof, since an honest replica may commit-vote a new digest"
                                + " in a later view when the earlier one did not commit"));
            }
        }
    }

    /** Replica index to signature, for the signatures that verify under that replica's key in the set in force. */
    private Map<Integer, byte[]> validSigners(CommitCertificate c, Digest digest) {
        Map<Integer, byte[]> out = new TreeMap<>();
        List<PublicKey> validators = keysAt.apply(c.getSequence());
        for (CommitSignature s : c.getSignaturesList()) {
            int r = s.getReplica();
            if (r < 0 || r >= validators.size() || out.containsKey(r)) {
                continue;
            }
            byte[] sig = s.getSignature().toByteArray();
            try {
                if (new CommitVote(c.getView(), c.getSequence(), digest, r).verify(validators.get(r), sig)) {
                    out.put(r, sig);
                }
            } catch (RuntimeException e) {
                // An unencodable vote (e.g. an out-of-range view) verifies nothing and accuses no one.
            }
        }
        return out;
    }

    /** Replicas proven faulty by two conflicting certificates, ascending. */
    List<Integer> culprits() {
        TreeSet<Integer> out = new TreeSet<>();
        pieces.values().forEach(p -> out.add(p.signer()));
        return List.copyOf(out);
    }

    /** Replicas that signed conflicting certificates only across views, not also proven faulty, ascending. */
    List<Integer> suspectReplicas() {
        TreeSet<Integer> out = new TreeSet<>();
        suspects.values().forEach(s -> out.add(s.replica()));
        out.removeAll(culprits());
        return List.copyOf(out);
    }

    List<Piece> pieces() {
        return List.copyOf(pieces.values());
    }

    List<Object> json() {
        List<Object> out = new ArrayList<>();
        for (Piece p : pieces.values()) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("kind", KIND);
            m.put("accused", p.signer());
            m.put("signer", p.signer());
            m.put("height", p.height());
            m.put("view", p.view());
            m.put("sequence", p.sequence());
            m.put("verified", true);
            m.put("first_digest", p.firstDigest().toString());
            m.put("second_digest", p.secondDigest().toString());
            m.put("first_signature", p.firstSignature());
            m.put("second_signature", p.secondSignature());
            m.put("first_held_by", p.firstHeldBy());
            m.put("second_held_by", p.secondHeldBy());
            out.add(m);
        }
        return out;
    }

    List<Object> suspectsJson() {
        List<Object> out = new ArrayList<>();
        for (Suspect s : suspects.values()) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("replica", s.replica());
            m.put("kind", KIND);
            m.put("height", s.height());
            m.put("sequence", s.sequence());
            m.put("first_view", s.firstView());
            m.put("second_view", s.secondView());
            m.put("reason", s.reason());
            out.add(m);
        }
        return out;
    }

    String text() {
        StringBuilder t = new StringBuilder();
        for (int c : culprits()) {
            long count = pieces.values().stream().filter(p -> p.signer() == c).count();
            t.append("CULPRIT: replica ").append(c).append(" is proven faulty by ").append(count)
                    .append(" pair(s) of conflicting commit certificates, its signatures verified with its key in the set in force\n");
        }
        int shown = 0;
        for (Piece p : pieces.values()) {
            if (shown == TEXT_PIECES_MAX) {
                t.append("fork evidence: ... and ").append(pieces.size() - shown).append(" more (--json lists all)\n");
                break;
            }
            shown++;
            t.append("fork evidence (").append(KIND).append("): replica ").append(p.signer()).append(" signed COMMIT for view ")
                    .append(p.view()).append(" sequence ").append(p.sequence()).append(" in both certificates at height ")
                    .append(p.height()).append(", digests ").append(p.firstDigest().shortHex()).append(" (nodes ")
                    .append(p.firstHeldBy()).append(") != ").append(p.secondDigest().shortHex()).append(" (nodes ")
                    .append(p.secondHeldBy()).append("): VERIFIED\n");
            t.append("  first  digest ").append(p.firstDigest()).append(" signature ").append(p.firstSignature()).append('\n');
            t.append("  second digest ").append(p.secondDigest()).append(" signature ").append(p.secondSignature()).append('\n');
        }
        for (Suspect s : suspects.values()) {
            t.append("SUSPECT (not proven): replica ").append(s.replica()).append(" at height ").append(s.height()).append(": ")
                    .append(s.reason()).append('\n');
        }
        return t.toString();
    }
}
