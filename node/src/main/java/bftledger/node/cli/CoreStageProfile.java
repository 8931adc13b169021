package bftledger.node.cli;

import bftledger.node.config.ConfigException;
import bftledger.node.config.NodeConfig;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The per-block profile of a benchmark window from the nodes' own timers
 * ({@code bftledger_block_stage_seconds}, see the node's CoreStages): each node's metrics read at
 * the start and the end of the window, and per block the milliseconds each stage took
 * ({@code order} as the mean of its per-block rounds, the others as their sum over the window
 * divided by the blocks the node stored in it). Nodes without a metrics port are left out.
 */
final class CoreStageProfile {
    private static final Pattern STAGE = Pattern.compile(
            "^bftledger_block_stage_seconds_(sum|count)\\{[^}]*stage=\"([a-z]+)\"[^}]*}\\s+(\\S+)$");
    private static final Pattern HEIGHT = Pattern.compile("^bftledger_height\\{[^}]*}\\s+(\\S+)$");
    private static final Duration TIMEOUT = Duration.ofSeconds(5);

    /** One node's readings: "height", and "<stage>_sum" (seconds) / "<stage>_count" per stage. */
    record Reading(Map<String, Double> values) {}

    private final HttpClient http = HttpClient.newBuilder().connectTimeout(TIMEOUT).build();
    /** Node index -> metrics port, for the nodes that serve metrics. */
    private final Map<Integer, Integer> ports;

    private CoreStageProfile(Map<Integer, Integer> ports) {
        this.ports = ports;
    }

    /** The nodes of a network directory made by {@code bftledger init} ({@code node<i>/node.properties}). */
    static CoreStageProfile of(Path network, int n) {
        Map<Integer, Integer> ports = new TreeMap<>();
        for (int i = 0; i < n; i++) {
            Path file = network.resolve("node" + i).resolve("node.properties");
            if (!Files.isRegularFile(file)) {
                continue;
            }
            try {
                int port = NodeConfig.read(file).metricsPort();
                if (port > 0) {
                    ports.put(i, port);
                }
            } catch (ConfigException e) {
                // A node whose config does not read is left out of the profile, as one without metrics.
            }
        }
        return new CoreStageProfile(ports);
    }

    boolean isEmpty() {
        return ports.isEmpty();
    }

    /** Reads every node now; a node that does not answer (stopped, killed) is missing from the map. */
    Map<Integer, Reading> read() {
        Map<Integer, Reading> out = new TreeMap<>();
        ports.forEach((node, port) -> {
            try {
                HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/metrics"))
                        .timeout(TIMEOUT).build(), HttpResponse.BodyHandlers.ofString());
                if (r.statusCode() == 200) {
                    out.put(node, parse(r.body()));
                }
            } catch (IOException e) {
                // Not answering: left out.
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        });
        return out;
    }

    static Reading parse(String scrape) {
        Map<String, Double> values = new LinkedHashMap<>();
        for (String line : scrape.split("\n")) {
            Matcher m = STAGE.matcher(line);
            if (m.matches()) {
                values.put(m.group(2) + "_" + m.group(1), Double.parseDouble(m.group(3)));
                continue;
            }
            Matcher h = HEIGHT.matcher(line);
            if (h.matches()) {
                values.put("height", Double.parseDouble(h.group(1)));
            }
        }
        return new Reading(values);
    }

    /**
     * Per node read at both ends: the blocks stored in between and, per stage, milliseconds per
     * block ({@code order}: the mean round; a stage the node never timed is left out).
     */
    static Map<String, Object> perBlock(Map<Integer, Reading> start, Map<Integer, Reading> end, List<String> stages) {
        Map<String, Object> out = new LinkedHashMap<>();
        for (Map.Entry<Integer, Reading> e : end.entrySet()) {
            Reading before = start.get(e.getKey());
            if (before == null) {
                continue;
            }
            Map<String, Double> a = before.values();
            Map<String, Double> b = e.getValue().values();
            double blocks = b.getOrDefault("height", 0.0) - a.getOrDefault("height", 0.0);
            Map<String, Object> node = new LinkedHashMap<>();
            node.put("blocks", Math.round(blocks));
            for (String stage : stages) {
                double sum = b.getOrDefault(stage + "_sum", 0.0) - a.getOrDefault(stage + "_sum", 0.0);
                double count = b.getOrDefault(stage + "_count", 0.0) - a.getOrDefault(stage + "_count", 0.0);
                double per = stage.equals("order") ? count : blocks;
                if (count > 0 && per > 0) {
                    node.put(stage, Math.round(sum * 1e3 / per * 100) / 100.0);
                }
            }
            out.put("node" + e.getKey(), node);
        }
        return out;
    }
}
