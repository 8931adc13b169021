package bftledger.sim;

import bftledger.crypto.Digest;
import bftledger.pbft.MessageType;
import bftledger.pbft.MessageVerifier;
import bftledger.pbft.Output;
import bftledger.pbft.Signed;
import bftledger.pbft.Request;
import bftledger.pbft.RequestValidator;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * The properties checked after every simulation run, as pure functions over what the honest
 * replicas executed and recorded, so each can be fed a hand-made violating history in a test.
 * Maps are keyed by replica id; each returns the violations it found (empty = holds).
 */
public final class Checkers {
    private Checkers() {}

    /** One slot in which some honest replica received two conflicting messages from {@code replica}. */
    public record Equivocation(int replica, MessageType type, long view, long sequence, int receivedBy) {}

    /** Evidence an honest replica recorded: against {@code replica}, for this slot. */
    public record EvidenceKey(int replica, MessageType type, long view, long sequence) {}

    /** Whether {@code signature} is {@code key}'s over {@code vote}; the simulator answers from what it verified already. */
    public interface CommitSignatures {
        CommitSignatures VERIFY = (vote, key, signature) -> vote.verify(key, signature);

        boolean valid(bftledger.crypto.CommitVote vote, bftledger.crypto.PublicKey key, byte[] signature);
    }

    /**
     * Certificates against the set in force: every block {@code replica} executed carries COMMIT
     * signatures of a quorum of distinct members of the set in force at its sequence
     * ({@code setInForce}), each by that member's key there. A vote counted from a removed or
     * rotated-out key, or from the wrong set's numbering, fails here.
     */
    public static List<Violation> certificates(int replica, List<App.Executed> history,
            java.util.function.LongFunction<List<bftledger.crypto.PublicKey>> setInForce, CommitSignatures signatures) {
        for (App.Executed x : history) {
            if (x.block() == null) {
                continue;
            }
            List<bftledger.crypto.PublicKey> set = setInForce.apply(x.sequence());
            int n = set.size();
            int quorum = (n + (n - 1) / 3 + 2) / 2;
            var problem = BlockCheck.certificateProblem(set, quorum, x.block(), signatures);
            if (problem.isPresent()) {
                return List.of(new Violation("certificate", List.of(replica), "sequence " + x.sequence() + ": "
                        + problem.get()));
            }
        }
        return List.of();
    }

    /**
     * After the last handover: each of {@code after} (requests submitted once some honest replica
     * had handed over to the last set, which starts after {@code lastStart}) executed above
     * {@code lastStart}, so under the last set. Whether they executed at all is liveness.
     */
    public static List<Violation> afterHandover(Map<Integer, List<App.Executed>> histories, Collection<Digest> after,
            long lastStart) {
        List<Violation> out = new ArrayList<>();
        for (Map.Entry<Integer, List<App.Executed>> e : new TreeMap<>(histories).entrySet()) {
            for (App.Executed x : e.getValue()) {
                for (Digest id : x.effective()) {
                    if (after.contains(id) && x.sequence() <= lastStart) {
                        out.add(new Violation("after-handover", List.of(e.getKey()), "request " + id.shortHex()
                                + " submitted after the last handover executed at " + x.sequence() + ", not after "
                                + lastStart));
                    }
                }
            }
        }
        return out;
    }

