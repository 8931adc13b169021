package bftledger.scenario;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import bftledger.api.proto.GetStatusResponse;
import bftledger.api.proto.GetTransactionRequest;
import bftledger.api.proto.GetTransactionResponse;
import bftledger.crypto.Digest;
import bftledger.node.replica.ConsensusWal;
import bftledger.pbft.Config;
import bftledger.pbft.PersistCodec;
import bftledger.sdk.LedgerClient;
import bftledger.sdk.ProofVerifier;
import com.google.protobuf.ByteString;
import java.io.IOException;
import java.io.InputStream;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * A stopped node's files damaged the way a lying disk or an operator would, then the node
 * started again, a real process on real LMDB files: a truncated block store, a truncated WAL, a
 * flipped byte in a WAL record, a WAL restored from an older copy and an emptied WAL are each
 * refused with a message naming the file and what to do (exit 1, never a signal); a flipped
 * byte in the transaction index is repaired (rebuilt from the blocks) and the node serves the
 * right transaction; with {@code rejoin.non.voting=true} the node with an emptied WAL rejoins
 * without voting, catches up, and votes again once the network is past its floor. No honest node
 * ever holds evidence of an equivocation, every acknowledged transaction is kept, every audit
 * passes.
 */
class StorageFaultsTest {
    private static final long SEED = Long.getLong("bftledger.seed", System.nanoTime());
    private static final int VICTIM = 3;

    @TempDir
    Path tmp;

    @Test
    @Timeout(value = 10, unit = TimeUnit.MINUTES)
    void damagedFilesAreRefusedOrRepairedAndANodeWithoutItsWalRejoinsWithoutVoting() throws Exception {
        String why = "seed " + SEED + " (replay with -Dbftledger.seed=" + SEED + ")";
        SplittableRandom random = new SplittableRandom(SEED);
        List<Digest> acked = new ArrayList<>();
        try (ScenarioCluster cluster = ScenarioCluster.loopback(tmp.resolve("net"), ScenarioCluster.Options.asInit(SEED))) {
            Path data = cluster.data(VICTIM);
            Path wal = data.resolve("wal").resolve("data.mdb");
            Path blocks = data.resolve("ledger").resolve("data.mdb");
            Path saved = Files.createDirectories(tmp.resolve("saved"));
            cluster.startAll();
            try (LedgerClient client = LedgerClient.connect(cluster.clientNetwork())) {
                cluster.awaitReady(Duration.ofSeconds(90));
                acked.addAll(ScenarioChecks.transfers(cluster, client, random, 30, 4));
                cluster.stop(VICTIM);
                Files.copy(wal, saved.resolve("wal-older"));
                cluster.start(VICTIM);
                cluster.awaitReady(Duration.ofSeconds(90));
                acked.addAll(ScenarioChecks.transfers(cluster, client, random, 30, 4));
                cluster.awaitSameHeight(1, Duration.ofSeconds(60));
                cluster.stop(VICTIM);
                Files.copy(wal, saved.resolve("wal"));
                Files.copy(blocks, saved.resolve("blocks"));

                truncate(blocks, Files.size(blocks) / 2);
                assertRefused(cluster, why, "the block store", "truncated");
                Files.copy(saved.resolve("blocks"), blocks, StandardCopyOption.REPLACE_EXISTING);

                truncate(wal, Files.size(wal) / 3);
                assertRefused(cluster, why, "the consensus WAL", "truncated", "rejoin.non.voting=true");
                Files.copy(saved.resolve("wal"), wal, StandardCopyOption.REPLACE_EXISTING);

                flipRecord(cluster, wal);
                assertRefused(cluster, why, "the consensus WAL", "fails its checksum", "rejoin.non.voting=true");
                Files.copy(saved.resolve("wal"), wal, StandardCopyOption.REPLACE_EXISTING);

                Files.copy(saved.resolve("wal-older"), wal, StandardCopyOption.REPLACE_EXISTING);
                assertRefused(cluster, why, "older than this replica's last run", "rejoin.non.voting=true");
                Files.copy(saved.resolve("wal"), wal, StandardCopyOption.REPLACE_EXISTING);

                deleteTree(wal.getParent());
                assertRefused(cluster, why, "is not the one this replica wrote", "rejoin.non.voting=true");
                Files.createDirectories(wal.getParent());
                Files.copy(saved.resolve("wal"), wal, StandardCopyOption.REPLACE_EXISTING);

                // A flipped byte in the index (every copy of one transaction's id): rebuilt, and served right.
                Digest victim = acked.get(random.nextInt(acked.size()));
                assertTrue(flipEvery(data.resolve("ledger").resolve("txindex").resolve("data.mdb"), victim.bytes()) > 0);
                cluster.start(VICTIM);
                cluster.awaitReady(Duration.ofSeconds(90));
                assertTrue(cluster.logText(VICTIM).contains("event=txindex-unreadable"), why + ": the damaged index was noticed");
                assertServedRight(cluster, victim, why);

                // Without its WAL, rejoining non-voting as asked: the others go on, it catches up and votes again.
                cluster.stop(VICTIM);
                deleteTree(wal.getParent());
                cluster.configure(VICTIM, "rejoin.non.voting", "true");
                cluster.start(VICTIM);
                cluster.awaitReady(Duration.ofSeconds(90));
                assertTrue(cluster.logText(VICTIM).contains("event=non-voting"), why);
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(240);
                while (!cluster.logText(VICTIM).contains("event=voting-again")) {
                    assertTrue(System.nanoTime() < deadline, why + ": node3 never got past its signing floor");
                    acked.addAll(ScenarioChecks.transfers(cluster, client, random, 20, 2));
                }
                acked.addAll(ScenarioChecks.transfers(cluster, client, random, 10, 2));
                List<GetStatusResponse> end = cluster.awaitSameHeight(1, Duration.ofSeconds(120));
                for (GetStatusResponse s : end) {
                    assertEquals(end.get(0).getLastBlockHash(), s.getLastBlockHash(), why + ": node" + s.getReplica() + " forked");
                    assertEquals(0, s.getEvidenceCount(), why + ": node" + s.getReplica() + " holds evidence of an equivocation");
                }
                assertEquals(1.0, ScenarioChecks.metric(cluster.metrics(VICTIM), "bftledger_voting"), why);
                ScenarioChecks.assertAllPresent(client, acked, why);
            }
            ScenarioChecks.stopAllAndAudit(cluster);
        }
    }

