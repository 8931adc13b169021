package bftledger.node.cli;

import bftledger.api.proto.Evidence;
import bftledger.crypto.Digest;
import bftledger.crypto.PublicKey;
import bftledger.ledger.ValidatorSets;
import bftledger.pbft.Checkpoint;
import bftledger.pbft.Commit;
import bftledger.pbft.Config;
import bftledger.pbft.MalformedMessageException;
import bftledger.pbft.MessageCodec;
import bftledger.pbft.PrePrepare;
import bftledger.pbft.Prepare;
import bftledger.pbft.Signed;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;

/**
 * Judges the evidence nodes serve, trusting no node: a piece proves replica R faulty only when
 * both messages parse, both are signed by R under R's key in the validator set in force at the
 * piece's sequence (genesis's, or a later one of the chain the audit followed), both are of the same vote type
 * (PRE-PREPARE, PREPARE, COMMIT or CHECKPOINT) for the same view and sequence as claimed, and
 * their digests differ — something an honest replica never signs. Identical pieces held by
 * several nodes are reported once, with every holder. A culprit is a replica with at least one
 * verified piece; a piece that fails names its reason and accuses no one.
 */
final class EvidenceCheck {
    /** Pieces printed in full (hex) in the text report; --json lists all of them. */
    static final int TEXT_PIECES_MAX = 5;

    private record Slot(int accused, String type, long view, long sequence, String first, String second) {}

    private static final class Piece {
        final Slot slot;
        final TreeSet<Integer> heldBy = new TreeSet<>();
        final String problem;
        final Digest firstDigest;
        final Digest secondDigest;

        Piece(Slot slot, String problem, Digest firstDigest, Digest secondDigest) {
            this.slot = slot;
            this.problem = problem;
            this.firstDigest = firstDigest;
            this.secondDigest = secondDigest;
        }
    }

    /** The validators' keys in force at a sequence, in replica order. */
    private final java.util.function.LongFunction<List<PublicKey>> keysAt;
    private final MessageCodec codec;
    private final Map<Slot, Piece> pieces = new LinkedHashMap<>();

    /** Against genesis's validators alone. */
    EvidenceCheck(List<PublicKey> validators) {
        this(List.copyOf(validators), sequence -> validators);
    }

    /** Against {@code sets}, a chain of validator sets followed from genesis: each piece under the set in force at its sequence. */
    static EvidenceCheck following(List<ValidatorSets.ValidatorSet> sets) {
        List<PublicKey> largest = sets.stream().map(ValidatorSets.ValidatorSet::keys).max(java.util.Comparator.comparingInt(List::size))
                .orElseThrow();
        return new EvidenceCheck(largest, sequence -> ValidatorSets.inForce(sets, sequence).keys());
    }

    private EvidenceCheck(List<PublicKey> decodingKeys, java.util.function.LongFunction<List<PublicKey>> keysAt) {
        this.keysAt = keysAt;
        // Keys only, no private key: the largest set gives the largest bounds any node may use for decoding.
        Config limits = Config.of(decodingKeys, 0, null);
        this.codec = new MessageCodec(limits.withBatching(4096, 64 << 20, 64 << 20, limits.pipelineDepthMax()));
    }

    void add(int heldBy, Evidence e) {
        HexFormat hex = HexFormat.of();
        byte[] first = e.getFirst().toByteArray();
        byte[] second = e.getSecond().toByteArray();
        // Order the pair so the same contradiction received in either order is one piece.
        String a = hex.formatHex(first);
        String b = hex.formatHex(second);
        if (a.compareTo(b) > 0) {
            String t = a;
            a = b;
            b = t;
            byte[] tb = first;
            first = second;
            second = tb;
        }
        Slot slot = new Slot(e.getReplica(), e.getKind(), e.getView(), e.getSequence(), a, b);
        Piece piece = pieces.get(slot);
        if (piece == null) {
            piece = judge(slot, first, second);
            pieces.put(slot, piece);
        }
        piece.heldBy.add(heldBy);
    }

    private Piece judge(Slot slot, byte[] firstWire, byte[] secondWire) {
        int accused = slot.accused();
        List<PublicKey> validators = keysAt.apply(slot.sequence());
        if (accused < 0 || accused >= validators.size()) {
            return new Piece(slot, "accuses replica " + accused + ", which the set in force at sequence " + slot.sequence()
                    + " does not list", null, null);
        }
        Signed<?> first;
        Signed<?> second;
        try {
            first = codec.decode(firstWire);
            second = codec.decode(secondWire);
        } catch (MalformedMessageException | RuntimeException ex) {
            return new Piece(slot, "a message does not parse: " + ex.getMessage(), null, null);
        }
        if (first.signer() != accused || second.signer() != accused) {
            return new Piece(slot, "signed by " + first.signer() + " and " + second.signer() + ", not both by " + accused,
                    null, null);
        }
        PublicKey key = validators.get(accused);
        if (!first.signatureValid(key) || !second.signatureValid(key)) {
            return new Piece(slot, "a signature does not verify under replica " + accused + "'s key in the set in force at sequence "
                    + slot.sequence(), null, null);
        }
        if (first.type() != second.type()) {
            return new Piece(slot, "different message types " + first.type() + " and " + second.type(), null, null);
        }
        long[] fa = voteSlot(first);
        long[] fb = voteSlot(second);
        if (fa == null) {
            return new Piece(slot, first.type() + " is not a vote that can conflict", null, null);
        }
        if (fa[0] != fb[0] || fa[1] != fb[1]) {
            return new Piece(slot, "different slots (view " + fa[0] + " seq " + fa[1] + " vs view " + fb[0] + " seq " + fb[1] + ")",
                    null, null);
        }
        if (fa[0] != slot.view() || fa[1] != slot.sequence()) {
            return new Piece(slot, "claims view " + slot.view() + " sequence " + slot.sequence() + " but the messages are for view "
                    + fa[0] + " sequence " + fa[1], null, null);
        }
        Digest da = digest(first);
        Digest db = digest(second);
        if (da.equals(db)) {
            return new Piece(slot, "both messages carry the same digest " + da.shortHex() + ": no conflict", da, db);
        }
        return new Piece(slot, null, da, db);
    }

