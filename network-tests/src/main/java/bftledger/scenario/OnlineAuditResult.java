package bftledger.scenario;

import bftledger.node.cli.Main;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The CLI's online audit ({@code bftledger audit --online --json}) run in-process against the
 * nodes listed in genesis (so: loopback clusters), with the two answers scenarios need read from
 * its JSON: whether every node agrees, and which replicas its verified evidence proves faulty.
 */
public record OnlineAuditResult(int exitCode, boolean passed, List<Integer> culprits, String json) {
    private static final ObjectMapper JSON = new ObjectMapper();

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
        return parse(rc, captured.toString(StandardCharsets.UTF_8));
    }

    /**
     * Reads the verdict from what {@code audit --online --json} printed: its last line that is a
     * JSON object. Throws {@link IllegalArgumentException} when there is none or it has no verdict.
     */
    public static OnlineAuditResult parse(int exitCode, String printed) {
        String line = printed.lines().map(String::strip).filter(l -> l.startsWith("{")).reduce((a, b) -> b)
                .orElseThrow(() -> new IllegalArgumentException("online audit printed no JSON (exit " + exitCode + "): " + printed));
        JsonNode tree;
        try {
            tree = JSON.readTree(line);
        } catch (JsonProcessingException e) {
            throw new IllegalArgumentException("online audit printed invalid JSON (exit " + exitCode + "): " + line, e);
        }
        JsonNode passed = tree.get("passed");
        JsonNode culprits = tree.get("culprits");
        if (passed == null || !passed.isBoolean() || culprits == null || !culprits.isArray()) {
            throw new IllegalArgumentException("online audit printed no passed/culprits (exit " + exitCode + "): " + line);
        }
        List<Integer> replicas = new ArrayList<>();
        culprits.forEach(c -> replicas.add(c.asInt()));
        return new OnlineAuditResult(exitCode, passed.asBoolean(), List.copyOf(replicas), line);
    }
}
