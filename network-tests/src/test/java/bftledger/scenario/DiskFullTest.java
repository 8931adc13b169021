package bftledger.scenario;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import bftledger.api.proto.SubmitRequest;
import bftledger.crypto.Digest;
import bftledger.ledger.BlockStore;
import bftledger.ledger.ChainGenesis;
import bftledger.sdk.LedgerClient;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * A full disk under a real node: node3's data directory is a size-limited tmpfs, filled up
 * while the network commits. The node does not crash (no signal, no exit): it stops committing,
 * says so in its log and metrics and refuses submissions; the other three go on. When space is
 * freed it resumes by itself, catches up, and holds every acknowledged transaction; every audit
 * passes. Needs root for the tmpfs mount; skipped, saying why, otherwise. The mount is ours by
 * its path and source name and is removed after the nodes stop.
 */
class DiskFullTest {
    private static final long SEED = Long.getLong("bftledger.seed", System.nanoTime());
    private static final int FULL = 3;

    @TempDir
    Path tmp;

    @Test
    @Timeout(value = 8, unit = TimeUnit.MINUTES)
    void aNodeOnAFullDiskStallsWithoutLosingAnythingAndResumesWhenSpaceIsFreed() throws Exception {
        String why = "seed " + SEED + " (replay with -Dbftledger.seed=" + SEED + ")";
        SplittableRandom random = new SplittableRandom(SEED);
        String mountName = "bftledger-diskfull-" + ProcessHandle.current().pid();
        ScenarioCluster cluster = ScenarioCluster.loopback(tmp.resolve("net"), ScenarioCluster.Options.asInit(SEED));
        Path data = cluster.data(FULL);
        Files.createDirectories(data);
        String problem = mountTmpfs(data, mountName, "48m");
        Assumptions.assumeTrue(problem == null, () -> {
            System.out.println("DiskFullTest skipped: " + problem);
            return problem;
        });
        try {
            cluster.startAll();
            List<Digest> acked = new ArrayList<>();
            try (LedgerClient client = LedgerClient.connect(cluster.clientNetwork())) {
                cluster.awaitReady(Duration.ofSeconds(90));
                acked.addAll(ScenarioChecks.transfers(cluster, client, random, 20, 4));

                Path filler = data.resolve("filler");
                fill(filler);
                // Load until node3 needs room it does not have; the other three commit all of it.
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(150);
                while (ScenarioChecks.metric(cluster.metrics(FULL), "bftledger_storage_stalled") == 0) {
                    assertTrue(System.nanoTime() < deadline, why + ": node3 never ran out of room");
                    acked.addAll(ScenarioChecks.transfers(cluster, client, random, 20, 4));
                }
                acked.addAll(ScenarioChecks.transfers(cluster, client, random, 20, 4));
                cluster.assertAlive(FULL);
                String log = cluster.logText(FULL);
                assertTrue(log.contains("event=storage-full"), why + ": the stall is logged");
                long stalledHeight = client.statuses(Duration.ofSeconds(5)).get(FULL).orElseThrow().getHeight();
                long othersHeight = client.statuses(Duration.ofSeconds(5)).get(0).orElseThrow().getHeight();
                assertTrue(stalledHeight < othersHeight, why + ": node3 at " + stalledHeight + " committed nothing more,"
                        + " the others at " + othersHeight);
                assertRefused(cluster, client, random);

                Files.delete(filler);
                deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
                while (ScenarioChecks.metric(cluster.metrics(FULL), "bftledger_storage_stalled") != 0) {
                    assertTrue(System.nanoTime() < deadline, why + ": node3 did not resume after space was freed");
                    Thread.sleep(250);
                }
                assertTrue(cluster.logText(FULL).contains("event=storage-resumed"), why);
                acked.addAll(ScenarioChecks.transfers(cluster, client, random, 20, 2));
                long tip = cluster.awaitSameHeight(othersHeight, Duration.ofSeconds(120)).get(0).getHeight();
                assertTrue(tip > othersHeight, why);
            }
            ScenarioChecks.stopAllAndAudit(cluster);
            ChainGenesis genesis = cluster.genesis();
            try (BlockStore store = BlockStore.open(data.resolve("ledger"), genesis)) {
                for (Digest id : acked) {
                    assertTrue(store.transaction(id).isPresent(), why + ": acknowledged " + id.hex() + " missing at node3");
                }
            }
        } finally {
            // The nodes first: nothing of ours may hold files on the mount when it goes.
            cluster.close();
            unmount(data);
        }
    }

    /** A direct submission to the stalled node is refused at once, not left to time out. */
    private static void assertRefused(ScenarioCluster cluster, LedgerClient client, SplittableRandom random) throws Exception {
        var tx = client.transactions().transfer(cluster.accounts().get(0),
                bftledger.crypto.KeyPair.deterministic("refused" + random.nextInt()).publicKey(), 1);
        StatusRuntimeException refused = org.junit.jupiter.api.Assertions.assertThrows(StatusRuntimeException.class,
                () -> cluster.stub(FULL, Duration.ofSeconds(20)).submitTransaction(SubmitRequest.newBuilder().setTransaction(tx).build()));
        assertEquals(Status.Code.RESOURCE_EXHAUSTED, refused.getStatus().getCode(), refused.getStatus().toString());
    }

    /** Writes zeros to {@code file} until the file system is full. */
    private static void fill(Path file) throws IOException {
        byte[] chunk = new byte[1 << 20];
        try (OutputStream out = Files.newOutputStream(file)) {
            while (true) {
                out.write(chunk);
            }
        } catch (IOException full) {
            if (full.getMessage() == null || !full.getMessage().contains("No space left")) {
                throw full;
            }
        }
    }

    /** Null when {@code at} is now a tmpfs of {@code size}; otherwise why not. */
    private static String mountTmpfs(Path at, String name, String size) throws InterruptedException {
        try {
            Process id = new ProcessBuilder("id", "-u").redirectErrorStream(true).start();
            String uid = new String(id.getInputStream().readAllBytes()).trim();
            id.waitFor(10, TimeUnit.SECONDS);
            if (!uid.equals("0")) {
                return "needs root to mount a size-limited tmpfs (uid " + uid + ")";
            }
            Process mount = new ProcessBuilder("mount", "-t", "tmpfs", "-o", "size=" + size + ",mode=0700", name, at.toString())
                    .redirectErrorStream(true).start();
            String out = new String(mount.getInputStream().readAllBytes()).trim();
            if (!mount.waitFor(30, TimeUnit.SECONDS) || mount.exitValue() != 0) {
                return "mount -t tmpfs failed: " + out;
            }
            return null;
        } catch (IOException e) {
            return "cannot run mount: " + e.getMessage();
        }
    }

    private static void unmount(Path at) throws IOException, InterruptedException {
        if (at == null) {
            return;
        }
        String mounts = Files.readString(Path.of("/proc/self/mounts"));
        if (!mounts.contains(" " + at.toAbsolutePath() + " tmpfs ")) {
            return;
        }
        Process umount = new ProcessBuilder("umount", at.toString()).inheritIO().start();
        assertTrue(umount.waitFor(30, TimeUnit.SECONDS) && umount.exitValue() == 0, "umount " + at);
    }
}
