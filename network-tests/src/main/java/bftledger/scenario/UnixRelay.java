package bftledger.scenario;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Semaphore;

/**
 * Forwards Unix-domain-socket connections to TCP targets. Why: a node inside a network namespace
 * is unreachable from the root namespace, where the test JVM runs, but the file system is shared.
 * Run inside a namespace (the cluster's client host), this relay listens on one socket file per
 * target and forwards each accepted connection to that target's TCP address; the test's gRPC
 * channels dial {@code unix://<file>}. The client host is a host of the namespace network like
 * any other, so a fault that cuts a node off cuts the client off from it too.
 *
 * <p>Usage: {@code UnixRelay <socket-dir> host:port...}; socket i is {@code <socket-dir>/node<i>.sock}.
 * Once every socket is bound it creates {@code <socket-dir>/ready}. Connections are bounded; a
 * target that does not answer within the connect timeout gets the client's connection closed.
 */
public final class UnixRelay {
    static final int CONNECT_TIMEOUT_MILLIS = 3_000;
    static final int CONNECTIONS_MAX = 256;
    private static final int BUFFER_BYTES = 64 * 1024;

    private UnixRelay() {}

    public static Path socket(Path dir, int target) {
        return dir.resolve("node" + target + ".sock");
    }

    public static Path readyFile(Path dir) {
        return dir.resolve("ready");
    }

    public static void main(String[] args) throws Exception {
        if (args.length < 2) {
            System.err.println("usage: UnixRelay <socket-dir> host:port...");
            System.exit(2);
        }
        Path dir = Path.of(args[0]);
        Files.createDirectories(dir);
        Semaphore connections = new Semaphore(CONNECTIONS_MAX);
        List<Thread> acceptors = new ArrayList<>();
        for (int i = 1; i < args.length; i++) {
            String target = args[i];
            int colon = target.lastIndexOf(':');
            InetSocketAddress address = new InetSocketAddress(target.substring(0, colon), Integer.parseInt(target.substring(colon + 1)));
            Path socket = socket(dir, i - 1);
            Files.deleteIfExists(socket);
            ServerSocketChannel server = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
            server.bind(UnixDomainSocketAddress.of(socket));
            Thread t = new Thread(() -> acceptLoop(server, address, connections), "accept-" + (i - 1));
            t.start();
            acceptors.add(t);
        }
        Files.writeString(readyFile(dir), "ready\n");
        System.out.println("relay ready: " + (args.length - 1) + " targets in " + dir);
        for (Thread t : acceptors) {
            t.join();
        }
    }

    private static void acceptLoop(ServerSocketChannel server, InetSocketAddress target, Semaphore connections) {
        while (true) {
            SocketChannel client;
            try {
                client = server.accept();
            } catch (IOException e) {
                System.err.println("accept failed for " + target + ": " + e);
                return;
            }
            if (!connections.tryAcquire()) {
                closeQuietly(client);
                continue;
            }
            Thread t = new Thread(() -> {
                try {
                    relay(client, target);
                } finally {
                    connections.release();
                }
            }, "relay-" + target);
            t.setDaemon(true);
            t.start();
        }
    }

    private static void relay(SocketChannel client, InetSocketAddress target) {
        SocketChannel upstream;
        try {
            upstream = SocketChannel.open();
            upstream.socket().connect(target, CONNECT_TIMEOUT_MILLIS);
            upstream.socket().setTcpNoDelay(true);
        } catch (IOException e) {
            closeQuietly(client);
            return;
        }
        CountDownLatch done = new CountDownLatch(2);
        Thread up = new Thread(() -> pump(client, upstream, done), "pump-up");
        Thread down = new Thread(() -> pump(upstream, client, done), "pump-down");
        up.setDaemon(true);
        down.setDaemon(true);
        up.start();
        down.start();
        try {
            done.await();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        closeQuietly(client);
        closeQuietly(upstream);
    }

    /** Copies until end of stream, then half-closes the other side; any error closes both. */
    private static void pump(SocketChannel from, SocketChannel to, CountDownLatch done) {
        ByteBuffer buffer = ByteBuffer.allocate(BUFFER_BYTES);
        try {
            while (from.read(buffer) >= 0) {
                buffer.flip();
                while (buffer.hasRemaining()) {
                    to.write(buffer);
                }
                buffer.clear();
            }
            to.shutdownOutput();
        } catch (IOException e) {
            closeQuietly(from);
            closeQuietly(to);
        } finally {
            done.countDown();
        }
    }

    private static void closeQuietly(SocketChannel c) {
        try {
            c.close();
        } catch (IOException ignored) {
            // Closing a broken connection: nothing left to do with it.
        }
    }
}
