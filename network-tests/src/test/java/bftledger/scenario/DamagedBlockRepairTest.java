package bftledger.scenario;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import bftledger.api.proto.GetBlockRequest;
import bftledger.api.proto.GetBlockResponse;
import bftledger.api.proto.GetStatusRequest;
import bftledger.api.proto.GetStatusResponse;
import bftledger.crypto.KeyPair;
import bftledger.ledger.proto.Block;
import bftledger.sdk.Committed;
import bftledger.sdk.LedgerClient;
import bftledger.sdk.Proven;
import bftledger.sdk.ReadOptions;
import io.grpc.StatusRuntimeException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A byte flipped inside a stored block on a real node's disk (its LMDB file, while it is
 * stopped): the node starts, never serves the damaged block (to clients or peers), finds it with
 * the full start-up check, puts back a certified copy fetched from its peers, and then serves it
 * again, proven; status and metrics say what happened meanwhile.
 */
class DamagedBlockRepairTest {
    private static final long SEED = Long.getLong("bftledger.seed", System.nanoTime());
    private static final int DAMAGED = 3;
    private static final Duration TIMEOUT = Duration.ofSeconds(30);

    @TempDir
    Path tmp;

    @Test
    void aDamagedBlockIsNeverServedAndIsRepairedFromPeers() throws Exception {
        try (ScenarioCluster cluster = ScenarioCluster.loopback(tmp.resolve("net"), ScenarioCluster.Options.asInit(SEED))) {
            cluster.startAll();
            cluster.awaitReady(Duration.ofSeconds(90));
            LedgerClient client = cluster.client();
            KeyPair alice = cluster.accounts().get(0);
            Committed target = null;
            for (int i = 0; i < 6; i++) {
                Committed c = client.submit(client.transactions().transfer(alice, cluster.accounts().get(1).publicKey(), 1 + i),
                        TIMEOUT);
                if (i == 2) {
                    target = c;
                }
            }
            long height = target.height();
            cluster.awaitSameHeight(height + 1, Duration.ofSeconds(60));
            Block honest = cluster.stub(0, TIMEOUT).getBlock(GetBlockRequest.newBuilder().setHeight(height).build()).getBlock();

            cluster.stop(DAMAGED);
            flipByteOf(cluster.data(DAMAGED).resolve("ledger").resolve("data.mdb"),
                    honest.getTransactions(0).getSignature().toByteArray());
            cluster.start(DAMAGED);
            cluster.awaitReady(Duration.ofSeconds(90));

            // Until it is repaired the replica answers with an error, never with the damaged block.
            ReadOptions fromDamaged = ReadOptions.defaults().onlyReplica(DAMAGED);
            try {
                GetBlockResponse r = cluster.stub(DAMAGED, TIMEOUT).getBlock(GetBlockRequest.newBuilder().setHeight(height).build());
                assertEquals(honest, r.getBlock(), "whatever it serves is the certified block");
            } catch (StatusRuntimeException refused) {
                assertTrue(refused.getStatus().getDescription().contains("damaged"), refused.toString());
            }

            long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
            GetStatusResponse status;
            do {
                Thread.sleep(200);
                status = cluster.stub(DAMAGED, TIMEOUT).getStatus(GetStatusRequest.getDefaultInstance());
            } while (System.nanoTime() < deadline && (metric(cluster, "bftledger_block_repairs_total") < 1
                    || !status.getDamagedHeightsList().isEmpty()));
            assertTrue(status.getDamagedHeightsList().isEmpty(), "still damaged: " + status.getDamagedHeightsList());
            assertTrue(metric(cluster, "bftledger_block_repairs_total") >= 1, "the repair is counted");
            try (LedgerClient fresh = LedgerClient.over(cluster.clientNetwork(), cluster.channels())) {
                Proven<Block> block = fresh.block(height, fromDamaged, TIMEOUT).orElseThrow();
                assertEquals(honest, block.value(), "after the repair the replica serves the certified block, proven");
            }
            assertTrue(Files.readString(cluster.log(DAMAGED)).contains("event=block-damaged"), "the damage is logged");
        } catch (AssertionError | Exception e) {
            throw new AssertionError("seed " + SEED + " (replay with -Dbftledger.seed=" + SEED + ")", e);
        }
    }

    private static double metric(ScenarioCluster cluster, String name) throws Exception {
        for (String line : cluster.metrics(DAMAGED).split("\n")) {
            if (line.startsWith(name + "{") || line.startsWith(name + " ")) {
                return Double.parseDouble(line.substring(line.lastIndexOf(' ') + 1));
            }
        }
        return 0;
    }

    /**
     * Flips one bit inside every occurrence of {@code pattern} in {@code file}, as a disk would:
     * LMDB's copy-on-write can leave stale copies of a page in free space, and damaging only one of
     * those would damage nothing the store reads.
     */
    static void flipByteOf(Path file, byte[] pattern) throws Exception {
        byte[] bytes = Files.readAllBytes(file);
        int found = 0;
        for (int i = 0; i + pattern.length <= bytes.length; i++) {
            int j = 0;
            while (j < pattern.length && bytes[i + j] == pattern[j]) {
                j++;
            }
            if (j == pattern.length) {
                bytes[i + pattern.length / 2] ^= 0x10;
                found++;
            }
        }
        if (found == 0) {
            throw new AssertionError("pattern not found in " + file);
        }
        Files.write(file, bytes);
    }
}
