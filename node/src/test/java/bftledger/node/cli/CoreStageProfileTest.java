package bftledger.node.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import bftledger.node.metrics.NodeMetrics;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** The bench's per-block profile, read from a node's real Prometheus scrape. */
class CoreStageProfileTest {

    @Test
    void stagesPerBlockComeFromTheDifferenceOfTwoScrapes() {
        try (NodeMetrics metrics = new NodeMetrics(2)) {
            metrics.setHeight(10);
            metrics.stageTimer("execute").record(4, TimeUnit.MILLISECONDS);
            metrics.stageTimer("order").record(30, TimeUnit.MILLISECONDS);
            CoreStageProfile.Reading start = CoreStageProfile.parse(metrics.scrape());
            assertEquals(10.0, start.values().get("height"));
            assertEquals(0.004, start.values().get("execute_sum"), 1e-9);

            metrics.setHeight(14);
            for (int i = 0; i < 4; i++) {
                metrics.stageTimer("execute").record(6, TimeUnit.MILLISECONDS);
            }
            metrics.stageTimer("order").record(20, TimeUnit.MILLISECONDS);
            metrics.stageTimer("order").record(10, TimeUnit.MILLISECONDS);
            CoreStageProfile.Reading end = CoreStageProfile.parse(metrics.scrape());

            @SuppressWarnings("unchecked")
            Map<String, Object> node = (Map<String, Object>) CoreStageProfile
                    .perBlock(Map.of(2, start), Map.of(2, end), List.of("order", "execute", "wal")).get("node2");
            assertEquals(4L, node.get("blocks"));
            assertEquals(6.0, node.get("execute"), "24 ms over 4 blocks");
            assertEquals(15.0, node.get("order"), "the mean of the rounds timed in the window");
            assertFalse(node.containsKey("wal"), "a stage never timed is left out, not reported as 0");
        }
    }

    @Test
    void metricsPortsAreReadFromTheNodesConfigs(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir) {
        assertEquals(0, Main.run("init", "--nodes", "4", "--dir", dir.toString(), "--accounts", "2",
                "--metrics-base-port", "29100", "--json"));
        assertFalse(CoreStageProfile.of(dir, 4).isEmpty());
        assertEquals(Map.of(), CoreStageProfile.of(dir.resolve("absent"), 4).read(), "no configs, no nodes read");
    }

    @Test
    void aNodeMissingAtEitherEndIsLeftOut() {
        CoreStageProfile.Reading r = new CoreStageProfile.Reading(Map.of("height", 1.0));
        assertEquals(Map.of(), CoreStageProfile.perBlock(Map.of(), Map.of(0, r), List.of("execute")));
    }
}
