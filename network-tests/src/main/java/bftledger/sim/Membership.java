package bftledger.sim;

import bftledger.crypto.KeyPair;
import bftledger.crypto.PublicKey;
import bftledger.pbft.Request;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Validator-set changes in a simulation, by the ledger's rules scaled to the simulator's
 * window: a change is a request signed by the operator that names the whole next set; executed
 * at sequence s while no change is pending, it hands over after {@link #end}, the first
 * checkpoint more than L above s, so no slot in flight when s executes lies beyond the end. (The
 * node keeps at least 2L+1, with K = 16 and L = 32; the simulator's tighter margin tests the rule
 * at its edge.) A machine is a network endpoint that keeps its application across epochs; its
 * identity in a set is a key generation (a rotated key is a new identity for the same machine).
 */
public final class Membership {
    private static final String PREFIX = "change-validators epoch=";
    private static final List<List<KeyPair>> KEYS = new ArrayList<>();

    private Membership() {}

    /** One validator: a machine and which of its keys. */
    public record Member(int machine, int generation) {
        /** Generation 0 is the key the simulator always gave replica {@code machine}. */
        public KeyPair key() {
            return keyOf(machine, generation);
        }

        @Override
        public String toString() {
            return machine + (generation == 0 ? "" : "'" + generation);
        }
    }

    /**
     * One validator set and where it starts: it orders from {@code start + 1} (a checkpoint; 0
     * for the genesis set) in views from {@code number << 32}.
     */
    public record Epoch(int number, long start, List<Member> members) {
        public Epoch {
            members = List.copyOf(members);
        }

        public long startView() {
            return (long) number << 32;
        }

        public int indexOf(int machine) {
            for (int i = 0; i < members.size(); i++) {
                if (members.get(i).machine() == machine) {
                    return i;
                }
            }
            return -1;
        }

        public List<PublicKey> keys() {
            return members.stream().map(m -> m.key().publicKey()).toList();
        }

        public int n() {
            return members.size();
        }
    }

    /** What every application of a run agrees on: the genesis set, who may change it, the checkpoint interval and window. */
    public record Rules(List<Member> genesis, PublicKey operator, int checkpointInterval, int watermarkWindow) {
        public Rules {
            genesis = List.copyOf(genesis);
        }

        /** The genesis set of replicas 0..n-1 with their first keys; no operator, so no change ever applies. */
        public static Rules fixed(int n) {
            List<Member> members = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                members.add(new Member(i, 0));
            }
            return new Rules(members, null, 1, 1);
        }
    }

    public enum Kind { ADD, REMOVE, REPLACE, ROTATE }

    /** Where a fault meant to race the handover lands: when the end is told, or at the first handover. */
    public enum At { TOLD, HANDOVER }

    /**
     * One change and the faults around its boundary: the primary in office when the end is first
     * told is cut off for {@code isolatePrimaryTicks} (0: never), so a view change races the end;
     * an honest replica of the old or new set ({@code crashPick} among them) crashes at
     * {@code crashAt} and restarts {@code crashTicks} later (null: no crash).
     */
    public record Change(Kind kind, List<Member> next, int isolatePrimaryTicks, At crashAt, int crashPick, int crashTicks) {
        public Change {
            next = List.copyOf(next);
        }
    }

    /**
     * The changes of a run, submitted one at a time: the first at {@code firstChangeTick}, each
     * later one {@code gapTicks} after the previous one first handed over, and
     * {@code requestsAfter} client requests after the last handover, which must commit under the
     * last set.
     */
    public record Plan(List<Change> changes, int firstChangeTick, int gapTicks, int requestsAfter) {
        public Plan {
            changes = List.copyOf(changes);
        }

        public List<Member> lastSet(List<Member> genesis) {
            return changes.isEmpty() ? genesis : changes.get(changes.size() - 1).next();
        }
    }

    /** The last sequence of the set in force when a change executes at {@code sequence}: K*floor(s/K) + L + K. */
    public static long end(long sequence, int checkpointInterval, int watermarkWindow) {
        return checkpointInterval * (sequence / checkpointInterval) + watermarkWindow + checkpointInterval;
    }

    public static String body(int epoch, List<Member> next) {
        StringBuilder b = new StringBuilder(PREFIX).append(epoch).append(" set=");
        for (int i = 0; i < next.size(); i++) {
            b.append(i == 0 ? "" : ",").append(next.get(i).machine()).append('.').append(next.get(i).generation());
        }
        return b.toString();
    }

    /**
     * The epoch {@code request} starts when executed at {@code sequence} after {@code latest}, or
     * null when it is no change: not the operator's, not the next epoch's, or a change is still
     * pending (the ledger refuses one then).
     */
    static Epoch applied(Rules rules, Request request, long sequence, Epoch latest) {
        if (rules.operator() == null) {
            return null;
        }
        byte[] p = request.payload();
        int bodyAt = PublicKey.LENGTH + bftledger.crypto.Signature.LENGTH;
        if (p.length <= bodyAt || !Arrays.equals(p, 0, PublicKey.LENGTH, rules.operator().bytes(), 0, PublicKey.LENGTH)) {
            return null;
        }
        String body = new String(p, bodyAt, p.length - bodyAt, StandardCharsets.UTF_8);
        if (!body.startsWith(PREFIX) || latest.start() >= sequence) {
            return null;
        }
        String[] parts = body.substring(PREFIX.length()).split(" set=", 2);
        if (parts.length != 2 || Integer.parseInt(parts[0]) != latest.number() + 1) {
            return null;
        }
        List<Member> members = new ArrayList<>();
        for (String m : parts[1].split(",")) {
            String[] mg = m.split("\\.");
            members.add(new Member(Integer.parseInt(mg[0]), Integer.parseInt(mg[1])));
        }
        return new Epoch(latest.number() + 1, end(sequence, rules.checkpointInterval(), rules.watermarkWindow()), members);
    }

    static synchronized KeyPair keyOf(int machine, int generation) {
        while (KEYS.size() <= machine) {
            KEYS.add(new ArrayList<>());
        }
        List<KeyPair> keys = KEYS.get(machine);
        while (keys.size() <= generation) {
            int g = keys.size();
            keys.add(KeyPair.deterministic(g == 0 ? "sim-replica-" + machine : "sim-replica-" + machine + "-key-" + g));
        }
        return keys.get(generation);
    }

    /** The operator's key, which signs every change. */
    static KeyPair operatorKey() {
        return OPERATOR;
    }

    private static final KeyPair OPERATOR = KeyPair.deterministic("sim-operator");
}
