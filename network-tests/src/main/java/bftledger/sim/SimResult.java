package bftledger.sim;

import java.util.List;

/**
 * The outcome of one run: its scenario, every violated check, and a few counters.
 * {@code fingerprint} digests every honest and Byzantine replica's executed history and the
 * counters, so two runs of one seed can be compared cheaply; {@code trace} is the per-step
 * trace when it was asked for, else empty.
 */
public record SimResult(Scenario scenario, List<Violation> violations, long ticks, long deliveries,
        long messagesSent, int viewChanges, int equivocationsReceived, int evidenceRecorded, String fingerprint,
        String trace) {
    public SimResult {
        violations = List.copyOf(violations);
    }

    public boolean passed() {
        return violations.isEmpty();
    }

    /** One line for a failing seed: the seed, the scenario and what broke. */
    public String failureLine() {
        StringBuilder b = new StringBuilder("FAIL seed=").append(scenario.seed()).append(" [")
                .append(scenario.describe()).append("]");
        for (Violation v : violations) {
            b.append("\n    ").append(v);
        }
        return b.toString();
    }
}