    /**
     * Agreement: for every sequence two honest replicas both executed, the same batch and the
     * same state after it; and their executed request sequences are prefixes of one another.
     */
    public static List<Violation> agreement(Map<Integer, List<App.Executed>> histories) {
        List<Violation> out = new ArrayList<>();
        List<Integer> ids = new ArrayList<>(new TreeMap<>(histories).keySet());
        for (int a = 0; a < ids.size(); a++) {
            for (int b = a + 1; b < ids.size(); b++) {
                int i = ids.get(a);
                int j = ids.get(b);
                List<App.Executed> x = histories.get(i);
                List<App.Executed> y = histories.get(j);
                int common = Math.min(x.size(), y.size());
                for (int k = 0; k < common; k++) {
                    App.Executed ex = x.get(k);
                    App.Executed ey = y.get(k);
                    if (ex.sequence() != ey.sequence() || !ex.batchDigest().equals(ey.batchDigest())
                            || !ex.state().equals(ey.state())) {
                        out.add(new Violation("agreement", List.of(i, j), "sequence " + ex.sequence() + ": batch "
                                + ex.batchDigest().shortHex() + " (" + ex.requests().size() + " requests) vs "
                                + ey.batchDigest().shortHex() + " (" + ey.requests().size() + " requests)"));
                        break;
                    }
                }
                List<Digest> sx = effective(x);
                List<Digest> sy = effective(y);
                int n = Math.min(sx.size(), sy.size());
                if (!sx.subList(0, n).equals(sy.subList(0, n))) {
                    int first = 0;
                    while (sx.get(first).equals(sy.get(first))) {
                        first++;
                    }
                    out.add(new Violation("agreement", List.of(i, j), "executed request sequences differ at position "
                            + first + ": " + sx.get(first).shortHex() + " vs " + sy.get(first).shortHex()));
                }
            }
        }
        return dedupe(out);
    }

    /**
     * Agreement over everything honest replicas ever executed themselves, state transfers
     * notwithstanding: two that executed different batches at one sequence forked
     * ({@code BeyondFaultThresholdTest}).
     */
    public static List<Violation> agreementEver(Map<Integer, java.util.SortedMap<Long, Digest>> executed) {
        List<Violation> out = new ArrayList<>();
        List<Integer> ids = new ArrayList<>(new TreeMap<>(executed).keySet());
        for (int a = 0; a < ids.size(); a++) {
            for (int b = a + 1; b < ids.size(); b++) {
                for (Map.Entry<Long, Digest> e : executed.get(ids.get(a)).entrySet()) {
                    Digest other = executed.get(ids.get(b)).get(e.getKey());
                    if (other != null && !other.equals(e.getValue())) {
                        out.add(new Violation("agreement", List.of(ids.get(a), ids.get(b)), "sequence " + e.getKey()
                                + ": executed batch " + e.getValue().shortHex() + " vs " + other.shortHex()));
                        break;
                    }
                }
            }
        }
        return out;
    }

    /** Validity: every executed request was submitted by a client and carries its valid signature. */
    public static List<Violation> validity(Map<Integer, List<App.Executed>> histories, Set<Digest> submitted,
            RequestValidator validator) {
        List<Violation> out = new ArrayList<>();
        for (Map.Entry<Integer, List<App.Executed>> e : new TreeMap<>(histories).entrySet()) {
            for (App.Executed x : e.getValue()) {
                for (Request r : x.requests()) {
                    if (!x.effective().contains(r.id())) {
                        continue;
                    }
                    if (!submitted.contains(r.id())) {
                        out.add(new Violation("validity", List.of(e.getKey()), "sequence " + x.sequence()
                                + " executed request " + r.id().shortHex() + " that no client submitted"));
                    } else if (validator.problem(r).isPresent()) {
                        out.add(new Violation("validity", List.of(e.getKey()), "sequence " + x.sequence()
                                + " executed request " + r.id().shortHex() + ": " + validator.problem(r).get()));
                    }
                }
            }
        }
        return out;
    }

    /** Integrity: no request id executes twice at one replica. */
    public static List<Violation> integrity(Map<Integer, List<App.Executed>> histories) {
        List<Violation> out = new ArrayList<>();
        for (Map.Entry<Integer, List<App.Executed>> e : new TreeMap<>(histories).entrySet()) {
            Map<Digest, Long> first = new HashMap<>();
            for (App.Executed x : e.getValue()) {
                for (Digest id : x.effective()) {
                    Long previous = first.putIfAbsent(id, x.sequence());
                    if (previous != null) {
                        out.add(new Violation("integrity", List.of(e.getKey()), "request " + id.shortHex()
                                + " executed at sequence " + previous + " and again at " + x.sequence()));
                    }
                }
            }
        }
        return out;
    }

