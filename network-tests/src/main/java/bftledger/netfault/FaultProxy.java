package bftledger.netfault;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * A TCP proxy of ours that adds the faults this kernel cannot (no netem): latency with jitter,
 * pauses, abrupt cuts and a byte-rate limit. One listening port forwards every accepted connection
 * to one target; each connection has two directions, each with its own bounded buffer.
 *
 * <p>What it does to bytes: each chunk read is held until {@code now + latency + U[0, jitter]}
 * (jitter from a generator seeded by the config), but never released before the chunk ahead of it
 * in the same direction, so a TCP stream keeps its order. Pausing holds all data (and accepts new
 * connections, holding their data too) until unpaused. {@link #cut()} resets every open connection
 * (RST to both ends); {@link #setRefusing} resets new ones on arrival. A full buffer stops reading
 * from that side, so TCP flow control pushes back on the sender instead of memory growing.
 *
 * <p>What it does not do: duplicate or reorder messages. A TCP proxy cannot do that without
 * breaking the byte stream; message-level duplication and reordering belong to the node-side
 * transport interceptor, which sees message boundaries. The jitter sequence is reproducible per
 * seed, but which chunk draws which delay depends on thread timing, so runs are not bit-identical.
 *
 * <p>Runs in-process ({@link #start}) on loopback or any local address, or as a separate JVM
 * ({@link #main}) so it can run inside a network namespace via {@code NetnsNetwork.exec}.
 * Threads: one acceptor, plus four per connection (a reader and a writer per direction).
 */
public final class FaultProxy implements AutoCloseable {

    /**
     * @param listen where to listen; port 0 picks a free port (see {@link #address()})
     * @param target where each accepted connection is forwarded
     * @param latency added one-way delay for every chunk, each direction
     * @param jitter extra delay drawn uniformly from [0, jitter]
     * @param seed seeds the jitter generator
     * @param bytesPerSecond rate limit per direction per connection; 0 means unlimited
     * @param bufferBytes bound on bytes held per direction per connection
     * @param connectionsMax connections beyond this are reset on arrival
     * @param connectTimeout bound on connecting to the target
     */
    public record Config(InetSocketAddress listen, InetSocketAddress target, Duration latency, Duration jitter,
                         long seed, long bytesPerSecond, int bufferBytes, int connectionsMax, Duration connectTimeout) {
        public static final int DEFAULT_BUFFER_BYTES = 1 << 20;
        public static final int DEFAULT_CONNECTIONS_MAX = 64;
        public static final Duration DEFAULT_CONNECT_TIMEOUT = Duration.ofSeconds(5);

        public Config {
            if (listen == null || target == null) {
                throw new IllegalArgumentException("listen and target are required");
            }
            checkDelay(latency, "latency");
            checkDelay(jitter, "jitter");
            if (bytesPerSecond < 0) {
                throw new IllegalArgumentException("bytesPerSecond must be >= 0: " + bytesPerSecond);
            }
            if (bufferBytes < 1 || connectionsMax < 1) {
                throw new IllegalArgumentException("bufferBytes and connectionsMax must be positive");
            }
            if (connectTimeout == null || connectTimeout.isNegative() || connectTimeout.isZero()) {
                throw new IllegalArgumentException("connectTimeout must be positive");
            }
        }

        /** No faults: loopback listener on a free port, default bounds. */
        public static Config of(InetSocketAddress target) {
            return new Config(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), target,
                    Duration.ZERO, Duration.ZERO, 1, 0, DEFAULT_BUFFER_BYTES, DEFAULT_CONNECTIONS_MAX,
                    DEFAULT_CONNECT_TIMEOUT);
        }

        public Config withListen(InetSocketAddress l) {
            return new Config(l, target, latency, jitter, seed, bytesPerSecond, bufferBytes, connectionsMax, connectTimeout);
        }

        public Config withLatency(Duration l, Duration j) {
            return new Config(listen, target, l, j, seed, bytesPerSecond, bufferBytes, connectionsMax, connectTimeout);
        }

        public Config withSeed(long s) {
            return new Config(listen, target, latency, jitter, s, bytesPerSecond, bufferBytes, connectionsMax, connectTimeout);
        }

        public Config withBytesPerSecond(long r) {
            return new Config(listen, target, latency, jitter, seed, r, bufferBytes, connectionsMax, connectTimeout);
        }

        public Config withBufferBytes(int b) {
            return new Config(listen, target, latency, jitter, seed, bytesPerSecond, b, connectionsMax, connectTimeout);
        }

        public Config withConnectionsMax(int m) {
            return new Config(listen, target, latency, jitter, seed, bytesPerSecond, bufferBytes, m, connectTimeout);
        }
    }

    /** Largest single read; also the granularity at which latency is applied. */
    static final int CHUNK_BYTES_MAX = 16 * 1024;
    /** Rate-limited writes go out in slices of about this many milliseconds' worth. */
    private static final long RATE_SLICE_MILLIS = 10;
    private static final long JOIN_MILLIS = 5_000;

    private final Config config;
    private final ServerSocket server;
    private final Thread acceptor;
    private final Set<Connection> connections = ConcurrentHashMap.newKeySet();
    private final AtomicLong bytesForwarded = new AtomicLong();
    private final AtomicLong connectionsAccepted = new AtomicLong();
    private final AtomicLong bufferedHighWater = new AtomicLong();
    private final Random jitterRandom;
    private volatile long latencyNanos;
    private volatile long jitterNanos;
    private volatile long bytesPerSecond;
    private volatile boolean paused;
    private volatile boolean refusing;
    private volatile boolean closed;

    private FaultProxy(Config config) throws IOException {
        this.config = config;
        this.jitterRandom = new Random(config.seed());
        this.latencyNanos = config.latency().toNanos();
        this.jitterNanos = config.jitter().toNanos();
        this.bytesPerSecond = config.bytesPerSecond();
        this.server = new ServerSocket();
        server.setReuseAddress(true);
        server.bind(config.listen(), 128);
        this.acceptor = new Thread(this::acceptLoop, "fault-proxy-accept-" + server.getLocalPort());
        acceptor.setDaemon(true);
    }

    /** Binds the listener and starts accepting. */
    public static FaultProxy start(Config config) throws IOException {
        FaultProxy p = new FaultProxy(config);
        p.acceptor.start();
        return p;
    }

    public Config config() {
        return config;
    }

    /** The bound listen address (with the real port when the config asked for port 0). */
    public InetSocketAddress address() {
        return new InetSocketAddress(server.getInetAddress(), server.getLocalPort());
    }

    public int port() {
        return server.getLocalPort();
    }

    /** Changes the added delay for chunks read from now on. */
    public void setLatency(Duration latency, Duration jitter) {
        checkDelay(latency, "latency");
        checkDelay(jitter, "jitter");
        latencyNanos = latency.toNanos();
        jitterNanos = jitter.toNanos();
    }

    /** Per direction per connection; 0 removes the limit. */
    public void setBytesPerSecond(long rate) {
        if (rate < 0) {
            throw new IllegalArgumentException("rate must be >= 0: " + rate);
        }
        bytesPerSecond = rate;
        wakeAll();
    }

    /** Holds all data, in both directions of every connection, until {@link #unpause()}. */
    public void pause() {
        paused = true;
    }

    public void unpause() {
        paused = false;
        wakeAll();
    }

    public boolean paused() {
        return paused;
    }

    /** While refusing, new connections are reset as soon as they are accepted. */
    public void setRefusing(boolean refuse) {
        refusing = refuse;
    }

    /** Resets every open connection at both ends; held data is discarded. New ones are still accepted. */
    public void cut() {
        for (Connection c : List.copyOf(connections)) {
            c.abort();
        }
    }

    public int openConnections() {
        return connections.size();
    }

    public long connectionsAccepted() {
        return connectionsAccepted.get();
    }

    /**
     * The most bytes any one direction of any connection has held at once: at most
     * {@code bufferBytes}, or one read chunk when a single chunk is larger than that.
     */
    public long bufferedBytesHighWater() {
        return bufferedHighWater.get();
    }

    /** Bytes written to either end so far, both directions summed. */
    public long bytesForwarded() {
        return bytesForwarded.get();
    }

    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        try {
            server.close();
        } catch (IOException ignored) {
            // Closing a listener only fails if already closed.
        }
        List<Connection> open = List.copyOf(connections);
        for (Connection c : open) {
            c.abort();
        }
        join(acceptor);
        for (Connection c : open) {
            c.join();
        }
    }

    private void acceptLoop() {
        while (!closed) {
            Socket client;
            try {
                client = server.accept();
            } catch (IOException e) {
                if (closed) {
                    return;
                }
                // A transient accept failure (e.g. out of descriptors) must not end the proxy.
                continue;
            }
            connectionsAccepted.incrementAndGet();
            if (refusing || closed || connections.size() >= config.connectionsMax()) {
                reset(client);
                continue;
            }
            Connection c = new Connection(client);
            connections.add(c);
            c.start();
        }
    }

    private void wakeAll() {
        for (Connection c : connections) {
            c.up.wake();
            c.down.wake();
        }
    }

    private long drawDelayNanos() {
        long base = latencyNanos;
        long j = jitterNanos;
        if (j <= 0) {
            return base;
        }
        long extra;
        synchronized (jitterRandom) {
            extra = (long) (jitterRandom.nextDouble() * (j + 1));
        }
        return base + extra;
    }

    private static void reset(Socket s) {
        try {
            s.setSoLinger(true, 0);
        } catch (SocketException ignored) {
            // Already closed: nothing to reset.
        }
        try {
            s.close();
        } catch (IOException ignored) {
            // Closing is best effort once we decided to drop the connection.
        }
    }

    private static void join(Thread t) {
        try {
            t.join(JOIN_MILLIS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private static void checkDelay(Duration d, String what) {
        if (d == null || d.isNegative()) {
            throw new IllegalArgumentException(what + " must be >= 0: " + d);
        }
    }

    /** One accepted connection: client <-> target, with a pipe per direction. */
    private final class Connection {
        final Socket client;
        volatile Socket target;
        final Pipe up = new Pipe();   // client -> target
        final Pipe down = new Pipe(); // target -> client
        final List<Thread> threads = new ArrayList<>();
        private final AtomicLong directionsDone = new AtomicLong();
        private volatile boolean aborted;

        Connection(Socket client) {
            this.client = client;
        }

        void start() {
            Thread t = new Thread(this::run, "fault-proxy-conn-" + client.getPort());
            t.setDaemon(true);
            synchronized (threads) {
                threads.add(t);
            }
            t.start();
        }

        private void run() {
            Socket t = new Socket();
            try {
                t.connect(config.target(), (int) config.connectTimeout().toMillis());
                t.setTcpNoDelay(true);
                client.setTcpNoDelay(true);
            } catch (IOException e) {
                reset(t);
                abort();
                return;
            }
            target = t;
            if (aborted) {
                reset(t);
                return;
            }
            spawn("up-read", () -> readInto(client, up));
            spawn("up-write", () -> writeFrom(up, t));
            spawn("down-read", () -> readInto(t, down));
            // This thread becomes the last writer: no extra thread for it.
            writeFrom(down, client);
        }

        private void spawn(String what, Runnable r) {
            Thread th = new Thread(r, "fault-proxy-" + what + "-" + client.getPort());
            th.setDaemon(true);
            synchronized (threads) {
                threads.add(th);
            }
            th.start();
        }

        private void readInto(Socket from, Pipe pipe) {
            byte[] buf = new byte[CHUNK_BYTES_MAX];
            try {
                InputStream in = from.getInputStream();
                while (true) {
                    int n = in.read(buf);
                    if (n < 0) {
                        pipe.finish();
                        return;
                    }
                    byte[] chunk = Arrays.copyOf(buf, n);
                    if (!pipe.put(chunk, System.nanoTime() + drawDelayNanos(), config.bufferBytes())) {
                        return;
                    }
                }
            } catch (IOException e) {
                abort();
            } catch (InterruptedException e) {
                abort();
            }
        }

        private void writeFrom(Pipe pipe, Socket to) {
            try {
                OutputStream out = to.getOutputStream();
                long nextSendNanos = System.nanoTime();
                while (true) {
                    byte[] chunk = pipe.take();
                    if (chunk == null) {
                        return; // aborted
                    }
                    if (chunk == Pipe.EOF) {
                        to.shutdownOutput();
                        directionDone();
                        return;
                    }
                    int off = 0;
                    while (off < chunk.length) {
                        long rate = bytesPerSecond;
                        int n = chunk.length - off;
                        if (rate > 0) {
                            n = (int) Math.min(n, Math.max(1, rate * RATE_SLICE_MILLIS / 1000));
                            if (!pipe.awaitSendable(nextSendNanos)) {
                                return;
                            }
                            nextSendNanos = Math.max(nextSendNanos, System.nanoTime()) + n * 1_000_000_000L / rate;
                        } else if (!pipe.awaitSendable(0)) {
                            return;
                        }
                        out.write(chunk, off, n);
                        out.flush();
                        off += n;
                        bytesForwarded.addAndGet(n);
                    }
                }
            } catch (IOException e) {
                abort();
            } catch (InterruptedException e) {
                abort();
            }
        }

        private void directionDone() {
            if (directionsDone.incrementAndGet() == 2) {
                // Both sides have sent EOF and every byte was delivered: an orderly close.
                connections.remove(this);
                up.close();
                down.close();
                closeQuietly(client);
                closeQuietly(target);
            }
        }

        void abort() {
            aborted = true;
            connections.remove(this);
            up.close();
            down.close();
            reset(client);
            Socket t = target;
            if (t != null) {
                reset(t);
            }
        }

        void join() {
            List<Thread> copy;
            synchronized (threads) {
                copy = List.copyOf(threads);
            }
            for (Thread t : copy) {
                FaultProxy.join(t);
            }
        }

        private void closeQuietly(Socket s) {
            if (s == null) {
                return;
            }
            try {
                s.close();
            } catch (IOException ignored) {
                // Orderly close after both EOFs; a failure here changes nothing for either end.
            }
        }
    }

    /** One direction's held chunks, bounded in bytes, released in order at their due times. */
    private final class Pipe {
        static final byte[] EOF = new byte[0];
        private final ReentrantLock lock = new ReentrantLock();
        private final Condition changed = lock.newCondition();
        private final ArrayDeque<byte[]> chunks = new ArrayDeque<>();
        private final ArrayDeque<Long> dues = new ArrayDeque<>();
        private long bytes;
        private long lastDueNanos = Long.MIN_VALUE;
        private boolean eof;
        private boolean pipeClosed;

        /** Blocks while the buffer is full; false if the pipe was closed. */
        boolean put(byte[] chunk, long dueNanos, int capacity) throws InterruptedException {
            lock.lock();
            try {
                // A chunk larger than the whole buffer still passes once the buffer is empty.
                while (!pipeClosed && bytes > 0 && bytes + chunk.length > capacity) {
                    changed.await();
                }
                if (pipeClosed) {
                    return false;
                }
                long due = Math.max(dueNanos, lastDueNanos);
                lastDueNanos = due;
                chunks.addLast(chunk);
                dues.addLast(due);
                bytes += chunk.length;
                bufferedHighWater.accumulateAndGet(bytes, Math::max);
                changed.signalAll();
                return true;
            } finally {
                lock.unlock();
            }
        }

        void finish() {
            lock.lock();
            try {
                eof = true;
                changed.signalAll();
            } finally {
                lock.unlock();
            }
        }

        /** The next due chunk, {@link #EOF} after the last one, or null once closed. */
        byte[] take() throws InterruptedException {
            lock.lock();
            try {
                while (true) {
                    if (pipeClosed) {
                        return null;
                    }
                    if (paused) {
                        changed.await();
                        continue;
                    }
                    if (chunks.isEmpty()) {
                        if (eof) {
                            return EOF;
                        }
                        changed.await();
                        continue;
                    }
                    long wait = dues.peekFirst() - System.nanoTime();
                    if (wait > 0) {
                        changed.awaitNanos(wait);
                        continue;
                    }
                    dues.removeFirst();
                    byte[] c = chunks.removeFirst();
                    bytes -= c.length;
                    changed.signalAll();
                    return c;
                }
            } finally {
                lock.unlock();
            }
        }

        /** Waits until not paused and the clock has reached {@code notBeforeNanos}; false if closed. */
        boolean awaitSendable(long notBeforeNanos) throws InterruptedException {
            lock.lock();
            try {
                while (true) {
                    if (pipeClosed) {
                        return false;
                    }
                    if (paused) {
                        changed.await();
                        continue;
                    }
                    long wait = notBeforeNanos - System.nanoTime();
                    if (wait <= 0) {
                        return true;
                    }
                    changed.awaitNanos(wait);
                }
            } finally {
                lock.unlock();
            }
        }

        void wake() {
            lock.lock();
            try {
                changed.signalAll();
            } finally {
                lock.unlock();
            }
        }

        void close() {
            lock.lock();
            try {
                pipeClosed = true;
                chunks.clear();
                dues.clear();
                bytes = 0;
                changed.signalAll();
            } finally {
                lock.unlock();
            }
        }
    }

    /**
     * Runs a proxy as its own process, e.g. inside a namespace:
     * {@code FaultProxy LISTEN_HOST:PORT TARGET_HOST:PORT [latencyMs [jitterMs [seed [bytesPerSecond]]]]}.
     * Prints "LISTENING host:port" once bound, then obeys lines on stdin: {@code pause},
     * {@code unpause}, {@code cut}, {@code refuse on|off}, {@code latency MS JITTER_MS},
     * {@code rate BYTES_PER_SECOND}, {@code quit}; each answered by "OK" or "ERROR reason".
     * Exits when stdin closes, so it never outlives the process that started it.
     */
    public static void main(String[] args) throws IOException {
        if (args.length < 2 || args.length > 6) {
            System.err.println("usage: FaultProxy LISTEN_HOST:PORT TARGET_HOST:PORT [latencyMs [jitterMs [seed [bytesPerSecond]]]]");
            System.exit(2);
        }
        Config c = Config.of(parseAddress(args[1])).withListen(parseAddress(args[0]))
                .withLatency(Duration.ofMillis(args.length > 2 ? Long.parseLong(args[2]) : 0),
                        Duration.ofMillis(args.length > 3 ? Long.parseLong(args[3]) : 0))
                .withSeed(args.length > 4 ? Long.parseLong(args[4]) : 1)
                .withBytesPerSecond(args.length > 5 ? Long.parseLong(args[5]) : 0);
        try (FaultProxy p = FaultProxy.start(c)) {
            System.out.println("LISTENING " + p.address().getAddress().getHostAddress() + ":" + p.port());
            System.out.flush();
            BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
            String line;
            while ((line = in.readLine()) != null) {
                String[] f = line.trim().split("\\s+");
                try {
                    switch (f[0]) {
                        case "pause" -> p.pause();
                        case "unpause" -> p.unpause();
                        case "cut" -> p.cut();
                        case "refuse" -> p.setRefusing("on".equals(f[1]));
                        case "latency" -> p.setLatency(Duration.ofMillis(Long.parseLong(f[1])), Duration.ofMillis(Long.parseLong(f[2])));
                        case "rate" -> p.setBytesPerSecond(Long.parseLong(f[1]));
                        case "quit" -> {
                            System.out.println("OK");
                            return;
                        }
                        default -> throw new IllegalArgumentException("unknown command '" + f[0] + "'");
                    }
                    System.out.println("OK");
                } catch (RuntimeException e) {
                    System.out.println("ERROR " + e.getMessage());
                }
                System.out.flush();
            }
        }
    }

    static InetSocketAddress parseAddress(String hostPort) {
        int colon = hostPort.lastIndexOf(':');
        if (colon <= 0) {
            throw new IllegalArgumentException("expected host:port, got '" + hostPort + "'");
        }
        return new InetSocketAddress(hostPort.substring(0, colon), Integer.parseInt(hostPort.substring(colon + 1)));
    }
}
