package bftledger.chaos;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import bftledger.api.proto.GetStatusResponse;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/**
 * When the chaos run may start its next fault: only when the last faulted node votes again.
 * Caught up to the height of the moment the fault was undone is not enough (the network moved on
 * meanwhile, and a node fetching blocks cannot vote), so a next fault then made two faulty nodes
 * out of four.
 */
class ChaosHealthTest {
    private static GetStatusResponse status(int replica, long height, long view, boolean changing) {
        GetStatusResponse.Builder b = GetStatusResponse.newBuilder().setReplica(replica).setHeight(height).setView(view)
                .setViewChanging(changing);
        for (int j = 0; j < 4; j++) {
            if (j != replica) {
                b.addPeersConnected(j);
            }
        }
        return b.build();
    }

    private static List<Optional<GetStatusResponse>> network(long... heights) {
        List<Optional<GetStatusResponse>> out = new ArrayList<>();
        for (int i = 0; i < heights.length; i++) {
            out.add(Optional.of(status(i, heights[i], 5, false)));
        }
        return out;
    }

    @Test
    void aNodeWithinTheWindowOfTheOthersIsHealthy() {
        assertTrue(ChaosMain.healthy(network(1000, 1010, 1005, 1000 - ChaosMain.CAUGHT_UP_BLOCKS + 10), 3, 900));
        assertTrue(ChaosMain.healthy(network(1000, 1000, 1000, 1000), 3, 1000));
    }

    @Test
    void aNodePastTheOldHeightButStillFarBehindIsNot() {
        assertFalse(ChaosMain.healthy(network(5000, 5010, 5005, 4000), 3, 3900));
        assertFalse(ChaosMain.healthy(network(1000, 1000, 1000, 990), 3, 995), "below the height when undone");
    }

    @Test
    void aViewChangeAViewMismatchAMissingNodeOrAMissingLinkIsNot() {
        List<Optional<GetStatusResponse>> changing = network(1000, 1000, 1000, 1000);
        changing.set(1, Optional.of(status(1, 1000, 5, true)));
        assertFalse(ChaosMain.healthy(changing, 3, 1000));
        List<Optional<GetStatusResponse>> otherView = network(1000, 1000, 1000, 1000);
        otherView.set(3, Optional.of(status(3, 1000, 6, false)));
        assertFalse(ChaosMain.healthy(otherView, 3, 1000));
        List<Optional<GetStatusResponse>> silent = network(1000, 1000, 1000, 1000);
        silent.set(0, Optional.empty());
        assertFalse(ChaosMain.healthy(silent, 3, 1000));
        List<Optional<GetStatusResponse>> unlinked = network(1000, 1000, 1000, 1000);
        unlinked.set(2, Optional.of(unlinked.get(2).get().toBuilder().clearPeersConnected().addPeersConnected(0).build()));
        assertFalse(ChaosMain.healthy(unlinked, 3, 1000));
    }
}