    /** Liveness: every submitted request executed at every honest replica (called at the deadline). */
    public static List<Violation> liveness(Map<Integer, List<App.Executed>> histories, Collection<Digest> submitted,
            long deadlineTick) {
        List<Violation> out = new ArrayList<>();
        for (Map.Entry<Integer, List<App.Executed>> e : new TreeMap<>(histories).entrySet()) {
            Set<Digest> done = new HashSet<>(effective(e.getValue()));
            List<String> missing = new ArrayList<>();
            for (Digest id : submitted) {
                if (!done.contains(id)) {
                    missing.add(id.shortHex());
                }
            }
            if (!missing.isEmpty()) {
                out.add(new Violation("liveness", List.of(e.getKey()), missing.size() + " of " + submitted.size()
                        + " requests not executed by tick " + deadlineTick + " (height " + e.getValue().size()
                        + "), e.g. " + missing.subList(0, Math.min(3, missing.size()))));
            }
        }
        return out;
    }

    /** Evidence: every equivocation that reached an honest replica is in some honest replica's evidence. */
    public static List<Violation> evidence(Collection<Equivocation> received, Set<EvidenceKey> recorded) {
        List<Violation> out = new ArrayList<>();
        Set<EvidenceKey> reported = new HashSet<>();
        for (Equivocation q : received) {
            EvidenceKey key = new EvidenceKey(q.replica(), q.type(), q.view(), q.sequence());
            if (!recorded.contains(key) && reported.add(key)) {
                out.add(new Violation("evidence", List.of(q.receivedBy(), q.replica()), "replica " + q.receivedBy()
                        + " received conflicting " + q.type() + "s from " + q.replica() + " for view " + q.view()
                        + " sequence " + q.sequence() + " and no honest replica recorded evidence"));
            }
        }
        return out;
    }

    /**
     * No framing: evidence an honest replica records must accuse a Byzantine replica, with two
     * messages that both verify as signed by it, of the recorded type, and that really differ.
     * Evidence against an honest replica would let the audit blame the innocent.
     */
    public static List<Violation> falseEvidence(int recordedBy, Output.Evidence e, Set<Integer> byzantine,
            MessageVerifier verifier) {
        List<String> problems = new ArrayList<>();
        if (!byzantine.contains(e.replica())) {
            problems.add("accuses honest replica " + e.replica());
        }
        for (Signed<?> m : List.of(e.first(), e.second())) {
            if (m.signer() != e.replica() || m.type() != e.type() || !verifier.verify(m).accepted()) {
                problems.add("message " + m + " is not a valid " + e.type() + " signed by " + e.replica());
            }
        }
        if (e.first().equals(e.second())) {
            problems.add("the two messages are the same");
        }
        return problems.isEmpty() ? List.of() : List.of(new Violation("false-evidence", List.of(recordedBy, e.replica()),
                e.type() + " v" + e.view() + " s" + e.sequence() + ": " + String.join("; ", problems)));
    }

    /** Bounded log: the core never holds more slots than the watermark window. */
    public static List<Violation> logBound(int replica, int logSize, int watermarkWindow, long tick) {
        return logSize <= watermarkWindow ? List.of() : List.of(new Violation("log-bound", List.of(replica),
                "log holds " + logSize + " slots > window " + watermarkWindow + " at tick " + tick));
    }

    private static List<Digest> effective(List<App.Executed> history) {
        List<Digest> out = new ArrayList<>();
        for (App.Executed x : history) {
            out.addAll(x.effective());
        }
        return out;
    }

    private static List<Violation> dedupe(List<Violation> in) {
        return new ArrayList<>(new java.util.LinkedHashSet<>(in));
    }
}
