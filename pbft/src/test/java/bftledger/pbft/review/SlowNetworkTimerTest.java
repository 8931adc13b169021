package bftledger.pbft.review;

import static org.junit.jupiter.api.Assertions.assertTrue;

import bftledger.pbft.Event;
import bftledger.pbft.TestRequests;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * LIVENESS (timer rule, paper 4.5.2). Every message takes DELAY ticks, so a request needs about
 * 3*DELAY ticks from pre-prepare to commit, longer than the request timeout. In the paper the
 * view-change timer keeps running after the NEW-VIEW until a request executes in the new view
 * and doubles on each failure, so the timeout eventually exceeds the delay. Here the NEW-VIEW
 * resets failedViewChanges to 0 and re-arms the (never doubled) request timer, so the backups of
 * each view time out before the view's first commit reaches them: four fault-free replicas churn
 * through five views, and the last replica to time out is left alone in a higher view (no 2f+1
 * VIEW-CHANGEs, so no view-change timer) and never executes the request.
 */
class SlowNetworkTimerTest {
    record Delayed(long due, Net.Envelope e) {}

    @Test
    void aSlowButFaultFreeNetworkChurnsViewsAndStrandsAReplica() {
        int timeout = 4;
        int delay = 3;
        Net net = new Net(1, cfg -> cfg.withTimeouts(timeout, timeout, 6).withStatusTicks(1000));
        List<Delayed> inFlight = new ArrayList<>();
        long[] round = {0};
        net.tamper = e -> {
            inFlight.add(new Delayed(round[0] + delay, e));
            return List.of();
        };
        net.submit(TestRequests.signed("slow"));
        for (round[0] = 1; round[0] <= 600; round[0]++) {
            net.now += 10;
            for (int i = 0; i < net.n; i++) {
                net.step(i, new Event.Tick(net.now));
            }
            List<Delayed> due = new ArrayList<>();
            inFlight.removeIf(d -> d.due() <= round[0] && due.add(d));
            due.forEach(d -> net.queue.add(d.e()));
            net.deliverAll();
        }
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < net.n; i++) {
            sb.append(" r").append(i).append(": view ").append(net.replica(i).view()).append(" active ")
                    .append(net.replica(i).viewActive()).append(" height ").append(net.apps.get(i).height)
                    .append(" failed ").append(net.replica(i).failedViewChanges());
        }
        for (int i = 0; i < net.n; i++) {
            assertTrue(net.apps.get(i).height >= 1, "replica " + i + " executed nothing after 600 ticks; message delay " + delay
                    + " ticks, request timeout " + timeout + ";" + sb);
        }
    }
}
