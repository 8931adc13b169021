package bftledger.netfault;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * FaultProxy on loopback, against an in-process echo server. Time appears only as lower bounds
 * (a delay means "not before"), never as an upper bound on how fast something happens.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class FaultProxyTest {
    /** Bound for reads that must succeed; generous because the machine is shared. */
    private static final int READ_TIMEOUT_MILLIS = 20_000;

    private TcpEcho echo;
    private final List<AutoCloseable> toClose = new ArrayList<>();

    @BeforeEach
    void startEcho() throws IOException {
        echo = new TcpEcho(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
    }

    @AfterEach
    void closeAll() throws Exception {
        for (int i = toClose.size() - 1; i >= 0; i--) {
            toClose.get(i).close();
        }
        echo.close();
    }

    private FaultProxy proxy(FaultProxy.Config c) throws IOException {
        FaultProxy p = FaultProxy.start(c);
        toClose.add(p);
        return p;
    }

    private FaultProxy.Config base() {
        return FaultProxy.Config.of(new InetSocketAddress(InetAddress.getLoopbackAddress(), echo.port()));
    }

    private Socket connect(FaultProxy p) throws IOException {
        Socket s = new Socket();
        toClose.add(s);
        s.connect(p.address(), READ_TIMEOUT_MILLIS);
        s.setSoTimeout(READ_TIMEOUT_MILLIS);
        return s;
    }

    private static byte[] roundTrip(Socket s, byte[] msg) throws IOException {
        s.getOutputStream().write(msg);
        s.getOutputStream().flush();
        return s.getInputStream().readNBytes(msg.length);
    }

    @Test
    void bytesArriveIntactAndInOrderUnderJitter() throws Exception {
        long seed = Long.getLong("bftledger.seed", System.nanoTime());
        Random r = new Random(seed);
        byte[] data = new byte[1 << 20];
        r.nextBytes(data);
        // Small latency with jitter larger than it: chunks draw different delays, order must hold.
        FaultProxy p = proxy(base().withLatency(Duration.ofMillis(1), Duration.ofMillis(5)).withSeed(seed)
                .withBufferBytes(64 * 1024));
        Socket s = connect(p);
        // Write from another thread: the echo's bytes must be read while we are still writing.
        CompletableFuture<Void> writer = CompletableFuture.runAsync(() -> {
            try {
                OutputStream out = s.getOutputStream();
                int off = 0;
                while (off < data.length) {
                    int n = Math.min(1 + r.nextInt(20_000), data.length - off);
                    out.write(data, off, n);
                    off += n;
                }
                s.shutdownOutput();
            } catch (IOException e) {
                throw new RuntimeException(e);
            }
        });
        byte[] back = s.getInputStream().readAllBytes();
        writer.get(READ_TIMEOUT_MILLIS, TimeUnit.MILLISECONDS);
        assertArrayEquals(data, back, "seed " + seed + " (replay with -Dbftledger.seed=" + seed + ")");
        assertEquals(2L * data.length, p.bytesForwarded(), "seed " + seed);
    }

    @Test
    void pausedProxyHoldsNoMoreThanItsBufferAndThenDeliversEverything() throws Exception {
        int buffer = 32 * 1024;
        FaultProxy p = proxy(base().withBufferBytes(buffer));
        Socket s = connect(p);
        byte[] data = new byte[2 << 20];
        new Random(3).nextBytes(data);
        p.pause();
        // 2 MiB against a 32 KiB buffer: beyond what the sockets hold, the proxy must stop reading
        // (TCP flow control pushes back on the writer) rather than buffer it.
        CompletableFuture<Void> writer = CompletableFuture.runAsync(() -> {
            try {
                s.getOutputStream().write(data);
                s.shutdownOutput();
            } catch (IOException e) {
                throw new RuntimeException(e);
            }
        });
        s.setSoTimeout(300);
        assertThrows(SocketTimeoutException.class, () -> s.getInputStream().read());
        p.unpause();
        s.setSoTimeout(READ_TIMEOUT_MILLIS);
        byte[] back = s.getInputStream().readAllBytes();
        writer.get(READ_TIMEOUT_MILLIS, TimeUnit.MILLISECONDS);
        assertArrayEquals(data, back);
        assertTrue(p.bufferedBytesHighWater() > 0);
        assertTrue(p.bufferedBytesHighWater() <= Math.max(buffer, FaultProxy.CHUNK_BYTES_MAX),
                "held " + p.bufferedBytesHighWater() + " bytes with a " + buffer + "-byte buffer");
    }

    @Test
    void latencyDelaysEachDirection() throws Exception {
        FaultProxy p = proxy(base().withLatency(Duration.ofMillis(200), Duration.ZERO));
        Socket s = connect(p);
        long start = System.nanoTime();
        byte[] back = roundTrip(s, "hello".getBytes());
        long elapsedMillis = (System.nanoTime() - start) / 1_000_000;
        assertArrayEquals("hello".getBytes(), back);
        // 200 ms on the way to the echo and 200 ms on the way back: never sooner than 400 ms.
        assertTrue(elapsedMillis >= 400, "echo arrived after " + elapsedMillis + " ms, before the 400 ms of added latency");

        p.setLatency(Duration.ZERO, Duration.ZERO);
        assertArrayEquals("again".getBytes(), roundTrip(s, "again".getBytes()));
    }

    @Test
    void pauseHoldsDataUntilUnpause() throws Exception {
        FaultProxy p = proxy(base());
        Socket s = connect(p);
        assertArrayEquals("before".getBytes(), roundTrip(s, "before".getBytes()));

        p.pause();
        s.getOutputStream().write("held".getBytes());
        s.getOutputStream().flush();
        s.setSoTimeout(300);
        assertThrows(SocketTimeoutException.class, () -> s.getInputStream().read(),
                "a paused proxy delivered data");

        p.unpause();
        s.setSoTimeout(READ_TIMEOUT_MILLIS);
        assertArrayEquals("held".getBytes(), s.getInputStream().readNBytes(4));
    }

    @Test
    void cutResetsOpenConnectionsAndLaterOnesStillWork() throws Exception {
        FaultProxy p = proxy(base());
        Socket s = connect(p);
        assertArrayEquals("x".getBytes(), roundTrip(s, "x".getBytes()));
        assertEquals(1, p.openConnections());

        p.cut();
        assertEquals(0, p.openConnections());
        assertConnectionDead(s);

        Socket again = connect(p);
        assertArrayEquals("y".getBytes(), roundTrip(again, "y".getBytes()));
    }

    @Test
    void refusingResetsNewConnections() throws Exception {
        FaultProxy p = proxy(base());
        p.setRefusing(true);
        assertNewConnectionDies(p);
        p.setRefusing(false);
        assertArrayEquals("ok".getBytes(), roundTrip(connect(p), "ok".getBytes()));
    }

    @Test
    void connectionsBeyondTheBoundAreReset() throws Exception {
        FaultProxy p = proxy(base().withConnectionsMax(1));
        Socket first = connect(p);
        assertArrayEquals("1".getBytes(), roundTrip(first, "1".getBytes()));
        assertNewConnectionDies(p);
        assertArrayEquals("2".getBytes(), roundTrip(first, "2".getBytes()));
    }

    @Test
    void unreachableTargetResetsTheClient() throws Exception {
        int closedPort;
        try (java.net.ServerSocket ss = new java.net.ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            closedPort = ss.getLocalPort();
        }
        FaultProxy p = proxy(FaultProxy.Config.of(new InetSocketAddress(InetAddress.getLoopbackAddress(), closedPort)));
        assertNewConnectionDies(p);
    }

    @Test
    void rateLimitSpreadsBytesOverTime() throws Exception {
        int bytes = 5_000;
        long rate = 5_000;
        FaultProxy p = proxy(base().withBytesPerSecond(rate));
        Socket s = connect(p);
        long start = System.nanoTime();
        byte[] msg = new byte[bytes];
        new Random(7).nextBytes(msg);
        assertArrayEquals(msg, roundTrip(s, msg));
        long elapsedMillis = (System.nanoTime() - start) / 1_000_000;
        // Each direction may send its first 10 ms slice at once; the rest is paced at `rate`.
        long floorMillis = (bytes - rate / 100) * 1000 / rate;
        assertTrue(elapsedMillis >= floorMillis, bytes + " bytes at " + rate + " B/s took only " + elapsedMillis + " ms");
    }

    @Test
    void closeResetsConnectionsAndFreesThePort() throws Exception {
        FaultProxy p = proxy(base());
        Socket s = connect(p);
        assertArrayEquals("z".getBytes(), roundTrip(s, "z".getBytes()));
        p.close();
        assertConnectionDead(s);
        Socket late = new Socket();
        toClose.add(late);
        assertThrows(IOException.class, () -> late.connect(p.address(), 2_000));
    }

    @Test
    void configRejectsNonsense() {
        FaultProxy.Config c = base();
        assertThrows(IllegalArgumentException.class, () -> c.withLatency(Duration.ofMillis(-1), Duration.ZERO));
        assertThrows(IllegalArgumentException.class, () -> c.withBytesPerSecond(-1));
        assertThrows(IllegalArgumentException.class, () -> c.withBufferBytes(0));
        assertThrows(IllegalArgumentException.class, () -> c.withConnectionsMax(0));
    }

    /**
     * A new connection is reset by the proxy. The reset races the client's connect: it may surface
     * in connect itself or in the first read, and either is the behaviour under test.
     */
    private void assertNewConnectionDies(FaultProxy p) throws IOException {
        Socket s;
        try {
            s = connect(p);
        } catch (java.net.SocketException resetDuringConnect) {
            return;
        }
        assertConnectionDead(s);
    }

    /** A reset or closed connection: the next read ends (EOF or reset) rather than timing out. */
    private static void assertConnectionDead(Socket s) throws IOException {
        s.setSoTimeout(READ_TIMEOUT_MILLIS);
        InputStream in = s.getInputStream();
        try {
            int b = in.read();
            assertEquals(-1, b, "expected EOF or reset, read a byte");
        } catch (SocketTimeoutException e) {
            throw new AssertionError("connection still open after " + READ_TIMEOUT_MILLIS + " ms", e);
        } catch (IOException reset) {
            // "Connection reset": what cut, refusal and the connection bound send.
        }
    }
}
