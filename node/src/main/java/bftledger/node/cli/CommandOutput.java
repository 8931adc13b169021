package bftledger.node.cli;

import java.io.PrintWriter;
import java.util.LinkedHashMap;
import java.util.Map;
import picocli.CommandLine;

/** How every command prints its result: text, or with {@code --json} one JSON object that starts with {@code "ok"}. */
final class CommandOutput {
    private CommandOutput() {}

    static void print(CommandLine.Model.CommandSpec spec, boolean json, Map<String, Object> result, String text) {
        PrintWriter out = spec.commandLine().getOut();
        if (json) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("ok", true);
            m.putAll(result);
            out.println(Json.write(m));
        } else {
            out.println(text);
        }
        out.flush();
    }

    static void printFailure(PrintWriter out, String message) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("ok", false);
        m.put("error", message);
        out.println(Json.write(m));
        out.flush();
    }
}
