package bftledger.node.replica;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

@Timeout(value = 30, unit = TimeUnit.SECONDS)
class TimerExecutorTest {
    @Test
    void aPeriodicTaskThatThrowsKeepsRunning() throws Exception {
        ScheduledThreadPoolExecutor timers = ReplicaNode.timerExecutor();
        try {
            AtomicInteger runs = new AtomicInteger();
            CountDownLatch thirdRun = new CountDownLatch(3);
            timers.scheduleWithFixedDelay(() -> {
                runs.incrementAndGet();
                thirdRun.countDown();
                throw new IllegalStateException("a tick that fails");
            }, 0, 5, TimeUnit.MILLISECONDS);
            assertTrue(thirdRun.await(10, TimeUnit.SECONDS), "ran only " + runs.get() + " time(s) after throwing");
        } finally {
            timers.shutdownNow();
        }
    }

    @Test
    void aCancelledTimerLeavesTheQueue() {
        ScheduledThreadPoolExecutor timers = ReplicaNode.timerExecutor();
        try {
            ScheduledFuture<?> wait = timers.schedule(() -> { }, 1, TimeUnit.HOURS);
            assertEquals(1, timers.getQueue().size());
            wait.cancel(false);
            assertEquals(0, timers.getQueue().size());
        } finally {
            timers.shutdownNow();
        }
    }
}
