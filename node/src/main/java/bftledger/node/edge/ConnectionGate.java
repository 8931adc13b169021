package bftledger.node.edge;

import io.grpc.netty.shaded.io.netty.channel.Channel;
import io.grpc.netty.shaded.io.netty.channel.ChannelFactory;
import io.grpc.netty.shaded.io.netty.channel.ChannelHandler;
import io.grpc.netty.shaded.io.netty.channel.ChannelHandlerContext;
import io.grpc.netty.shaded.io.netty.channel.ChannelInboundHandlerAdapter;
import io.grpc.netty.shaded.io.netty.channel.EventLoopGroup;
import io.grpc.netty.shaded.io.netty.channel.ServerChannel;
import io.grpc.netty.shaded.io.netty.channel.epoll.Epoll;
import io.grpc.netty.shaded.io.netty.channel.epoll.EpollEventLoopGroup;
import io.grpc.netty.shaded.io.netty.channel.epoll.EpollServerSocketChannel;
import io.grpc.netty.shaded.io.netty.channel.nio.NioEventLoopGroup;
import io.grpc.netty.shaded.io.netty.channel.socket.nio.NioServerSocketChannel;
import io.grpc.netty.shaded.io.netty.util.concurrent.DefaultThreadFactory;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.function.BiConsumer;
import java.util.function.Supplier;
import java.util.function.ToLongFunction;

/**
 * Holds off client connections from an address that has spent its bad-signature budget
 * ({@link Bulkheads}), and closes the ones it has open when it spends it. The budget alone
 * refuses such an address's submissions unread, but each refused call still costs the replica an
 * HTTP/2 stream, its headers and a trailer on the I/O threads, about as much as an honest
 * transaction's whole transport (docs/performance.md, the forged-signature flood).
 *
 * <p>A new connection from such an address is accepted and then held without a byte read or
 * written until its wait is over (at most {@link #HOLD_MAX_MILLIS}), then closed: it never
 * reaches gRPC, and its client's handshake and every call it queued wait meanwhile. Closing it at
 * once was measured first and did not pay: a forger that dials again at once costs an accept and
 * a close each time, more than a refused call on an open connection.
 *
 * <p>Replicas share the server's port with clients, so a validator's address is never refused
 * here (a forger behind a validator's address is still refused per call by the budget):
 * {@code exempt} names those addresses, resolved again from time to time by the caller.
 *
 * <p>How it hooks into gRPC: the server's listening channel is made by {@link #channelFactory()},
 * which puts this gate's handler in front of the acceptor, so it sees every accepted connection
 * before gRPC sets it up. gRPC then needs the event loop groups given too ({@link #boss()},
 * {@link #workers()}); they are made here for the same transport (epoll where available, as
 * gRPC's defaults) and shut down by {@link #close()} after the server.
 *
 * <p>Bounds: the connections tracked are the open ones from gated addresses, held ones included, at most
 * {@link #CONNECTIONS_PER_ADDRESS_MAX} per address and {@link #CONNECTIONS_TRACKED_MAX} in all; a
 * connection beyond either is refused ("connections-per-address", "connections-tracked").
 * ConnectionGateTest pins the refusals and the closes.
 */
public final class ConnectionGate implements AutoCloseable {
    /** Open connections from one client address. Many honest clients may share a NAT address. */
    public static final int CONNECTIONS_PER_ADDRESS_MAX = 4_096;
    /** Open client connections tracked in all (each is a socket, so the process's file limit binds too). */
    public static final int CONNECTIONS_TRACKED_MAX = 32_768;

    private final int perAddressMax;
    private final int trackedMax;
    /** Longest a held connection is kept before it is closed (the client then dials again). */
    public static final long HOLD_MAX_MILLIS = 10_000;

    private final ToLongFunction<InetAddress> budgetWaitMillis;
    private final Supplier<Set<InetAddress>> exempt;
    private final BiConsumer<String, Integer> onRefused;
    private final boolean epoll = Epoll.isAvailable();
    private final EventLoopGroup boss;
    private final EventLoopGroup workers;
    private final Map<InetAddress, Set<Channel>> open = new HashMap<>();
    private int tracked;
    private final Handler handler = new Handler();

    /**
     * @param budgetWaitMillis how long an address must wait for its bad-signature budget (0: it has some)
     * @param exempt      the validators' addresses, never refused here
     * @param onRefused   told of refused or closed connections: reason and how many
     * @param workerThreads the I/O threads of the server's connections
     */
    public ConnectionGate(ToLongFunction<InetAddress> budgetWaitMillis, Supplier<Set<InetAddress>> exempt,
                          BiConsumer<String, Integer> onRefused, int workerThreads) {
        this(budgetWaitMillis, exempt, onRefused, workerThreads, CONNECTIONS_PER_ADDRESS_MAX, CONNECTIONS_TRACKED_MAX);
    }

    /** With other connection bounds than the defaults (tests). */
    public ConnectionGate(ToLongFunction<InetAddress> budgetWaitMillis, Supplier<Set<InetAddress>> exempt,
                          BiConsumer<String, Integer> onRefused, int workerThreads, int perAddressMax, int trackedMax) {
        if (perAddressMax < 1 || trackedMax < 1 || workerThreads < 1) {
            throw new IllegalArgumentException("connection bounds and threads must be at least 1");
        }
        this.perAddressMax = perAddressMax;
        this.trackedMax = trackedMax;
        this.budgetWaitMillis = budgetWaitMillis;
        this.exempt = exempt;
        this.onRefused = onRefused;
        this.boss = epoll ? new EpollEventLoopGroup(1, new DefaultThreadFactory("grpc-boss", true))
                : new NioEventLoopGroup(1, new DefaultThreadFactory("grpc-boss", true));
        this.workers = epoll ? new EpollEventLoopGroup(workerThreads, new DefaultThreadFactory("grpc-default-worker", true))
                : new NioEventLoopGroup(workerThreads, new DefaultThreadFactory("grpc-default-worker", true));
    }

