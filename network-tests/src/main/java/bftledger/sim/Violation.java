package bftledger.sim;

import java.util.List;

/** A broken check: which one, the replicas involved, and what exactly was seen. */
public record Violation(String check, List<Integer> replicas, String detail) {
    public Violation {
        replicas = List.copyOf(replicas);
    }

    @Override
    public String toString() {
        return check + " " + replicas + ": " + detail;
    }
}
