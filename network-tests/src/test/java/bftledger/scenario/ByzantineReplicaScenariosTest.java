package bftledger.scenario;

import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.Timeout;

/**
 * One Byzantine backup at a time on real processes: equivocating (signed evidence recorded and
 * named by the online audit), silent, forging view changes, replaying old messages, flooding
 * beyond the watermarks, bad signatures. The honest three keep committing one ledger.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
@Timeout(value = 3, unit = TimeUnit.MINUTES)
class ByzantineReplicaScenariosTest extends ByzantineScenarios {

    private int backup() {
        return (primary() + 1) % 4;
    }

    @Test
    @Order(1)
    void equivocatingBackup() throws Exception {
        int node = backup();
        BankChecker checker = runWithByzantine(node, "equivocate-backup", 20);
        checker.evidenceAgainst(node, 1);
        OnlineAuditResult audit = OnlineAuditResult.run(cluster.genesisPath());
        checker.require(audit.culprits().contains(node) && honestWithout(node).stream().noneMatch(audit.culprits()::contains),
                "audit-names-culprit", java.util.List.of(node), "online audit culprits " + audit.culprits() + ": " + audit.json());
        checker.assertOk("equivocating backup node" + node + ", " + why());
        restoreHonest(node, "equivocating backup");
    }

    @Test
    @Order(2)
    void silentReplica() throws Exception {
        int node = backup();
        runWithByzantine(node, "silent", 20).assertOk("silent node" + node + ", " + why());
        restoreHonest(node, "silent replica");
    }

    @Test
    @Order(3)
    void forgedViewChange() throws Exception {
        int node = backup();
        runWithByzantine(node, "forge-view-change", 20).assertOk("forged view change by node" + node + ", " + why());
        restoreHonest(node, "forged view change");
    }

    @Test
    @Order(4)
    void replay() throws Exception {
        int node = backup();
        runWithByzantine(node, "replay", 20).assertOk("replay by node" + node + ", " + why());
        restoreHonest(node, "replay");
    }

    @Test
    @Order(5)
    void floodBeyondTheWatermarks() throws Exception {
        int node = backup();
        runWithByzantine(node, "flood", 20).assertOk("flood by node" + node + ", " + why());
        restoreHonest(node, "flood");
    }

    @Test
    @Order(6)
    void badSignatures() throws Exception {
        int node = backup();
        runWithByzantine(node, "bad-signatures", 20).assertOk("bad signatures from node" + node + ", " + why());
        restoreHonest(node, "bad signatures");
    }
}
