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

    /** The one node that plays every strategy in turn (switched directly, restored honest at the end). */
    private int node = -1;

    private int backup() {
        if (node < 0) {
            node = (primary() + 1) % 4;
        }
        return node;
    }

    @Test
    @Order(1)
    void equivocatingBackup() throws Exception {
        int byzantine = backup();
        BankChecker checker = runWithByzantine(byzantine, "equivocate-backup", 20);
        checker.evidenceAgainst(byzantine, 1);
        OnlineAuditResult audit = OnlineAuditResult.run(cluster.genesisPath());
        checker.require(audit.culprits().contains(byzantine) && honestWithout(byzantine).stream().noneMatch(audit.culprits()::contains),
                "audit-names-culprit", java.util.List.of(byzantine), "online audit culprits " + audit.culprits() + ": " + audit.json());
        checker.assertOk("equivocating backup node" + byzantine + ", " + why());
    }

    @Test
    @Order(2)
    void silentReplica() throws Exception {
        int byzantine = backup();
        runWithByzantine(byzantine, "silent", 12).assertOk("silent node" + byzantine + ", " + why());
    }

    @Test
    @Order(3)
    void forgedViewChange() throws Exception {
        int byzantine = backup();
        runWithByzantine(byzantine, "forge-view-change", 12).assertOk("forged view change by node" + byzantine + ", " + why());
    }

    @Test
    @Order(4)
    void replay() throws Exception {
        int byzantine = backup();
        runWithByzantine(byzantine, "replay", 12).assertOk("replay by node" + byzantine + ", " + why());
    }

    @Test
    @Order(5)
    void floodBeyondTheWatermarks() throws Exception {
        int byzantine = backup();
        runWithByzantine(byzantine, "flood", 12).assertOk("flood by node" + byzantine + ", " + why());
    }

    @Test
    @Order(6)
    void badSignatures() throws Exception {
        int byzantine = backup();
        runWithByzantine(byzantine, "bad-signatures", 12).assertOk("bad signatures from node" + byzantine + ", " + why());
        restoreHonest(byzantine, "bad signatures");
    }
}
