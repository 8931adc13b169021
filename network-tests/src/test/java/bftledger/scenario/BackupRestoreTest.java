package bftledger.scenario;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import bftledger.api.proto.GetStatusResponse;
import bftledger.crypto.Digest;
import bftledger.sdk.LedgerClient;
import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Backup and restore with real node processes and real LMDB files: a node backs itself up while
 * clients keep submitting; the backup verifies from genesis and is a prefix of the live ledger;
 * the node's data directory is wiped and restored from the backup; started as it is, the node is
 * refused (the backup holds no WAL, so its signing mark no longer vouches for what it signed); with
 * {@code --rejoin-non-voting} it catches up from its peers, votes again once past its floor, and
 * every node ends with the same ledger, every acknowledged transaction, and no evidence of a
 * double vote anywhere.
 */
class BackupRestoreTest {
    private static final long SEED = Long.getLong("bftledger.seed", System.nanoTime());
    private static final int VICTIM = 3;

    @TempDir
    Path tmp;

    @Test
    @Timeout(value = 10, unit = TimeUnit.MINUTES)
    void aNodeBackedUpUnderLoadIsRestoredAndRejoinsWithoutEverVotingTwice() throws Exception {
        String why = "seed " + SEED + " (replay with -Dbftledger.seed=" + SEED + ")";
        SplittableRandom random = new SplittableRandom(SEED);
        List<Digest> acked = Collections.synchronizedList(new ArrayList<>());
        Path backup = tmp.resolve("backup-node" + VICTIM);
        try (ScenarioCluster cluster = ScenarioCluster.loopback(tmp.resolve("net"), ScenarioCluster.Options.asInit(SEED))) {
            String config = cluster.configPath(VICTIM).toString();
            String genesis = cluster.genesisPath().toString();
            cluster.startAll();
            try (LedgerClient client = LedgerClient.connect(cluster.clientNetwork())) {
                cluster.awaitReady(Duration.ofSeconds(90));
                acked.addAll(ScenarioChecks.transfers(cluster, client, random, 40, 4));

                // The backup is taken by the running node while a client keeps submitting.
                AtomicBoolean loading = new AtomicBoolean(true);
                AtomicReference<Throwable> loadFailure = new AtomicReference<>();
                SplittableRandom loadRandom = random.split();
                Thread load = new Thread(() -> {
                    try {
                        while (loading.get()) {
                            acked.addAll(ScenarioChecks.transfers(cluster, client, loadRandom, 10, 4));
                        }
                    } catch (Throwable t) {
                        loadFailure.set(t);
                    }
                }, "load");
                load.start();
                JsonNode made;
                try {
                    made = ScenarioChecks.cliJson(cluster, "backup", "--config", config, "--out", backup.toString(), "--plaintext", "--json");
                } finally {
                    loading.set(false);
                    load.join(TimeUnit.SECONDS.toMillis(180));
                }
                assertFalse(load.isAlive(), why + ": the load stopped");
                assertEquals(null, loadFailure.get(), why + ": every submission during the backup committed");
                assertEquals("hot", made.get("mode").asText(), why + ": " + made);
                long backupHeight = made.get("height").asLong();
                assertTrue(backupHeight > 0, why + ": " + made);
                assertTrue(cluster.logText(VICTIM).contains("event=backup-written"), why);
                assertFalse(Files.exists(backup.resolve("wal")), why + ": a backup holds no consensus WAL");

                // A second backup to the same place is refused by the node and changes nothing.
                String manifestBefore = Files.readString(backup.resolve("manifest.json"));
                JsonNode again = ScenarioChecks.cliJson(cluster, "backup", "--config", config, "--out", backup.toString(), "--plaintext", "--json");
                assertFalse(again.get("ok").asBoolean(), why + ": " + again);
                assertTrue(again.get("error").asText().contains("not empty"), why + ": " + again);
                assertEquals(manifestBefore, Files.readString(backup.resolve("manifest.json")));

                acked.addAll(ScenarioChecks.transfers(cluster, client, random, 20, 4));
                JsonNode audit = ScenarioChecks.cliJson(cluster, "audit", "--backup", backup.toString(), "--genesis", genesis, "--online",
                        "--plaintext", "--json");
                assertTrue(audit.get("passed").asBoolean(), why + ": " + audit);
                assertTrue(audit.get("prefix_of_live_ledger").asBoolean(), why + ": " + audit);
                assertEquals(backupHeight, audit.get("blocks_checked").asLong(), why + ": " + audit);

                // A restore into the running node's directory is refused.
                JsonNode busy = ScenarioChecks.cliJson(cluster, "restore", "--from", backup.toString(), "--config", config, "--replace", "--json");
                assertFalse(busy.get("ok").asBoolean(), why + ": " + busy);
                assertTrue(busy.get("error").asText().contains("in use by a running node"), why + ": " + busy);

                // Wipe the node, restore it from the backup.
                cluster.stop(VICTIM);
                Path data = cluster.data(VICTIM);
                deleteTree(data);
                JsonNode restored = ScenarioChecks.cliJson(cluster, "restore", "--from", backup.toString(), "--config", config, "--json");
                assertTrue(restored.get("ok").asBoolean(), why + ": " + restored);
                assertEquals(backupHeight, restored.get("height").asLong(), why);
                assertTrue(restored.get("signing_mark_present").asBoolean(), why + ": the mark lives outside data/");
                assertFalse(Files.exists(data.resolve("wal")), why + ": a restore installs no WAL");

                // Without --rejoin-non-voting the node refuses: it no longer knows all it signed.
                int before = cluster.logText(VICTIM).length();
                cluster.start(VICTIM);
                assertEquals(1, cluster.awaitExit(VICTIM, Duration.ofSeconds(90)), why);
                assertTrue(cluster.logText(VICTIM).substring(before).contains("rejoin.non.voting=true"), why);

                cluster.configure(VICTIM, "rejoin.non.voting", "true");
                cluster.start(VICTIM);
                cluster.awaitReady(Duration.ofSeconds(90));
                assertTrue(cluster.logText(VICTIM).contains("event=non-voting"), why);
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(240);
                while (!cluster.logText(VICTIM).contains("event=voting-again")) {
                    assertTrue(System.nanoTime() < deadline, why + ": node" + VICTIM + " never got past its signing floor");
                    acked.addAll(ScenarioChecks.transfers(cluster, client, random, 20, 2));
                }
                acked.addAll(ScenarioChecks.transfers(cluster, client, random, 10, 2));
                List<GetStatusResponse> end = cluster.awaitSameHeight(1, Duration.ofSeconds(120));
                for (GetStatusResponse s : end) {
                    assertEquals(end.get(0).getHeight(), s.getHeight(), why);
                    assertEquals(end.get(0).getLastBlockHash(), s.getLastBlockHash(), why + ": node" + s.getReplica() + " forked");
                    assertEquals(0, s.getEvidenceCount(), why + ": node" + s.getReplica() + " holds evidence of a double vote");
                }
                assertTrue(end.get(0).getHeight() > backupHeight, why + ": the restored node caught up past its backup");
                assertEquals(1.0, ScenarioChecks.metric(cluster.metrics(VICTIM), "bftledger_voting"), why);
                ScenarioChecks.assertAllPresent(client, new ArrayList<>(acked), why);
                JsonNode online = ScenarioChecks.cliJson(cluster, "audit", "--online", "--genesis", genesis, "--plaintext", "--json");
                assertTrue(online.get("passed").asBoolean(), why + ": " + online);
                assertEquals(0, online.get("culprits").size(), why + ": no replica is proven to have signed twice");
            }
            ScenarioChecks.stopAllAndAudit(cluster);
        }
    }


    private static void deleteTree(Path dir) throws Exception {
        try (Stream<Path> walk = Files.walk(dir)) {
            for (Path p : walk.sorted(Comparator.reverseOrder()).toList()) {
                Files.delete(p);
            }
        }
    }
}
