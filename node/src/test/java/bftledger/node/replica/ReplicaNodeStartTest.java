package bftledger.node.replica;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import bftledger.crypto.KeyFiles;
import bftledger.crypto.KeyPair;
import bftledger.node.cli.Main;
import bftledger.node.config.ConfigException;
import bftledger.node.config.NodeConfig;
import java.io.RandomAccessFile;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Operator mistakes at start-up get a ConfigException that says what is wrong and what to do. */
class ReplicaNodeStartTest {
    @TempDir
    Path tmp;
    Path net;

    @BeforeEach
    void init() throws Exception {
        net = tmp.resolve("net");
        int port = bftledger.node.LoopbackPorts.freeRange(4);
        assertEquals(0, Main.run("init", "--nodes", "4", "--dir", net.toString(), "--base-port", Integer.toString(port),
                "--metrics-base-port", "0"));
    }

    private NodeConfig config(int i) throws ConfigException {
        return NodeConfig.read(net.resolve("node" + i).resolve("node.properties"));
    }

    @Test
    void startsServesAndStopsCleanly() throws Exception {
        try (ReplicaNode node = ReplicaNode.start(config(0))) {
            assertTrue(node.port() > 0);
            io.grpc.ManagedChannel channel = bftledger.sdk.TlsChannels.builder(bftledger.sdk.Network.fromGenesisBytes(
                    java.nio.file.Files.readAllBytes(net.resolve("genesis.bin"))), 0).build();
            try {
                assertEquals(io.grpc.health.v1.HealthCheckResponse.ServingStatus.SERVING, io.grpc.health.v1.HealthGrpc
                        .newBlockingStub(channel).withDeadlineAfter(10, java.util.concurrent.TimeUnit.SECONDS)
                        .check(io.grpc.health.v1.HealthCheckRequest.getDefaultInstance()).getStatus());
                java.util.List<String> services = new java.util.ArrayList<>();
                java.util.concurrent.CountDownLatch done = new java.util.concurrent.CountDownLatch(1);
                io.grpc.stub.StreamObserver<io.grpc.reflection.v1.ServerReflectionRequest> requests =
                        io.grpc.reflection.v1.ServerReflectionGrpc.newStub(channel).serverReflectionInfo(new io.grpc.stub.StreamObserver<>() {
                            @Override
                            public void onNext(io.grpc.reflection.v1.ServerReflectionResponse r) {
                                r.getListServicesResponse().getServiceList().forEach(s -> services.add(s.getName()));
                            }

                            @Override
                            public void onError(Throwable t) {
                                done.countDown();
                            }

                            @Override
                            public void onCompleted() {
                                done.countDown();
                            }
                        });
                requests.onNext(io.grpc.reflection.v1.ServerReflectionRequest.newBuilder().setListServices("").build());
                requests.onCompleted();
                assertTrue(done.await(10, java.util.concurrent.TimeUnit.SECONDS));
                assertTrue(services.contains("bftledger.api.v1.LedgerApi"), services.toString());
                assertTrue(services.contains("bftledger.peer.v1.PeerTransport"), services.toString());
            } finally {
                channel.shutdownNow();
            }
        }
        // Restart on the same stores after a clean stop.
        try (ReplicaNode node = ReplicaNode.start(config(0))) {
            assertTrue(node.failure() == null);
        }
    }

    @Test
    void missingKeyAndSomeoneElsesKey() throws Exception {
        Files.delete(net.resolve("node1").resolve("node.key"));
        ConfigException missing = assertThrows(ConfigException.class, () -> ReplicaNode.start(config(1)));
        assertTrue(missing.getMessage().contains("bftledger keygen"), missing.getMessage());
        KeyFiles.writeKeyPair(net.resolve("node1").resolve("node.key"), KeyPair.generate());
        ConfigException wrong = assertThrows(ConfigException.class, () -> ReplicaNode.start(config(1)));
        assertTrue(wrong.getMessage().contains("genesis lists validator 1"), wrong.getMessage());
    }

    @Test
    void portInUseAndDataDirInUse() throws Exception {
        NodeConfig c = config(2);
        try (ServerSocket taken = new ServerSocket(c.listenPort(), 1, InetAddress.getByName(c.listenHost()))) {
            assertTrue(taken.isBound());
            ConfigException e = assertThrows(ConfigException.class, () -> ReplicaNode.start(c));
            assertTrue(e.getMessage().contains("port is in use"), e.getMessage());
        }
        try (ReplicaNode running = ReplicaNode.start(c)) {
            assertTrue(running.port() > 0);
            ConfigException e = assertThrows(ConfigException.class, () -> ReplicaNode.start(c));
            assertTrue(e.getMessage().contains("already open") || e.getMessage().contains("in use by another"), e.getMessage());
        }
    }

    @Test
    void aDamagedStoreIsReportedWithWhatToDo() throws Exception {
        NodeConfig c = config(3);
        ReplicaNode.start(c).close();
        Path file = c.dataDir().resolve("ledger").resolve("data.mdb");
        assertTrue(Files.exists(file), "the store file exists after a start");
        try (RandomAccessFile f = new RandomAccessFile(file.toFile(), "rw")) {
            f.setLength(f.length() / 3);
        }
        ConfigException e = assertThrows(ConfigException.class, () -> ReplicaNode.start(c));
        assertTrue(e.getMessage().contains("damaged"), e.getMessage());
        assertTrue(e.getMessage().contains("resynchronize"), e.getMessage());
        assertEquals(1, Main.run("audit", "--data", c.dataDir().toString(), "--genesis", net.resolve("genesis.bin").toString()),
                "the offline audit fails on the damaged store");
    }
}
