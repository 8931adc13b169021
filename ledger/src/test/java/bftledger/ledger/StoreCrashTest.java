package bftledger.ledger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import bftledger.crypto.Digest;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Kills a process that is appending (SIGKILL, no shutdown hooks) and checks that every block it
 * acknowledged is in the store, which opens cleanly and verifies. Twice, so the second child
 * resumes from a store that was itself killed mid-append.
 */
class StoreCrashTest {
    private static final int ACKS_BEFORE_KILL = 25;

    @TempDir
    Path dir;

    private Map<Long, Digest> runAndKill() throws Exception {
        String classpath = System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"));
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        List<String> command = new ArrayList<>(List.of(java, "-Xmx128m",
                "--add-opens", "java.base/java.nio=ALL-UNNAMED", "--add-opens", "java.base/sun.nio.ch=ALL-UNNAMED",
                "-cp", classpath, StoreCrashChild.class.getName(), dir.toString()));
        Process child = new ProcessBuilder(command).redirectError(ProcessBuilder.Redirect.INHERIT).start();
        Map<Long, Digest> acked = new LinkedHashMap<>();
        try (BufferedReader out = new BufferedReader(new InputStreamReader(child.getInputStream(), StandardCharsets.UTF_8))) {
            String line;
            while (acked.size() < ACKS_BEFORE_KILL && (line = out.readLine()) != null) {
                String[] parts = line.split(" ");
                if (parts.length == 3 && parts[0].equals("ACK")) {
                    acked.put(Long.parseLong(parts[1]), Digest.fromHex(parts[2]));
                }
            }
            // While it writes, no other process opens the store (an audit would mark the index clean under it).
            StoreInUseException busy = assertThrows(StoreInUseException.class,
                    () -> BlockStore.open(dir, TestLedger.standard().genesis));
            assertTrue(busy.getMessage().contains("open in another process"), busy.getMessage());
            // Killed while it is still appending: it never stops on its own before MAX_BLOCKS.
            child.destroyForcibly();
            assertTrue(child.waitFor(60, TimeUnit.SECONDS), "child did not die");
        } finally {
            child.destroyForcibly();
        }
        assertEquals(ACKS_BEFORE_KILL, acked.size(), "child stopped early; see its stderr above");
        return acked;
    }

    private void assertAllAcknowledgedBlocksSurvive(Map<Long, Digest> acked) {
        TestLedger net = TestLedger.standard();
        try (BlockStore store = BlockStore.open(dir, net.genesis)) {
            for (Map.Entry<Long, Digest> e : acked.entrySet()) {
                var block = store.block(e.getKey());
                assertTrue(block.isPresent(), "acknowledged block " + e.getKey() + " lost");
                assertEquals(e.getValue(), Blocks.hash(block.get()), "block " + e.getKey() + " changed");
            }
            long lastAcked = acked.keySet().stream().mapToLong(Long::longValue).max().orElseThrow();
            assertTrue(store.height() >= lastAcked, "tip " + store.height() + " below acknowledged " + lastAcked);
            LedgerVerifier.Report report = LedgerVerifier.verify(store, LedgerVerifier.Progress.NONE);
            assertTrue(report.ok(), report.problems().toString());
            assertNotNull(store.record(net.user((int) (lastAcked % 8)), "crash").orElse(null));
        }
    }

    @Test
    void acknowledgedBlocksSurviveKill() throws Exception {
        Map<Long, Digest> first = runAndKill();
        assertAllAcknowledgedBlocksSurvive(first);
        Map<Long, Digest> second = runAndKill();
        long firstMax = first.keySet().stream().mapToLong(Long::longValue).max().orElseThrow();
        assertTrue(second.keySet().stream().allMatch(h -> h > firstMax), "second child resumed after the first: " + second.keySet());
        first.putAll(second);
        assertAllAcknowledgedBlocksSurvive(first);
    }
}
