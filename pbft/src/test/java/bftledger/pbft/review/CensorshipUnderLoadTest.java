package bftledger.pbft.review;

import static org.junit.jupiter.api.Assertions.assertTrue;

import bftledger.pbft.Event;
import bftledger.pbft.Request;
import bftledger.pbft.TestRequests;
import org.junit.jupiter.api.Test;

/**
 * LIVENESS (censorship). Replica.onExecuted restarts the backup's request timer to the full
 * timeout whenever ANY batch with requests executes and requests are still pending, so the timer
 * measures "time since the last execution", not "time the oldest pending request has waited"
 * (paper 4.4: the timer is for a request and is stopped only when that request executes). A
 * primary that orders other clients' requests at least once per timeout censors one request
 * forever and is never voted out.
 */
class CensorshipUnderLoadTest {

    @Test
    void aPrimaryThatKeepsOrderingOtherRequestsCanCensorOneForever() {
        int timeout = 4;
        Net net = new Net(1, cfg -> cfg.withTimeouts(timeout, timeout, 3));
        Request censored = TestRequests.signed("censored");
        // The Byzantine primary 0 drops the censored request (the client sent it to everyone, as
        // the SDK does; the primary just ignores it) and orders everything else promptly.
        for (int i = 1; i < net.n; i++) {
            net.step(i, new Event.ClientRequest(censored));
        }
        net.deliverAll();
        // Other clients keep submitting; the primary orders them promptly.
        for (int round = 0; round < 30 * timeout; round++) {
            if (round % (timeout - 1) == 0) {
                net.submit(TestRequests.signed("other " + round));
                net.deliverAll();
            }
            net.tick(1);
        }
        for (int i = 1; i < net.n; i++) {
            assertTrue(net.replica(i).view() >= 1 || net.apps.get(i).ids.contains(censored.id()),
                    "replica " + i + " still in view " + net.replica(i).view() + " after " + (30 * timeout)
                            + " ticks (timeout " + timeout + ") and the censored request never executed");
        }
    }
}