    /** Starts the victim and expects it to exit 1 (a refusal, not a signal) with every part of the message in its log. */
    private static void assertRefused(ScenarioCluster cluster, String why, String... message) throws Exception {
        int before = cluster.logText(VICTIM).length();
        cluster.start(VICTIM);
        int exit = cluster.awaitExit(VICTIM, Duration.ofSeconds(90));
        String log = cluster.logText(VICTIM).substring(before);
        assertEquals(1, exit, why + ": a refusal exits 1 (128+n is a signal); log:\n" + log);
        for (String part : message) {
            assertTrue(log.contains(part), why + ": the refusal says '" + part + "'; log:\n" + log);
        }
        assertFalse(log.contains("SIGBUS") || log.contains("SIGSEGV"), why + ": " + log);
        assertTrue(log.contains("error: "), why + ": the reason is printed as an error");
    }

    /** Flips one byte in the middle of every copy, in the WAL file, of the newest record the WAL holds. */
    private static void flipRecord(ScenarioCluster cluster, Path wal) throws Exception {
        Path copy = Files.createTempDirectory(wal.getParent().getParent(), "wal-read");
        Files.copy(wal, copy.resolve("data.mdb"));
        Config limits = Config.of(cluster.genesis().validatorKeys(), VICTIM, null);
        byte[] record;
        try (ConsensusWal reader = ConsensusWal.open(copy, new PersistCodec(limits), 1L << 30)) {
            // The newest record (a truncated WAL may hold no signed message, but never nothing).
            record = PersistCodec.encode(reader.readAll().stream().reduce((a, b) -> b).orElseThrow());
        }
        deleteTree(copy);
        assertTrue(flipEvery(wal, record) > 0, "the record's bytes are in the file");
    }

    /** Flips the middle byte of every occurrence of {@code needle} in the file's first 64 MB; how many. */
    private static int flipEvery(Path file, byte[] needle) throws IOException {
        byte[] bytes;
        try (InputStream in = Files.newInputStream(file)) {
            bytes = in.readNBytes(64 << 20);
        }
        int flipped = 0;
        try (RandomAccessFile f = new RandomAccessFile(file.toFile(), "rw")) {
            for (int i = 0; i + needle.length <= bytes.length; i++) {
                if (Arrays.equals(bytes, i, i + needle.length, needle, 0, needle.length)) {
                    long at = i + needle.length / 2;
                    f.seek(at);
                    f.write(bytes[(int) at] ^ 0x04);
                    flipped++;
                }
            }
        }
        return flipped;
    }

    /** The victim serves the transaction with a proof that verifies, at the height the others give. */
    private static void assertServedRight(ScenarioCluster cluster, Digest id, String why) throws Exception {
        long expected = -1;
        for (int i = 0; i < 4; i++) {
            GetTransactionResponse r = cluster.stub(i, Duration.ofSeconds(20))
                    .getTransaction(GetTransactionRequest.newBuilder().setTxId(ByteString.copyFrom(id.bytes())).build());
            assertTrue(r.getFound(), why + ": node" + i + " has " + id.hex());
            assertTrue(new ProofVerifier(cluster.clientNetwork()).verify(r.getProof()).ok(), why + ": node" + i + "'s proof");
            if (expected < 0) {
                expected = r.getHeight();
            }
            assertEquals(expected, r.getHeight(), why + ": node" + i + " places " + id.hex());
        }
    }

    private static void truncate(Path file, long length) throws IOException {
        try (RandomAccessFile f = new RandomAccessFile(file.toFile(), "rw")) {
            f.setLength(length);
        }
    }

    private static void deleteTree(Path dir) throws IOException {
        if (!Files.exists(dir)) {
            return;
        }
        try (Stream<Path> walk = Files.walk(dir)) {
            for (Path p : walk.sorted(Comparator.reverseOrder()).toList()) {
                Files.delete(p);
            }
        }
    }
}