    /** {view, sequence} of a vote; checkpoints have no view (0); null for other types. */
    private static long[] voteSlot(Signed<?> m) {
        Object p = m.payload();
        if (p instanceof PrePrepare pp) {
            return new long[] {pp.view(), pp.sequence()};
        } else if (p instanceof Prepare pr) {
            return new long[] {pr.view(), pr.sequence()};
        } else if (p instanceof Commit c) {
            return new long[] {c.view(), c.sequence()};
        } else if (p instanceof Checkpoint cp) {
            return new long[] {0, cp.sequence()};
        }
        return null;
    }

    private static Digest digest(Signed<?> m) {
        Object p = m.payload();
        if (p instanceof PrePrepare pp) {
            return pp.digest();
        } else if (p instanceof Prepare pr) {
            return pr.digest();
        } else if (p instanceof Commit c) {
            return c.digest();
        }
        return ((Checkpoint) p).stateDigest();
    }

    /** Replica ids proven faulty by at least one verified piece, ascending. */
    List<Integer> culprits() {
        TreeSet<Integer> out = new TreeSet<>();
        for (Piece p : pieces.values()) {
            if (p.problem == null) {
                out.add(p.slot.accused());
            }
        }
        return List.copyOf(out);
    }

    List<Object> json() {
        List<Object> out = new ArrayList<>();
        for (Piece p : pieces.values()) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("accused", p.slot.accused());
            List<PublicKey> keys = keysAt.apply(p.slot.sequence());
            m.put("accused_key", p.slot.accused() >= 0 && p.slot.accused() < keys.size() ? keys.get(p.slot.accused()).hex() : null);
            m.put("kind", p.slot.type());
            m.put("view", p.slot.view());
            m.put("sequence", p.slot.sequence());
            m.put("held_by", List.copyOf(p.heldBy));
            m.put("verified", p.problem == null);
            m.put("problem", p.problem);
            m.put("first_digest", p.firstDigest == null ? null : p.firstDigest.toString());
            m.put("second_digest", p.secondDigest == null ? null : p.secondDigest.toString());
            m.put("first", p.slot.first());
            m.put("second", p.slot.second());
            out.add(m);
        }
        return out;
    }

    String text() {
        StringBuilder t = new StringBuilder();
        List<Integer> culprits = culprits();
        if (pieces.isEmpty()) {
            t.append("evidence: none held by any node; no replica proven faulty\n");
            return t.toString();
        }
        for (int c : culprits) {
            long count = pieces.values().stream().filter(p -> p.problem == null && p.slot.accused() == c).count();
            t.append("CULPRIT: replica ").append(c).append(" is proven faulty by ").append(count)
                    .append(" piece(s) of signed evidence, verified with its key in the set in force\n");
        }
        int shown = 0;
        for (Piece p : pieces.values()) {
            if (shown == TEXT_PIECES_MAX) {
                t.append("evidence: ... and ").append(pieces.size() - shown).append(" more (--json lists all)\n");
                break;
            }
            shown++;
            t.append("evidence: replica ").append(p.slot.accused()).append(" signed two different ").append(typeName(p.slot.type()))
                    .append(" for view ").append(p.slot.view()).append(" sequence ").append(p.slot.sequence())
                    .append(" (held by node(s) ").append(p.heldBy).append("): ");
            if (p.problem == null) {
                t.append("VERIFIED, digests ").append(p.firstDigest.shortHex()).append(" != ").append(p.secondDigest.shortHex())
                        .append('\n');
            } else {
                t.append("NOT verified: ").append(p.problem).append('\n');
            }
            t.append("  first  signed message: ").append(p.slot.first()).append('\n');
            t.append("  second signed message: ").append(p.slot.second()).append('\n');
        }
        if (culprits.isEmpty()) {
            t.append("no replica proven faulty (no piece of evidence verified)\n");
        }
        return t.toString();
    }

    private static String typeName(String kind) {
        return kind.startsWith("conflicting ") ? kind.substring("conflicting ".length()) + "s" : kind;
    }
}
