package bftledger.pbft;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * A replica that catches up by state transfer must stop waiting for the requests the fetched
 * state executed; otherwise its request timer fires for requests that already executed and it
 * sits alone in a view change.
 */
class StateTransferRequestsTest {
    static final int TIMEOUT = 30;
    static final int PERIOD = 3;

    private static Cluster laggingReplica3(boolean withIndex) {
        Cluster c = new Cluster(1, cfg -> cfg.withTimeouts(TIMEOUT, TIMEOUT, 3).withStatusTicks(PERIOD)
                .withCheckpoints(2, 4).withBatching(1, 1 << 20, 1 << 16, 4));
        if (!withIndex) {
            // As a node that plugs no ExecutedRequests index: only the event tells the core.
            c.replicas.set(3, new Replica(c.base.withReplica(3, c.keys.get(3)), ExecutedRequests.NONE));
            c.transferReportsIds = true;
        }
        // Replica 3 sees the requests and the checkpoints, never the ordering.
        c.dropIf = e -> e.to() == 3 && (e.wire()[0] == MessageType.PRE_PREPARE.code()
                || e.wire()[0] == MessageType.PREPARE.code() || e.wire()[0] == MessageType.COMMIT.code());
        return c;
    }

    @ParameterizedTest(name = "index plugged in: {0}")
    @ValueSource(booleans = {true, false})
    void requestsExecutedByTheTransferredStateAreNoLongerPendingAndNoViewChangeFollows(boolean withIndex) {
        Cluster c = laggingReplica3(withIndex);
        List<Request> requests = new ArrayList<>();
        for (int k = 0; k < 6; k++) {
            Request r = TestRequests.signed("st" + k);
            requests.add(r);
            c.submit(r);
            c.deliverAll();
        }
        c.tick(PERIOD);
        assertTrue(c.apps.get(3).height >= 4, "replica 3 caught up by state transfer, at " + c.apps.get(3).height);
        assertEquals(c.apps.get(3).height, c.replica(3).lastExecuted());
        long stillOpen = requests.stream().filter(r -> !c.apps.get(3).executedIds.contains(r.id())).count();
        assertEquals(stillOpen, c.replica(3).pendingRequests(), "only requests above the transferred state still wait");
        c.heal();
        c.tick(3 * TIMEOUT);
        assertEquals(0, c.sentCount(3, MessageType.VIEW_CHANGE), "no lone view change for requests that already executed");
        assertEquals(0, c.replica(3).view());
        assertTrue(c.replica(3).viewActive());
        assertEquals(0, c.replica(3).pendingRequests());
        for (Request r : requests) {
            assertTrue(c.apps.get(0).executedIds.contains(r.id()));
        }
        c.assertAgreement();
    }
}
