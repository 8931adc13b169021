package bftledger.node.replica;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import bftledger.crypto.KeyPair;
import bftledger.crypto.PublicKey;
import bftledger.ledger.BlockStore;
import bftledger.ledger.ChainGenesis;
import bftledger.ledger.StateSnapshots;
import bftledger.ledger.Transactions;
import bftledger.ledger.VerifiedTransaction;
import bftledger.ledger.proto.AccountEntry;
import bftledger.ledger.proto.Block;
import bftledger.ledger.proto.StateBucket;
import bftledger.ledger.proto.StateEntry;
import bftledger.ledger.proto.StateSnapshotManifest;
import bftledger.node.TestBlocks;
import bftledger.node.metrics.NodeMetrics;
import bftledger.node.net.BlockSource;
import bftledger.node.net.PeerNetwork;
import bftledger.node.net.StoreBlockSource;
import bftledger.node.proto.StateChunk;
import com.google.protobuf.ByteString;
import io.grpc.ForwardingServerCall;
import io.grpc.Metadata;
import io.grpc.Server;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.ServerInterceptors;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * A joining replica's state sync against three real gRPC peers serving one real store and its
 * snapshots, some of them lying: a peer that serves a forged manifest, a forged bucket or a forged
 * block is named and dropped and the part comes from another; the built store opens at the
 * snapshot's height and executes the following blocks to the same tip as the source; when every
 * holder lies, nothing is left behind and the node falls back to replaying; a staging directory
 * left by a crash in the middle is thrown away and the sync starts over.
 */
@Timeout(120)
class StateSyncPeersTest {
    private static final String CHAIN = "bftledger-state-sync-test";
    private static final int BLOCKS = 200;
    private static final long INTERVAL = 64;
    private static final int JOINER = 3;

    @TempDir
    Path tmp;

    private final List<KeyPair> validators = new ArrayList<>();
    private final List<KeyPair> accounts = new ArrayList<>();
    private final List<Integer> ports = new ArrayList<>();
    private final List<Server> servers = new ArrayList<>();
    private ChainGenesis genesis;
    private BlockStore source;
    private StateSnapshots snapshots;

