package bftledger.node.cli;

import bftledger.ledger.TrustRoot;
import bftledger.ledger.proto.Validator;
import com.google.protobuf.ByteString;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * What a change does to the set, for the operator who proposes or approves it: validators
 * added, removed, rotated (a new key at the same address and name), replaced (a new key and
 * address in the same place) and moved to another replica index, and n, f and quorum before and
 * after. Worked out from the two sets alone, so the approver sees what is signed, not what the
 * proposer says it meant.
 */
record ValidatorsDiff(List<Entry> entries, int nBefore, int nAfter) {
    enum Change { ADDED, REMOVED, ROTATED, REPLACED, MOVED, CHANGED }

    /** One validator's change; {@code before} or {@code after} is absent (-1 index) for an added or removed one. */
    record Entry(Change change, int replicaBefore, Validator before, int replicaAfter, Validator after) {}

    static ValidatorsDiff of(List<Validator> before, List<Validator> after) {
        List<Entry> entries = new ArrayList<>();
        List<Integer> gone = new ArrayList<>();
        List<Integer> fresh = new ArrayList<>();
        for (int i = 0; i < before.size(); i++) {
            int j = indexOf(after, before.get(i).getPublicKey());
            if (j < 0) {
                gone.add(i);
            } else if (!sameEndpoint(before.get(i), after.get(j))) {
                entries.add(new Entry(Change.CHANGED, i, before.get(i), j, after.get(j)));
            } else if (i != j) {
                entries.add(new Entry(Change.MOVED, i, before.get(i), j, after.get(j)));
            }
        }
        for (int j = 0; j < after.size(); j++) {
            if (indexOf(before, after.get(j).getPublicKey()) < 0) {
                fresh.add(j);
            }
        }
        // A key gone and a key new at the same address (else at the same index) are one validator's.
        for (Integer i : List.copyOf(gone)) {
            Integer match = null;
            for (Integer j : fresh) {
                if (after.get(j).getAddress().equals(before.get(i).getAddress())) {
                    match = j;
                    break;
                }
            }
            if (match == null && fresh.contains(i)) {
                match = i;
            }
            if (match != null) {
                Change c = sameEndpoint(before.get(i), after.get(match)) ? Change.ROTATED : Change.REPLACED;
                entries.add(new Entry(c, i, before.get(i), match, after.get(match)));
                gone.remove(i);
                fresh.remove(match);
            }
        }
        gone.forEach(i -> entries.add(new Entry(Change.REMOVED, i, before.get(i), -1, null)));
        fresh.forEach(j -> entries.add(new Entry(Change.ADDED, -1, null, j, after.get(j))));
        entries.sort(java.util.Comparator.comparing(Entry::change));
        return new ValidatorsDiff(List.copyOf(entries), before.size(), after.size());
    }

    private static boolean sameEndpoint(Validator a, Validator b) {
        return a.getAddress().equals(b.getAddress()) && a.getName().equals(b.getName());
    }

    private static int indexOf(List<Validator> set, ByteString key) {
        for (int i = 0; i < set.size(); i++) {
            if (set.get(i).getPublicKey().equals(key)) {
                return i;
            }
        }
        return -1;
    }

    static int f(int n) {
        return (n - 1) / 3;
    }

    /** One line per change, then n, f and quorum before and after. */
    String text() {
        StringBuilder s = new StringBuilder();
        for (Entry e : entries) {
            s.append("  ").append(e.change().name().toLowerCase()).append(": ");
            switch (e.change()) {
                case ADDED -> s.append(ValidatorsEdits.describe(e.after())).append(" as replica ").append(e.replicaAfter());
                case REMOVED -> s.append("replica ").append(e.replicaBefore()).append(' ').append(ValidatorsEdits.describe(e.before()));
                case ROTATED -> s.append("replica ").append(e.replicaBefore()).append(' ')
                        .append(ValidatorsEdits.describe(e.before())).append(" -> key ")
                        .append(Arguments.hex(e.after().getPublicKey()).substring(0, 8)).append(moved(e));
                default -> s.append("replica ").append(e.replicaBefore()).append(' ').append(ValidatorsEdits.describe(e.before()))
                        .append(" -> ").append(ValidatorsEdits.describe(e.after())).append(moved(e));
            }
            s.append('\n');
        }
        s.append(String.format("  n %d -> %d, f %d -> %d, quorum %d -> %d", nBefore, nAfter, f(nBefore), f(nAfter),
                TrustRoot.quorum(nBefore), TrustRoot.quorum(nAfter)));
        return s.toString();
    }

    private static String moved(Entry e) {
        return e.replicaAfter() == e.replicaBefore() ? "" : " as replica " + e.replicaAfter();
    }

    Map<String, Object> json() {
        List<Object> changes = new ArrayList<>();
        for (Entry e : entries) {
            changes.add(CommandOutput.fields("change", e.change().name().toLowerCase(),
                    "before", e.before() == null ? null : validatorJson(e.replicaBefore(), e.before()),
                    "after", e.after() == null ? null : validatorJson(e.replicaAfter(), e.after())));
        }
        return CommandOutput.fields("changes", changes,
                "before", CommandOutput.fields("n", nBefore, "f", f(nBefore), "quorum", TrustRoot.quorum(nBefore)),
                "after", CommandOutput.fields("n", nAfter, "f", f(nAfter), "quorum", TrustRoot.quorum(nAfter)));
    }

    static Map<String, Object> validatorJson(int replica, Validator v) {
        return CommandOutput.fields("replica", replica, "name", v.getName(), "address", v.getAddress(),
                "public_key", Arguments.hex(v.getPublicKey()));
    }
}
