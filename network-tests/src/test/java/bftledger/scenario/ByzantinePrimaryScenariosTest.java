package bftledger.scenario;

import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.Timeout;

/**
 * A Byzantine primary on real processes: equivocating (the view changes away, honest nodes record
 * signed evidence and the online audit names it), slow (held just inside the request timeout),
 * censoring one client (that client's transfers still commit), silent (replaced, and silence is
 * not evidence: nobody is accused of it). Honest ledgers stay one.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
@Timeout(value = 3, unit = TimeUnit.MINUTES)
class ByzantinePrimaryScenariosTest extends ByzantineScenarios {

    @Test
    @Order(1)
    void equivocatingPrimary() throws Exception {
        int primary = primary();
        long viewBefore = view(primary);
        BankChecker checker = runWithByzantine(primary, "equivocate-primary", 20);
        for (int i : honestWithout(primary)) {
            checker.require(view(i) > viewBefore, "view-changed-away", java.util.List.of(i), "node" + i + " still in view "
                    + view(i) + " under equivocating primary node" + primary);
        }
        checker.evidenceAgainst(primary, 1);
        OnlineAuditResult audit = OnlineAuditResult.run(cluster.genesisPath());
        checker.require(audit.culprits().contains(primary) && honestWithout(primary).stream().noneMatch(audit.culprits()::contains),
                "audit-names-culprit", java.util.List.of(primary), "online audit culprits " + audit.culprits() + ": " + audit.json());
        checker.assertOk("equivocating primary node" + primary + ", " + why());
        restoreHonest(primary, "equivocating primary");
    }

    @Test
    @Order(2)
    void slowPrimary() throws Exception {
        int primary = primary();
        BankChecker checker = runWithByzantine(primary, "slow-primary", 10);
        checker.assertOk("slow primary node" + primary + ", " + why());
        restoreHonest(primary, "slow primary");
    }

    @Test
    @Order(3)
    void censoringPrimary() throws Exception {
        int primary = primary();
        int ambiguousBefore = workload.ambiguous().size();
        BankChecker checker = runWithByzantine(primary, "censor", 30);
        // Every account sends; the censored one's transfers must still commit (after a view change).
        checker.require(workload.ambiguous().size() == ambiguousBefore, "censored-client-served", honestWithout(primary),
                (workload.ambiguous().size() - ambiguousBefore) + " transfers never proven committed under the censoring primary: "
                        + workload.ambiguous().subList(ambiguousBefore, workload.ambiguous().size()).stream().limit(3).toList());
        checker.assertOk("censoring primary node" + primary + ", " + why());
        restoreHonest(primary, "censoring primary");
    }

    @Test
    @Order(4)
    void silentPrimary() throws Exception {
        int primary = primary();
        long viewBefore = view(primary);
        java.util.Map<Integer, Integer> evidenceBefore = evidenceCounts();
        BankChecker checker = runWithByzantine(primary, "silent", 10);
        for (int i : honestWithout(primary)) {
            checker.require(view(i) > viewBefore, "view-changed-away", java.util.List.of(i), "node" + i + " still in view "
                    + view(i) + " under silent primary node" + primary);
        }
        java.util.Map<Integer, Integer> evidenceAfter = evidenceCounts();
        for (int i : honestWithout(primary)) {
            checker.require(evidenceAfter.containsKey(i) && evidenceAfter.get(i).equals(evidenceBefore.get(i)), "silence-is-not-evidence", java.util.List.of(i),
                    "node" + i + " recorded evidence while the primary was only silent: " + evidenceBefore.get(i) + " -> "
                            + evidenceAfter.get(i));
        }
        checker.assertOk("silent primary node" + primary + ", " + why());
        restoreHonest(primary, "silent primary");
    }

    /** Evidence records each answering node holds, by node. */
    private java.util.Map<Integer, Integer> evidenceCounts() {
        java.util.Map<Integer, Integer> counts = new java.util.TreeMap<>();
        for (int i : ALL) {
            cluster.statuses().get(i).ifPresent(s -> counts.put(s.getReplica(), s.getEvidenceCount()));
        }
        return counts;
    }
}
