package bftledger.node.replica;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import bftledger.crypto.KeyPair;
import bftledger.crypto.PublicKey;
import bftledger.ledger.BlockStore;
import bftledger.ledger.ChainGenesis;
import bftledger.ledger.StateSnapshots;
import bftledger.ledger.Transactions;
import bftledger.ledger.VerifiedTransaction;
import bftledger.node.TestBlocks;
import bftledger.node.metrics.NodeMetrics;
import bftledger.node.net.PeerNetwork;
import bftledger.node.net.StoreBlockSource;
import io.grpc.Server;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;

/**
 * The state sync figures in docs/performance.md, not a check: skipped unless
 * {@code -Dbftledger.figures=true}. Builds a store of {@code bftledger.figures.blocks} blocks of
 * {@code bftledger.figures.txs} transfers, each to a new account, through the append path a node
 * uses, snapshots its state at the last block, and then times a replica joining from three peers
 * (real gRPC on loopback, all serving that store) by state sync, against replaying every block
 * as catch-up does (each block checked, its signatures verified and re-executed). The files stay
 * in {@code target/state-sync-figures/} for {@code du}.
 */
@EnabledIfSystemProperty(named = "bftledger.figures", matches = "true")
class StateSyncFiguresTest {
    private static final String CHAIN = "bftledger-sync-figures";

    @Test
    @Timeout(value = 3, unit = TimeUnit.HOURS)
    void printStateSyncFigures() throws Exception {
        int blocks = Integer.getInteger("bftledger.figures.blocks", 10_000);
        int txs = Integer.getInteger("bftledger.figures.txs", 10);
        long mapSize = 8L << 30;
        Path dir = Path.of("target", "state-sync-figures").toAbsolutePath();
        deleteRecursively(dir);
        List<KeyPair> validators = new ArrayList<>();
        List<Integer> ports = new ArrayList<>();
        List<bftledger.ledger.proto.Validator> vs = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            validators.add(KeyPair.deterministic("figures-validator-" + i));
            try (ServerSocket s = new ServerSocket(0)) {
                ports.add(s.getLocalPort());
            }
            vs.add(ChainGenesis.validator(validators.get(i).publicKey(), "127.0.0.1:" + ports.get(i), "node" + i));
        }
        List<KeyPair> senders = new ArrayList<>();
        TreeMap<PublicKey, Long> balances = new TreeMap<>();
        for (int a = 0; a < 64; a++) {
            senders.add(KeyPair.deterministic("figures-sender-" + a));
            balances.put(senders.get(a).publicKey(), 1_000_000_000_000L);
        }
        ChainGenesis genesis = ChainGenesis.build(CHAIN, vs, balances, 1_700_000_000_000L);
        StateSnapshots snapshots = new StateSnapshots(dir.resolve("snapshots"), 1);
        List<Server> servers = new ArrayList<>();
        try (BlockStore source = BlockStore.open(dir.resolve("source"), genesis, mapSize)) {
            long nonce = 0;
            long started = System.nanoTime();
            for (int b = 1; b <= blocks; b++) {
                List<VerifiedTransaction> batch = new ArrayList<>();
                for (int t = 0; t < txs; t++) {
                    KeyPair from = senders.get((int) (nonce % senders.size()));
                    // A fresh payee each time: the state grows to blocks x txs accounts.
                    PublicKey to = KeyPair.deterministic("figures-payee-" + nonce).publicKey();
                    batch.add(Transactions.signVerified(Transactions.transfer(CHAIN, from.publicKey(), ++nonce, to, 3), from));
                }
                TestBlocks.append(source, genesis, validators, batch);
                if (b % Math.max(1, blocks / 10) == 0) {
                    System.out.printf("figures: built %d of %d blocks in %d ms%n", b, blocks, millisSince(started));
                }
            }
            long buildMillis = millisSince(started);
            started = System.nanoTime();
            try (var view = source.snapshot()) {
                snapshots.take(view);
            }
            long snapshotMillis = millisSince(started);
            // One more block, so a later certificate proves the snapshot block's header.
            TestBlocks.append(source, genesis, validators, List.of());
            System.out.printf("figures: source %d blocks x %d transfers (%d accounts) built in %d ms; snapshot %d ms, %d bytes%n",
                    blocks, txs, (long) blocks * txs + senders.size(), buildMillis, snapshotMillis, du(dir.resolve("snapshots")));

            for (int i = 0; i < 3; i++) {
                PeerNetwork network = new PeerNetwork(i, validators.stream().map(KeyPair::publicKey).toList(),
                        ports.stream().map(p -> "127.0.0.1:" + p).toList(), genesis.hash(), validators.get(i),
                        io.grpc.InsecureChannelCredentials.create(), new PeerNetwork.Limits(16, 1 << 20), (from, bytes) -> { },
                        new StoreBlockSource(source, snapshots), new NodeMetrics(i));
                servers.add(NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", ports.get(i)))
                        .addService(network.service()).build().start());
            }
            Path synced = dir.resolve("synced").resolve("ledger");
            started = System.nanoTime();
            try (StateSync sync = new StateSync(3, null, genesis, ports.stream().map(p -> "127.0.0.1:" + p).toList(),
                    io.grpc.InsecureChannelCredentials.create(), mapSize, 5_000)) {
                assertEquals(blocks, sync.run(synced).orElseThrow().height());
            }
            long syncMillis = millisSince(started);
            started = System.nanoTime();
            try (BlockStore joined = BlockStore.open(synced, genesis, mapSize)) {
                assertEquals(blocks, joined.height());
            }
            long openMillis = millisSince(started);
            System.out.printf("figures: state sync %d ms, first open (index rebuilt from receipts) %d ms, store %d bytes%n",
                    syncMillis, openMillis, du(synced));

            started = System.nanoTime();
            try (BlockStore replayed = BlockStore.open(dir.resolve("replayed"), genesis, mapSize)) {
                for (long h = 1; h <= blocks; h++) {
                    assertTrue(replayed.append(source.block(h).orElseThrow()).ok(), "block " + h);
                }
            }
            long replayMillis = millisSince(started);
            System.out.printf("figures: replay of every block %d ms, store %d bytes; source store %d bytes%n", replayMillis,
                    du(dir.resolve("replayed")), du(dir.resolve("source")));
        } finally {
            for (Server s : servers) {
                s.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
            }
        }
    }

    private static long millisSince(long startNanos) {
        return TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - startNanos);
    }

    /** Bytes the files under {@code dir} take on disk, as {@code du} counts them (an LMDB file is sparse up to its map size). */
    private static long du(Path dir) throws IOException, InterruptedException {
        Process p = new ProcessBuilder("du", "-s", "-B1", dir.toString()).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes()).strip();
        p.waitFor();
        return Long.parseLong(out.split("\\s+")[0]);
    }

    private static void deleteRecursively(Path dir) throws IOException {
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
