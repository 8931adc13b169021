package bftledger.node.replica;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Catch-up asks recently heard peers first: a SIGSTOPped peer accepts the fetch and never
 * answers, so asking it first costs a whole fetch deadline per round while the network may
 * need the lagging replica's vote.
 */
class CatchUpPeerOrderTest {
    private static CatchUp catchUp(int self, long... agesMillis) {
        return new CatchUp(self, agesMillis.length, null, peer -> agesMillis[peer]);
    }

    @Test
    void ringOrderFromTheStartWhenEveryPeerIsHeard() {
        CatchUp c = catchUp(1, 0, 0, 0, 0);
        assertEquals(List.of(2, 3, 0), c.peerOrder(1));
        assertEquals(List.of(3, 0, 2), c.peerOrder(2));
        assertEquals(List.of(0, 2, 3), c.peerOrder(7));
    }

    @Test
    void silentPeersAreAskedLastButStillAsked() {
        CatchUp c = catchUp(1, 100, 0, CatchUp.SILENT_AFTER_MILLIS + 1, 200);
        assertEquals(List.of(3, 0, 2), c.peerOrder(1));
        CatchUp never = catchUp(0, 0, Long.MAX_VALUE, Long.MAX_VALUE, Long.MAX_VALUE);
        assertEquals(List.of(1, 2, 3), never.peerOrder(0), "all silent: plain ring order");
    }
}
