package bftledger.node.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class BenchTest {
    @Test
    void threadsAreGroupedByNameWithoutTheirNumbering() {
        assertEquals("grpc-submit", Bench.threadFamily("grpc-submit-3"));
        assertEquals("grpc-default-worker-ELG", Bench.threadFamily("grpc-default-worker-ELG-3-1"));
        assertEquals("pool-2-thread", Bench.threadFamily("pool-2-thread-17"));
        assertEquals("C2 CompilerThre", Bench.threadFamily("C2 CompilerThre"));
        assertEquals("pbft-core", Bench.threadFamily("pbft-core"));
        assertEquals("42", Bench.threadFamily("42"));
    }

    @Test
    void ownThreadsAreReadFromProc() {
        Map<String, Long> ticks = Bench.threadCpuTicks(List.of(ProcessHandle.current().pid()));
        if (java.nio.file.Files.isDirectory(java.nio.file.Path.of("/proc/self/task"))) {
            assertTrue(ticks.size() > 1, "several thread families in a JVM: " + ticks);
            assertTrue(ticks.values().stream().mapToLong(Long::longValue).sum() > 0, "this JVM used some CPU: " + ticks);
        }
        assertEquals(Map.of(), Bench.threadCpuTicks(List.of(Long.MAX_VALUE)), "a pid that does not exist reads as nothing");
    }

    @Test
    void aPacedRunKeepsItsRateWhenWakeUpsAreLate() {
        // 1000/s; callers sleep until their slot and wake 80 us late, every 10th one 3 ms late
        // (a busy core): later slots make that up instead of sliding back.
        Bench.RateGate gate = new Bench.RateGate(1000, 0);
        long now = 0;
        long lastSlot = 0;
        for (int i = 0; i < 1000; i++) {
            long delay = gate.reserve(now);
            lastSlot = now + delay;
            now = Math.max(now, lastSlot) + (i % 10 == 9 ? 3_000_000 : 80_000);
        }
        assertEquals(999_000_000L, lastSlot, "the 1000th slot is 999 ms after the first: no drift");
        // A stall far longer than the catch-up allowance is not made up with a burst.
        long afterStall = now + 2_000_000_000L;
        long due = 0;
        while (gate.reserve(afterStall) <= 0) {
            due++;
        }
        assertTrue(due <= Bench.RateGate.CATCH_UP_MAX_NANOS / 1_000_000 + 1, "slots due at once after a 2 s stall: " + due);
    }

    @Test
    void warmUpIsTheFirstWindowAtNinetyPercentOfTheMedian() {
        // Measured from second 6: median 100. Seconds 4..6 average 90 (the first 3-second window there).
        List<Long> timeline = List.of(0L, 10L, 40L, 80L, 85L, 90L, 95L, 100L, 100L, 110L, 100L, 120L);
        assertEquals(100, Bench.steadyRate(timeline, 6));
        assertEquals(java.util.OptionalInt.of(7), Bench.secondsToWarm(timeline, 6, Bench.WARM_SHARE));
        assertEquals(java.util.OptionalInt.empty(), Bench.secondsToWarm(List.of(0L, 0L, 5L), 1, Bench.WARM_SHARE));
    }
}