    @BeforeEach
    void buildSource() throws Exception {
        for (int i = 0; i < 4; i++) {
            validators.add(KeyPair.deterministic("sync-validator-" + i));
            try (ServerSocket s = new ServerSocket(0)) {
                ports.add(s.getLocalPort());
            }
        }
        for (int i = 0; i < 6; i++) {
            accounts.add(KeyPair.deterministic("sync-account-" + i));
        }
        List<bftledger.ledger.proto.Validator> vs = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            vs.add(ChainGenesis.validator(validators.get(i).publicKey(), "127.0.0.1:" + ports.get(i), "node" + i));
        }
        TreeMap<PublicKey, Long> balances = new TreeMap<>();
        for (KeyPair a : accounts) {
            balances.put(a.publicKey(), 1_000_000L);
        }
        genesis = ChainGenesis.build(CHAIN, vs, balances, 1_700_000_000_000L);
        source = BlockStore.open(tmp.resolve("source"), genesis);
        snapshots = new StateSnapshots(tmp.resolve("snapshots"), 2);
        source.onSnapshotHeight(INTERVAL, view -> {
            try (view) {
                snapshots.take(view);
            } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        });
        for (int b = 1; b <= BLOCKS; b++) {
            KeyPair from = accounts.get(b % accounts.size());
            List<VerifiedTransaction> txs = new ArrayList<>();
            txs.add(Transactions.signVerified(Transactions.transfer(CHAIN, from.publicKey(), b,
                    KeyPair.deterministic("payee-" + (b % 40)).publicKey(), 1 + b % 7), from));
            txs.add(Transactions.signVerified(Transactions.putRecord(CHAIN, from.publicKey(), b, "note-" + (b % 9),
                    ByteString.copyFromUtf8("value " + b)), from));
            TestBlocks.append(source, genesis, validators, txs);
        }
        assertEquals(List.of(192L, 128L), snapshots.heights(), "two kept, the newest first");
    }

    @AfterEach
    void stop() throws Exception {
        for (Server s : servers) {
            s.shutdownNow().awaitTermination(5, java.util.concurrent.TimeUnit.SECONDS);
        }
        if (source != null) {
            source.close();
        }
    }

    @Test
    void liarsAreNamedAndTheStateComesFromTheHonestPeers() throws Exception {
        serve(0, forgedManifests());
        serve(1, forgedChunks());
        serve(2, null);
        Path ledger = tmp.resolve("joiner").resolve("ledger");
        StateSync.Outcome outcome;
        try (StateSync sync = joiner(5_000)) {
            outcome = sync.run(ledger).orElseThrow();
        }
        assertEquals(192, outcome.height(), "the newest height all holders offer");
        assertTrue(outcome.refused().get(0).contains("manifest"), outcome.refused().toString());
        assertTrue(outcome.refused().get(1).contains("bucket"), outcome.refused().toString());
        assertFalse(outcome.refused().containsKey(2), outcome.refused().toString());
        assertFalse(Files.exists(ledger.resolveSibling("ledger.sync")), "the staging directory was moved into place");
        try (BlockStore synced = BlockStore.open(ledger, genesis)) {
            assertEquals(192, synced.height());
            assertEquals(192, synced.prunedBelow(), "below the snapshot the blocks are headers, certificates and receipts");
            assertEquals(source.header(192).orElseThrow(), synced.header(192).orElseThrow());
            bftledger.crypto.Digest early = bftledger.crypto.Digest.of(source.stored(150).orElseThrow().getReceipts(0)
                    .getTxId().toByteArray());
            assertTrue(synced.containsTransaction(early), "a transaction below the snapshot is known executed (at-most-once)");
            for (long h = 193; h <= BLOCKS; h++) {
                assertTrue(synced.append(source.block(h).orElseThrow()).ok(), "block " + h + " executes on the synced state");
            }
            assertEquals(source.tip(), synced.tip());
            for (KeyPair a : accounts) {
                assertEquals(source.balance(a.publicKey()), synced.balance(a.publicKey()));
            }
        }
    }

    @Test
    void aBlockWithAForgedHeaderIsBlamedOnItsServerAlone() throws Exception {
        // Its own certificate does not cover a header's state root: only the chain after it does,
        // so a run is taken once pinned by its last block's proof, and the forger, not the honest
        // peer serving the next run, is named.
        serve(0, forgedHeaders());
        serve(1, null);
        serve(2, null);
        Path ledger = tmp.resolve("joiner").resolve("ledger");
        StateSync.Outcome outcome;
        try (StateSync sync = joiner(5_000)) {
            outcome = sync.run(ledger).orElseThrow();
        }
        assertEquals(Map.of(0, outcome.refused().get(0)), outcome.refused());
        assertTrue(outcome.refused().get(0).contains("not the one the certified chain names"), outcome.refused().toString());
        try (BlockStore synced = BlockStore.open(ledger, genesis)) {
            assertEquals(source.header(100).orElseThrow(), synced.header(100).orElseThrow());
        }
    }

    @Test
    void aPeerNamingValidatorSetsGenesisDidNotApproveIsRefused() throws Exception {
        serve(0, forgedValidatorSets());
        serve(1, null);
        serve(2, null);
        Path ledger = tmp.resolve("joiner").resolve("ledger");
        StateSync.Outcome outcome;
        try (StateSync sync = joiner(5_000)) {
            outcome = sync.run(ledger).orElseThrow();
            assertEquals(1, sync.sets().size(), "genesis's set alone: the forged one is not followed");
        }
        assertEquals(192, outcome.height());
        assertTrue(outcome.refused().get(0).contains("validator-set record"), outcome.refused().toString());
        assertEquals(1, outcome.refused().size(), outcome.refused().toString());
    }

    @Test
    void whenEveryHolderLiesNothingIsLeftAndTheNodeReplaysInstead() throws Exception {
        serve(0, forgedChunks());
        serve(1, forgedChunks());
        serve(2, forgedBlocks());
        Path ledger = tmp.resolve("joiner").resolve("ledger");
        try (StateSync sync = joiner(5_000)) {
            assertTrue(sync.run(ledger).isEmpty());
        }
        assertFalse(Files.exists(ledger), "no store is left for the node to open as if synced");
        assertFalse(Files.exists(ledger.resolveSibling("ledger.sync")), "nor a half-built one");
    }

    @Test
    void aSyncCutShortIsThrownAwayAndStartsOver() throws Exception {
        serve(0, null);
        serve(1, null);
        serve(2, null);
        Path ledger = tmp.resolve("joiner").resolve("ledger");
        Path staging = ledger.resolveSibling("ledger.sync");
        Files.createDirectories(staging);
        Files.writeString(staging.resolve("data.mdb"), "what a crash left behind");
        try (StateSync sync = joiner(5_000)) {
            assertEquals(192, sync.run(ledger).orElseThrow().height());
        }
        try (BlockStore synced = BlockStore.open(ledger, genesis)) {
            assertEquals(source.header(192).orElseThrow(), synced.header(192).orElseThrow());
        }
    }

    @Test
    void withNoSnapshotOfferedTheNodeReplays() throws Exception {
        for (int i = 0; i < 3; i++) {
            serve(i, null, new StoreBlockSource(source, new StateSnapshots(tmp.resolve("none"), 1)));
        }
        Path ledger = tmp.resolve("joiner").resolve("ledger");
        try (StateSync sync = joiner(1_000)) {
            assertTrue(sync.run(ledger).isEmpty());
        }
        assertFalse(Files.exists(ledger));
    }

    // ------------------------------------------------------------------------------ peers

    /** The joining replica's sync, looking for snapshot offers for {@code discoveryMillis}. */
    private StateSync joiner(long discoveryMillis) {
        return new StateSync(JOINER, null, genesis, addresses(), io.grpc.InsecureChannelCredentials.create(), 64L << 20,
                discoveryMillis);
    }

    private List<String> addresses() {
        return ports.stream().map(p -> "127.0.0.1:" + p).toList();
    }

    private void serve(int replica, ServerInterceptor lie) throws IOException {
        serve(replica, lie, new StoreBlockSource(source, snapshots));
    }

    private void serve(int replica, ServerInterceptor lie, BlockSource blocks) throws IOException {
        PeerNetwork network = new PeerNetwork(replica, validators.stream().map(KeyPair::publicKey).toList(), addresses(),
                genesis.hash(), validators.get(replica), io.grpc.InsecureChannelCredentials.create(),
                new PeerNetwork.Limits(16, 1 << 20), (from, bytes) -> { }, blocks, new NodeMetrics(replica));
        var service = lie == null ? network.service().bindService() : ServerInterceptors.intercept(network.service(), lie);
        servers.add(NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", ports.get(replica)))
                .addService(service).build().start());
    }

    private static ServerInterceptor forgedManifests() {
        return altering(m -> m instanceof StateSnapshotManifest manifest ? manifest.toBuilder().setBuckets(7,
                manifest.getBuckets(7).toBuilder().setHash(flip(manifest.getBuckets(7).getHash()))).build() : m);
    }

    /** A record naming a next set of the peer's own choosing, with no approvals. */
    private static ServerInterceptor forgedValidatorSets() {
        var intruder = ChainGenesis.validator(KeyPair.deterministic("intruder").publicKey(), "127.0.0.1:1", "intruder");
        var record = bftledger.ledger.proto.ValidatorSetRecord.newBuilder().addEpochs(bftledger.ledger.proto.ValidatorEpoch
                .newBuilder().setEpoch(1).setChangeHeight(10).setFromHeight(129).addValidators(intruder)).build();
        return altering(m -> m instanceof bftledger.node.proto.ListStateSnapshotsResponse r
                ? r.toBuilder().setValidatorSets(record.toByteString()).build() : m);
    }

    private static ServerInterceptor forgedChunks() {
        return altering(m -> {
            if (!(m instanceof StateChunk chunk)) {
                return m;
            }
            for (int i = 0; i < chunk.getEntriesCount(); i++) {
                StateEntry e = chunk.getEntries(i);
                if (e.hasAccount()) {
                    AccountEntry a = e.getAccount();
                    return chunk.toBuilder().setEntries(i, e.toBuilder().setAccount(a.toBuilder().setBalance(a.getBalance() + 1)))
                            .build();
                }
            }
            return chunk.toBuilder().addEntries(StateEntry.newBuilder().setAccount(AccountEntry.newBuilder()
                    .setPublicKey(ByteString.copyFrom(new byte[32])).setBalance(5))).build();
        });
    }

    /** Pruned blocks whose header names another state root (the block's own certificate does not cover it). */
    private static ServerInterceptor forgedHeaders() {
        return altering(m -> {
            if (!(m instanceof Block b) || b.getTransactionsCount() > 0) {
                return m;
            }
            try {
                var header = bftledger.ledger.proto.BlockHeader.parseFrom(b.getHeader());
                return b.toBuilder().setHeader(header.toBuilder().setStateRoot(flip(header.getStateRoot())).build().toByteString())
                        .build();
            } catch (com.google.protobuf.InvalidProtocolBufferException e) {
                throw new IllegalStateException(e);
            }
        });
    }

    private static ServerInterceptor forgedBlocks() {
        return altering(m -> m instanceof Block b && b.getReceiptsCount() > 0 ? b.toBuilder().setReceipts(0,
                b.getReceipts(0).toBuilder().setReason("forged")).build() : m);
    }

    private static ByteString flip(ByteString b) {
        byte[] bytes = b.isEmpty() ? new byte[32] : b.toByteArray();
        bytes[0] ^= 1;
        return ByteString.copyFrom(bytes);
    }

    private static ServerInterceptor altering(UnaryOperator<Object> alter) {
        return new ServerInterceptor() {
            @Override
            public <Q, A> ServerCall.Listener<Q> interceptCall(ServerCall<Q, A> call, Metadata headers, ServerCallHandler<Q, A> next) {
                return next.startCall(new ForwardingServerCall.SimpleForwardingServerCall<>(call) {
                    @Override
                    @SuppressWarnings("unchecked")
                    public void sendMessage(A message) {
                        super.sendMessage((A) alter.apply(message));
                    }
                }, headers);
            }
        };
    }
}
