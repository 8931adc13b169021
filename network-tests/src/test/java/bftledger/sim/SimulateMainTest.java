package bftledger.sim;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/** The command line behind scripts/simulate.sh: its last line, exit status, listing and replay. */
class SimulateMainTest {
    private record Run(int status, String out, String err) {
        String lastLine() {
            String[] lines = out.strip().split("\n");
            return lines[lines.length - 1];
        }
    }

    private static Run run(String... args) throws Exception {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int status = SimulateMain.run(args, new PrintStream(out, true, StandardCharsets.UTF_8),
                new PrintStream(err, true, StandardCharsets.UTF_8));
        return new Run(status, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    }

    @Test
    void manySeedsEndWithTheSummaryLineAndAMatchingStatus() throws Exception {
        Run r = run("--seeds", "6", "--first-seed", "40", "--strategy", "silent", "--nodes", "4", "--threads", "2");
        Matcher m = Pattern.compile("(\\d+) passed, (\\d+) failed").matcher(r.lastLine());
        assertTrue(m.matches(), r.lastLine());
        int passed = Integer.parseInt(m.group(1));
        int failed = Integer.parseInt(m.group(2));
        assertEquals(6, passed + failed);
        assertEquals(failed == 0 ? 0 : 1, r.status());
        assertEquals(failed, Pattern.compile("(?m)^FAIL seed=").matcher(r.out()).results().count());
    }

    @Test
    void anyNodeCountFromFourRuns() throws Exception {
        Run r = run("--seed", "7", "--strategy", "silent", "--nodes", "5");
        assertTrue(r.out().startsWith("scenario seed=7 f=1 n=5 strategy=silent"), r.out().lines().findFirst().orElse(""));
        assertEquals("1 passed, 0 failed", r.lastLine());
    }

    @Test
    void oneSeedReplaysWithATrace() throws Exception {
        Run r = run("--seed", "7", "--strategy", "equivocate-primary", "--nodes", "4");
        assertTrue(r.out().startsWith("scenario seed=7 f=1 n=4 strategy=equivocate-primary"), r.out().lines().findFirst().orElse(""));
        assertTrue(r.out().contains(" <- PRE-PREPARE v0 s1 "), "trace shows deliveries");
        assertTrue(r.lastLine().equals("1 passed, 0 failed") || r.lastLine().equals("0 passed, 1 failed"), r.lastLine());
    }

    @Test
    void listsEveryStrategyWithItsDescription() throws Exception {
        Run r = run("--list-strategies");
        assertEquals(0, r.status());
        for (String name : Strategies.names()) {
            assertTrue(r.out().contains(name + " ") && r.out().contains(Strategies.description(name)), name);
        }
    }

    @Test
    void badUsageExitsTwo() throws Exception {
        assertEquals(2, run("--seeds", "3", "--strategy", "no-such-thing").status());
        assertEquals(2, run("--nodes", "3", "--seeds", "1").status());
        assertEquals(2, run().status());
    }
}