    public EventLoopGroup boss() {
        return boss;
    }

    public EventLoopGroup workers() {
        return workers;
    }

    /** Makes the server's listening channel, with this gate in front of gRPC's acceptor. */
    public ChannelFactory<ServerChannel> channelFactory() {
        return () -> {
            ServerChannel channel = epoll ? new EpollServerSocketChannel() : new NioServerSocketChannel();
            channel.pipeline().addLast(handler);
            return channel;
        };
    }

    /**
     * Closes every open connection from {@code address} unless it is exempt: called when the
     * address has just spent its budget. Calls in flight on them end (the client sees UNAVAILABLE).
     */
    public void closeConnections(InetAddress address) {
        if (exempt.get().contains(address)) {
            return;
        }
        List<Channel> closing;
        synchronized (open) {
            Set<Channel> from = open.get(address);
            closing = from == null ? List.of() : List.copyOf(from);
        }
        if (!closing.isEmpty()) {
            onRefused.accept("bad-signatures-closed", closing.size());
        }
        for (Channel c : closing) {
            c.close();
        }
    }

    /** Open connections from gated (not exempt) addresses, for metrics and tests. */
    public int tracked() {
        synchronized (open) {
            return tracked;
        }
    }

    @ChannelHandler.Sharable
    private final class Handler extends ChannelInboundHandlerAdapter {
        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            if (!(msg instanceof Channel child)) {
                ctx.fireChannelRead(msg);
                return;
            }
            InetAddress from = addressOf(child.remoteAddress());
            if (from == null || exempt.get().contains(from)) {
                ctx.fireChannelRead(msg);
                return;
            }
            String refusal = track(from, child);
            // Counted before the close, so a client that sees its connection end sees it counted
            // (ConnectionGateTest reads the counts right after the refused call).
            if (refusal != null) {
                onRefused.accept(refusal, 1);
                // Not registered with an event loop yet: closed here, before gRPC sees it.
                child.unsafe().closeForcibly();
                return;
            }
            long wait = budgetWaitMillis.applyAsLong(from);
            if (wait > 0) {
                onRefused.accept("bad-signatures", 1);
                hold(ctx, from, child, Math.min(wait, HOLD_MAX_MILLIS));
                return;
            }
            ctx.fireChannelRead(msg);
        }
    }

    /**
     * Registers {@code child} on the accepting event loop with nothing in its pipeline and
     * nothing read, and closes it after {@code millis}: the client's handshake gets no answer.
     */
    private void hold(ChannelHandlerContext ctx, InetAddress from, Channel child, long millis) {
        child.config().setAutoRead(false);
        ctx.channel().eventLoop().register(child).addListener(registered -> {
            if (registered.isSuccess()) {
                child.eventLoop().schedule(() -> { child.close(); }, millis, TimeUnit.MILLISECONDS);
            } else {
                // Never registered, so its close future never completes: forgotten here.
                child.unsafe().closeForcibly();
                forget(from, child);
            }
        });
    }

    /** Tracks {@code child} from a gated address, or says why it is refused. */
    private String track(InetAddress from, Channel child) {
        synchronized (open) {
            Set<Channel> from0 = open.get(from);
            if (from0 != null && from0.size() >= perAddressMax) {
                return "connections-per-address";
            }
            if (tracked >= trackedMax) {
                return "connections-tracked";
            }
            open.computeIfAbsent(from, a -> new HashSet<>()).add(child);
            tracked++;
        }
        child.closeFuture().addListener(f -> forget(from, child));
        return null;
    }

    private void forget(InetAddress from, Channel child) {
        synchronized (open) {
            Set<Channel> set = open.get(from);
            if (set != null && set.remove(child)) {
                tracked--;
                if (set.isEmpty()) {
                    open.remove(from);
                }
            }
        }
    }

    /**
     * The IP addresses of {@code hostPorts} ("host:port", as genesis names the validators). A host
     * that does not resolve now keeps the addresses it had in {@code previous}: a passing DNS
     * failure must not take a validator's exemption away.
     */
    public static Set<InetAddress> resolve(List<String> hostPorts, Set<InetAddress> previous) {
        Set<InetAddress> out = new HashSet<>();
        boolean failed = false;
        for (String hostPort : hostPorts) {
            try {
                String host = com.google.common.net.HostAndPort.fromString(hostPort).getHost();
                out.addAll(List.of(InetAddress.getAllByName(host)));
            } catch (java.net.UnknownHostException | IllegalArgumentException e) {
                failed = true;
            }
        }
        if (failed) {
            out.addAll(previous);
        }
        return Set.copyOf(out);
    }

    private static InetAddress addressOf(SocketAddress a) {
        return a instanceof InetSocketAddress inet ? inet.getAddress() : null;
    }

    /** Shuts the event loops down; after the server has stopped. */
    @Override
    public void close() {
        boss.shutdownGracefully(0, 2, TimeUnit.SECONDS);
        workers.shutdownGracefully(0, 2, TimeUnit.SECONDS).awaitUninterruptibly(5, TimeUnit.SECONDS);
    }
}
