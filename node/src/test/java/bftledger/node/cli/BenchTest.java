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
}
