package bftledger.scenario;

import bftledger.node.cli.Main;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The CLI's online audit ({@code bftledger audit --online --json}) run in-process against the
 * nodes listed in genesis (so: loopback clusters), with the two answers scenarios need read from
 * its JSON: whether every node agrees, and which replicas its verified evidence proves faulty.
 */
public record OnlineAuditResult(int exitCode, boolean passed, List<Integer> culprits, String json) {
    private static final Pattern PASSED = Pattern.compile("\"passed\"\\s*:\\s*(true|false)");
    private static final Pattern CULPRITS = Pattern.compile("\"culprits\"\\s*:\\s*\\[([^\\]]*)\\]");

    /** Runs the audit; System.out is captured for the call (the CLI prints its JSON there). */
    public static synchronized OnlineAuditResult run(Path genesis) {
        PrintStream original = System.out;
        ByteArrayOutputStream captured = new ByteArrayOutputStream();
        int rc;
        try (PrintStream out = new PrintStream(captured, true, StandardCharsets.UTF_8)) {
            System.setOut(out);
            // Scenario clusters run without TLS (ScenarioCluster writes tls.plaintext=true).
            rc = Main.run("audit", "--online", "--genesis", genesis.toString(), "--timeout", "10s", "--json", "--plaintext");
        } finally {
            System.setOut(original);
        }
        String json = captured.toString(StandardCharsets.UTF_8);
        Matcher p = PASSED.matcher(json);
        Matcher c = CULPRITS.matcher(json);
        if (!p.find() || !c.find()) {
            throw new AssertionError("online audit printed no passed/culprits (exit " + rc + "): " + json);
        }
        List<Integer> culprits = new ArrayList<>();
        for (String s : c.group(1).split(",")) {
            if (!s.isBlank()) {
                culprits.add(Integer.parseInt(s.strip()));
            }
        }
        return new OnlineAuditResult(rc, Boolean.parseBoolean(p.group(1)), List.copyOf(culprits), json);
    }
}
