package bftledger.node.net;

import bftledger.crypto.Digest;
import bftledger.crypto.Domain;
import bftledger.crypto.KeyPair;
import bftledger.crypto.PublicKey;
import bftledger.ledger.proto.Block;
import bftledger.node.metrics.NodeMetrics;
import bftledger.node.proto.Challenge;
import bftledger.ledger.proto.HeaderProof;
import bftledger.ledger.proto.StateSnapshotManifest;
import bftledger.node.proto.FetchBlocksRequest;
import bftledger.node.proto.FetchStateChunkRequest;
import bftledger.node.proto.GetHeaderProofRequest;
import bftledger.node.proto.GetStateManifestRequest;
import bftledger.node.proto.ListStateSnapshotsRequest;
import bftledger.node.proto.ListStateSnapshotsResponse;
import bftledger.node.proto.StateChunk;
import bftledger.node.proto.Hello;
import bftledger.node.proto.HelloBody;
import bftledger.node.proto.PeerFrame;
import bftledger.node.proto.PeerTransportGrpc;
import com.google.protobuf.ByteString;
import com.google.protobuf.InvalidProtocolBufferException;
import io.grpc.ChannelCredentials;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.ClientResponseObserver;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.LinkedBlockingDeque;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The replica-to-replica transport. Each replica opens one long-lived {@code Connect} stream to
 * every peer and sends only on streams it opened; it receives on streams peers opened to it.
 * A stream is accepted only after the opener signs the receiver's fresh challenge with its
 * genesis key, so frames on it are known to come from that validator (the consensus messages
 * inside are still verified on their own signatures by the core's verifier).
 *
 * <p>Bounds: each peer has an outbound queue of {@code queueMax} messages. When it is full the
 * OLDEST message is dropped: PBFT recovers lost messages by retransmission and view change,
 * and for a peer that has been away, newer messages (higher sequences, newer views) are the
 * useful ones. Drops are counted. A message written just as a stream breaks can be lost with
 * it; delivery is best effort, like the network PBFT is designed for
 * (PeerNetworkTest#aPeerThatIsDownGetsTheNewestMessagesWhenItComesBack). Inbound frames over
 * {@code messageBytesMax} are refused by gRPC before they are parsed
 * (PeerNetworkTest#framesOverTheSizeBoundAreDroppedAndCounted).
 */
public final class PeerNetwork implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(PeerNetwork.class);
    static final long BACKOFF_MIN_MILLIS = 100;
    /**
     * The longest wait between attempts to reach a peer. After a partition heals, both ends'
     * links may be sleeping off their backoff (each wakes the other once it gets through), so
     * this bounds how long a healed replica stays unheard. It must stay well below the request
     * timeout, or a healed backup's timer expires before it hears the others and it leaves the
     * view alone (PartitionScenariosTest#aBackupCutOffUnderLoadRejoinsTheView). One attempt a
     * second per unreachable peer costs nothing.
     */
    static final long BACKOFF_MAX_MILLIS = 1_000;
    /** The longest wait after a peer refused our hello (wrong genesis or key): no heal will change that soon. */
    static final long REFUSED_BACKOFF_MAX_MILLIS = 5_000;
    static final long HANDSHAKE_TIMEOUT_MILLIS = 5_000;
    /** A stream that lasted this long was accepted; the reconnect backoff starts over after it. */
    static final long ESTABLISHED_MILLIS = 2_000;
    /**
     * A connection whose sent data stays unacknowledged this long is dropped by the kernel
     * (TCP_USER_TIMEOUT) and made again. Without it a connection that a network cut stalled
     * stays stalled after the cut heals: TCP's retransmission timer doubled during the cut, so
     * the next retransmission can come seconds after the heal, long enough for the replica's
     * request timer to expire mid catch-up (PartitionScenariosTest#aBackupCutOffUnderLoadRejoinsTheView).
     * Peers on a working network acknowledge within milliseconds, even when their process is
     * busy (the kernel acknowledges). A peer stopped for longer with its receive window full is disconnected
     * too (Linux 5.11 and later count a zero window against the timeout) and reconnected when
     * it answers again; what was in flight is lost, as in any reconnect, and PBFT's
     * retransmissions and catch-up cover it.
     */
    public static final int UNACKNOWLEDGED_MAX_MILLIS = 2_000;
    /**
     * The same for connections the node accepts (peers fetching blocks, clients): longer, since
     * clients may sit on slower paths; it still ends a stalled catch-up stream well before a
     * retransmission backoff after a long cut would.
     */
    public static final int ACCEPTED_UNACKNOWLEDGED_MAX_MILLIS = 5_000;
    /** A connection attempt gives up after this long and the next one starts with a fresh SYN. */
    static final int CONNECT_TIMEOUT_MILLIS = 500;
    /** Blocks per FetchBlocks call at most; the caller asks again from where it got to. */
    public static final int FETCH_BLOCKS_MAX = 64;

    /** Bytes of state entries per FetchStateChunk answer at most (well under any gRPC message limit). */
    public static final int STATE_CHUNK_BYTES_MAX = 1 << 20;

    /** Where authenticated inbound consensus bytes go. Called on gRPC threads; must not block. */
    public interface Inbound {
        void onMessage(int fromReplica, byte[] bytes);
    }

    public record Limits(int queueMax, int messageBytesMax) {}

    private final int self;
    private final List<PublicKey> validators;
    private final List<String> addresses;
    private final Digest genesisHash;
    private final KeyPair key;
    /** TLS for the links to peers (the node's certificate, the network CA), or plaintext on a network without TLS. */
    private final ChannelCredentials credentials;
    private final Limits limits;
    private final Inbound inbound;
    private final BlockSource blocks;
    private final NodeMetrics metrics;
    private final SecureRandom random = new SecureRandom();
    private final List<Link> links = new ArrayList<>();
    private final ConcurrentHashMap<Integer, AtomicInteger> inboundStreams = new ConcurrentHashMap<>();
    private volatile boolean closed;

    public PeerNetwork(int self, List<PublicKey> validators, List<String> addresses, Digest genesisHash, KeyPair key,
                       ChannelCredentials credentials, Limits limits, Inbound inbound, BlockSource blocks, NodeMetrics metrics) {
        this.self = self;
        this.validators = List.copyOf(validators);
        this.addresses = List.copyOf(addresses);
        this.genesisHash = genesisHash;
        this.key = key;
        this.credentials = credentials;
        this.limits = limits;
        this.inbound = inbound;
        this.blocks = blocks;
        this.metrics = metrics;
        for (int peer = 0; peer < validators.size(); peer++) {
            links.add(peer == self ? null : new Link(peer));
        }
        for (Link link : links) {
            if (link != null) {
                metrics.queueDepth("peer-out-" + link.peer, link.queue::size);
            }
        }
    }

    /** Starts one sender thread per peer; each connects and reconnects on its own. */
    public void start() {
        for (Link link : links) {
            if (link != null) {
                link.thread.start();
            }
        }
    }

    public void send(int peer, byte[] message) {
        if (peer == self || peer < 0 || peer >= links.size()) {
            throw new IllegalArgumentException("no link to replica " + peer + " from replica " + self);
        }
        links.get(peer).enqueue(message);
    }

    public void broadcast(byte[] message) {
        for (Link link : links) {
            if (link != null) {
                link.enqueue(message);
            }
        }
    }

    /** Peers with at least one authenticated stream open to this replica. */
    public Set<Integer> connectedPeers() {
        Set<Integer> out = new TreeSet<>();
        inboundStreams.forEach((peer, count) -> {
            if (count.get() > 0) {
                out.add(peer);
            }
        });
        return out;
    }

    /** Peers this replica's outbound streams are established to. */
    public Set<Integer> reachablePeers() {
        Set<Integer> out = new TreeSet<>();
        for (Link link : links) {
            if (link != null && link.up) {
                out.add(link.peer);
            }
        }
        return out;
    }

    /** A channel to a peer for other calls (catch-up). */
    public Optional<ManagedChannel> channel(int peer) {
        return peer == self ? Optional.empty() : Optional.of(links.get(peer).channel);
    }

    /** The metrics text, for tests and the status command. */
    String metricsText() {
        return metrics.scrape();
    }

    public PeerTransportGrpc.PeerTransportImplBase service() {
        return new Service();
    }

    byte[] helloBody(int to, ByteString nonce) {
        return HelloBody.newBuilder().setGenesisHash(ByteString.copyFrom(genesisHash.bytes())).setFrom(self).setTo(to)
                .setNonce(nonce).build().toByteArray();
    }

    /** One outbound stream to one peer, with its bounded queue and its sender thread. */
    private final class Link {
        final int peer;
        final LinkedBlockingDeque<byte[]> queue;
        final ManagedChannel channel;
        final Thread thread;
        final Object readiness = new Object();
        final Object wakeLock = new Object();
        /** Set by {@link #wake}, consumed by the backoff sleep; guarded by {@code wakeLock}. */
        boolean woken;
        volatile boolean up;
        /** The last session ended with the peer refusing our hello; read and written by this link's thread only. */
        private boolean refused;

        Link(int peer) {
            this.peer = peer;
            this.queue = new LinkedBlockingDeque<>(limits.queueMax());
            this.channel = NettyChannelBuilder.forTarget(addresses.get(peer), credentials)
                    .withOption(io.grpc.netty.shaded.io.netty.channel.ChannelOption.CONNECT_TIMEOUT_MILLIS, CONNECT_TIMEOUT_MILLIS)
                    .withOption(io.grpc.netty.shaded.io.netty.channel.epoll.EpollChannelOption.TCP_USER_TIMEOUT,
                            UNACKNOWLEDGED_MAX_MILLIS)
                    .maxInboundMessageSize(limits.messageBytesMax() + 1024).build();
            this.thread = new Thread(this::run, "peer-out-" + peer);
            this.thread.setDaemon(true);
        }

        void enqueue(byte[] message) {
            while (!queue.offerLast(message)) {
                if (queue.pollFirst() != null) {
                    metrics.dropped("peer-out-" + peer);
                }
            }
        }

        void run() {
            long backoff = BACKOFF_MIN_MILLIS;
            while (!closed) {
                try {
                    // This loop paces the attempts; gRPC's own connect backoff (growing to
                    // minutes) would otherwise fail them, and the catch-up's fetches on the same
                    // channel, without trying.
                    channel.resetConnectBackoff();
                    if (session()) {
                        backoff = BACKOFF_MIN_MILLIS;
                    }
                } catch (InterruptedException e) {
                    return;
                } catch (RuntimeException e) {
                    log.debug("link to replica {} failed: {}", peer, e.toString());
                }
                up = false;
                if (closed) {
                    return;
                }
                try {
                    if (sleepUnlessWoken(backoff + random.nextInt((int) Math.max(1, backoff / 4)))) {
                        backoff = BACKOFF_MIN_MILLIS;
                        continue;
                    }
                } catch (InterruptedException e) {
                    return;
                }
                backoff = Math.min(refused ? REFUSED_BACKOFF_MAX_MILLIS : BACKOFF_MAX_MILLIS, backoff * 2);
            }
        }

        /** Sleeps up to {@code millis}; true when {@link #wake} cut it short. */
        private boolean sleepUnlessWoken(long millis) throws InterruptedException {
            long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(millis);
            synchronized (wakeLock) {
                long left;
                while (!woken && (left = deadline - System.nanoTime()) > 0) {
                    TimeUnit.NANOSECONDS.timedWait(wakeLock, left);
                }
                boolean was = woken;
                woken = false;
                return was;
            }
        }

        /**
         * Reconnect now: the peer was heard from. Also clears the channel's own connect backoff
         * (gRPC's grows to minutes), which otherwise fails our next attempts fast without trying.
         */
        void wake() {
            channel.resetConnectBackoff();
            synchronized (wakeLock) {
                woken = true;
                wakeLock.notifyAll();
            }
        }

        /**
         * One stream's life: handshake, then send until it breaks. True when the stream lived
         * long enough to count as established, so a peer that refuses us at once (wrong genesis,
         * wrong key) is retried with growing backoff rather than at the minimum.
         */
        boolean session() throws InterruptedException {
            long startNanos = System.nanoTime();
            refused = false;
            LinkedBlockingDeque<PeerFrame> fromPeer = new LinkedBlockingDeque<>(4);
            Status[] ended = new Status[1];
            java.util.concurrent.atomic.AtomicReference<ClientCallStreamObserver<PeerFrame>> requestHolder =
                    new java.util.concurrent.atomic.AtomicReference<>();
            ClientResponseObserver<PeerFrame, PeerFrame> responses = new ClientResponseObserver<PeerFrame, PeerFrame>() {
                @Override
                public void beforeStart(ClientCallStreamObserver<PeerFrame> requestStream) {
                    requestHolder.set(requestStream);
                    requestStream.setOnReadyHandler(() -> {
                        synchronized (readiness) {
                            readiness.notifyAll();
                        }
                    });
                }

                @Override
                public void onNext(PeerFrame frame) {
                    fromPeer.offer(frame);
                }

                @Override
                public void onError(Throwable t) {
                    end(Status.fromThrowable(t));
                }

                @Override
                public void onCompleted() {
                    end(Status.OK);
                }

                void end(Status status) {
                    synchronized (readiness) {
                        ended[0] = status;
                        readiness.notifyAll();
                    }
                    fromPeer.offer(PeerFrame.getDefaultInstance());
                }
            };
            StreamObserver<PeerFrame> out = PeerTransportGrpc.newStub(channel).connect(responses);
            ClientCallStreamObserver<PeerFrame> call = requestHolder.get();
            try {
                PeerFrame first = fromPeer.poll(HANDSHAKE_TIMEOUT_MILLIS, TimeUnit.MILLISECONDS);
                if (first == null || !first.hasChallenge() || first.getChallenge().getReplica() != peer) {
                    call.cancel("no valid challenge from replica " + peer, null);
                    return false;
                }
                byte[] body = helloBody(peer, first.getChallenge().getNonce());
                out.onNext(PeerFrame.newBuilder().setHello(Hello.newBuilder().setBody(ByteString.copyFrom(body))
                        .setSignature(ByteString.copyFrom(key.sign(Domain.PEER_HELLO, body)))).build());
                up = true;
                log.info("connected to replica {} at {}", peer, addresses.get(peer));
                while (!closed) {
                    byte[] message = queue.pollFirst(500, TimeUnit.MILLISECONDS);
                    synchronized (readiness) {
                        // Wait for gRPC's flow control rather than buffering without bound inside it.
                        while (ended[0] == null && !call.isReady() && !closed) {
                            readiness.wait(200);
                        }
                        if (ended[0] != null) {
                            if (message != null) {
                                queue.offerFirst(message);
                            }
                            refused = ended[0].getCode() == Status.Code.PERMISSION_DENIED;
                            log.info("stream to replica {} ended: {}", peer, ended[0]);
                            return System.nanoTime() - startNanos > TimeUnit.MILLISECONDS.toNanos(ESTABLISHED_MILLIS);
                        }
                    }
                    if (message != null) {
                        out.onNext(PeerFrame.newBuilder().setConsensus(ByteString.copyFrom(message)).build());
                    }
                }
                out.onCompleted();
                return true;
            } finally {
                up = false;
                if (ended[0] == null) {
                    call.cancel("link closed", null);
                }
            }
        }

        void close() {
            thread.interrupt();
            channel.shutdownNow();
        }
    }

    /** The receiving side of one peer's stream: handshake first, then consensus frames. */
    private final class InboundStream implements StreamObserver<PeerFrame> {
        private final StreamObserver<PeerFrame> responses;
        private final byte[] nonce;
        private int from = -1;
        private boolean done;

        InboundStream(StreamObserver<PeerFrame> responses, byte[] nonce) {
            this.responses = responses;
            this.nonce = nonce;
        }

        @Override
        public synchronized void onNext(PeerFrame frame) {
            if (done) {
                return;
            }
            if (from == -1) {
                String refusal = authenticate(frame, nonce);
                if (refusal != null) {
                    metrics.rejected("peer-hello");
                    log.warn("refused a peer stream: {}", refusal);
                    done = true;
                    responses.onError(Status.PERMISSION_DENIED.withDescription(refusal).asRuntimeException());
                    return;
                }
                from = helloFrom(frame);
                inboundStreams.computeIfAbsent(from, p -> new AtomicInteger()).incrementAndGet();
                Link back = links.get(from);
                if (back != null && !back.up) {
                    // The peer just proved it is up (a restart, a healed partition): our link to it
                    // may be sleeping off a backoff grown while it was away. Without this a
                    // restarted replica hears nobody for up to the backoff maximum, and cannot
                    // vote or learn the current view meanwhile.
                    back.wake();
                }
                return;
            }
            if (from < 0) {
                return;
            }
            if (!frame.hasConsensus()) {
                metrics.rejected("peer-frame-kind");
                return;
            }
            if (frame.getConsensus().size() > limits.messageBytesMax()) {
                metrics.rejected("too-large");
                return;
            }
            inbound.onMessage(from, frame.getConsensus().toByteArray());
        }

        @Override
        public synchronized void onError(Throwable t) {
            closed();
        }

        @Override
        public synchronized void onCompleted() {
            closed();
            if (!done) {
                done = true;
                responses.onCompleted();
            }
        }

        synchronized void closed() {
            if (from >= 0) {
                inboundStreams.get(from).decrementAndGet();
                from = -2;
            }
            done = true;
        }
    }

    private final class Service extends PeerTransportGrpc.PeerTransportImplBase {
        @Override
        public StreamObserver<PeerFrame> connect(StreamObserver<PeerFrame> responses) {
            byte[] nonce = new byte[32];
            random.nextBytes(nonce);
            responses.onNext(PeerFrame.newBuilder().setChallenge(Challenge.newBuilder()
                    .setNonce(ByteString.copyFrom(nonce)).setReplica(self)).build());
            InboundStream stream = new InboundStream(responses, nonce);
            ((ServerCallStreamObserver<PeerFrame>) responses).setOnCancelHandler(stream::closed);
            return stream;
        }

        @Override
        public void fetchBlocks(FetchBlocksRequest request, StreamObserver<Block> responses) {
            long from = Math.max(1, request.getFromHeight());
            long prunedBelow = blocks.prunedBelow();
            if (from < prunedBelow && !request.getPrunedFormOk()) {
                responses.onError(io.grpc.Status.OUT_OF_RANGE.withDescription("replica " + self + " keeps whole blocks from height "
                        + prunedBelow + "; the blocks below were pruned").asRuntimeException());
                return;
            }
            int max = Math.min(FETCH_BLOCKS_MAX, request.getMaxBlocks() == 0 ? FETCH_BLOCKS_MAX : request.getMaxBlocks());
            long top = blocks.height();
            for (long h = from; h <= top && h < from + max; h++) {
                Optional<Block> block;
                try {
                    block = h < prunedBelow ? blocks.stored(h) : blocks.block(h);
                } catch (bftledger.ledger.StoreCorruptedException damaged) {
                    break; // A damaged block is never served: the peer asks another replica for the rest.
                }
                if (block.isEmpty()) {
                    break;
                }
                // Below prunedBelow the stored block is in its pruned form already.
                boolean strip = request.getPrunedFormWanted() && h >= prunedBelow;
                responses.onNext(strip ? bftledger.ledger.BlockStore.prunedForm(block.get()) : block.get());
            }
            responses.onCompleted();
        }

        @Override
        public void listStateSnapshots(ListStateSnapshotsRequest request, StreamObserver<ListStateSnapshotsResponse> responses) {
            responses.onNext(ListStateSnapshotsResponse.newBuilder().addAllHeights(blocks.snapshotHeights())
                    .setValidatorSets(blocks.validatorSets()).build());
            responses.onCompleted();
        }

        @Override
        public void getHeaderProof(GetHeaderProofRequest request, StreamObserver<HeaderProof> responses) {
            Optional<HeaderProof> proof;
            try {
                proof = blocks.headerProof(request.getHeight());
            } catch (RuntimeException e) {
                responses.onError(Status.UNAVAILABLE.withDescription("cannot prove header " + request.getHeight() + ": "
                        + e.getMessage()).asRuntimeException());
                return;
            }
            if (proof.isEmpty()) {
                responses.onError(Status.NOT_FOUND.withDescription("replica " + self + " has no certified header proof for height "
                        + request.getHeight() + " yet").asRuntimeException());
                return;
            }
            responses.onNext(proof.get());
            responses.onCompleted();
        }

        @Override
        public void getStateManifest(GetStateManifestRequest request, StreamObserver<StateSnapshotManifest> responses) {
            Optional<StateSnapshotManifest> manifest = blocks.snapshotManifest(request.getHeight());
            if (manifest.isEmpty()) {
                responses.onError(Status.NOT_FOUND.withDescription("replica " + self + " keeps no state snapshot at height "
                        + request.getHeight()).asRuntimeException());
                return;
            }
            responses.onNext(manifest.get());
            responses.onCompleted();
        }

        @Override
        public void fetchStateChunk(FetchStateChunkRequest request, StreamObserver<StateChunk> responses) {
            Optional<bftledger.ledger.StateSnapshots.Chunk> chunk;
            try {
                chunk = blocks.snapshotChunk(request.getHeight(), request.getBucket(), request.getOffset(), STATE_CHUNK_BYTES_MAX);
            } catch (IllegalArgumentException e) {
                responses.onError(Status.INVALID_ARGUMENT.withDescription(e.getMessage()).asRuntimeException());
                return;
            } catch (java.io.IOException | RuntimeException e) {
                // A snapshot deleted while read, or a damaged file: the caller asks another replica.
                log.warn("event=state-chunk-unserved height={} bucket={} error=\"{}\"", request.getHeight(), request.getBucket(),
                        e.toString());
                responses.onError(Status.UNAVAILABLE.withDescription("cannot read the snapshot: " + e.getMessage()).asRuntimeException());
                return;
            }
            if (chunk.isEmpty()) {
                responses.onError(Status.NOT_FOUND.withDescription("replica " + self + " keeps no state snapshot at height "
                        + request.getHeight()).asRuntimeException());
                return;
            }
            responses.onNext(StateChunk.newBuilder().addAllEntries(chunk.get().entries())
                    .setNextOffset(chunk.get().nextOffset()).setLast(chunk.get().last()).build());
            responses.onCompleted();
        }
    }

    /** Why a Hello is refused, or null when it authenticates a validator other than this one. */
    String authenticate(PeerFrame frame, byte[] nonce) {
        if (!frame.hasHello()) {
            return "first frame is not a hello";
        }
        HelloBody body;
        try {
            body = HelloBody.parseFrom(frame.getHello().getBody());
        } catch (InvalidProtocolBufferException e) {
            return "hello body does not parse";
        }
        if (!Arrays.equals(body.getGenesisHash().toByteArray(), genesisHash.bytes())) {
            return "peer runs another genesis";
        }
        if (body.getTo() != self) {
            return "hello addressed to replica " + body.getTo();
        }
        if (body.getFrom() >= validators.size() || body.getFrom() == self) {
            return "hello from non-member " + body.getFrom();
        }
        if (!Arrays.equals(body.getNonce().toByteArray(), nonce)) {
            return "hello answers another challenge";
        }
        if (!validators.get(body.getFrom()).verify(Domain.PEER_HELLO, frame.getHello().getBody().toByteArray(),
                frame.getHello().getSignature().toByteArray())) {
            return "hello signature does not verify under replica " + body.getFrom() + "'s key";
        }
        return null;
    }

    private static int helloFrom(PeerFrame frame) {
        try {
            return HelloBody.parseFrom(frame.getHello().getBody()).getFrom();
        } catch (InvalidProtocolBufferException e) {
            throw new IllegalStateException("hello parsed once already", e);
        }
    }

    @Override
    public void close() {
        closed = true;
        for (Link link : links) {
            if (link != null) {
                link.close();
            }
        }
    }
}
