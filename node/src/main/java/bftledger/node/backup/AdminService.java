package bftledger.node.backup;

import bftledger.ledger.BlockStore;
import bftledger.node.config.ConfigException;
import bftledger.node.proto.BackupReply;
import bftledger.node.proto.BackupRequest;
import bftledger.node.proto.NodeAdminGrpc;
import bftledger.node.replica.EvidenceStore;
import io.grpc.Context;
import io.grpc.Contexts;
import io.grpc.Grpc;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.ServerInterceptors;
import io.grpc.ServerServiceDefinition;
import io.grpc.Status;
import io.grpc.stub.StreamObserver;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.nio.file.Path;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The node's operator calls (admin.proto): a hot backup. Only a caller holding the node's
 * {@link AdminToken} is served; on a plaintext network only from loopback too, since the token
 * would cross the network in the clear. One backup runs at a time, on its own thread, so it
 * holds no gRPC thread and the node keeps ordering, executing and serving meanwhile; a second
 * request while one runs is refused at once. {@link #close()} waits for a running backup, so the
 * stores are never closed under a copy.
 */
public final class AdminService extends NodeAdminGrpc.NodeAdminImplBase implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(AdminService.class);
    /** How long closing the node waits for a running backup to finish before closing the stores anyway. */
    static final long CLOSE_WAIT_SECONDS = 120;
    private static final Context.Key<SocketAddress> REMOTE = Context.key("remote-address");

    private final AdminToken token;
    private final boolean loopbackOnly;
    private final BlockStore store;
    private final EvidenceStore evidence;
    private final NodeBackup.Source source;
    private final AtomicBoolean running = new AtomicBoolean();
    private final ExecutorService worker = Executors.newSingleThreadExecutor(r -> {
        Thread t = new Thread(r, "backup");
        t.setDaemon(true);
        return t;
    });

    public AdminService(AdminToken token, boolean loopbackOnly, BlockStore store, EvidenceStore evidence,
            NodeBackup.Source source) {
        this.token = token;
        this.loopbackOnly = loopbackOnly;
        this.store = store;
        this.evidence = evidence;
        this.source = source;
    }

    /** The service with the caller's address made visible to it. */
    public ServerServiceDefinition definition() {
        return ServerInterceptors.intercept(this, new ServerInterceptor() {
            @Override
            public <Q, A> ServerCall.Listener<Q> interceptCall(ServerCall<Q, A> call, Metadata headers,
                    ServerCallHandler<Q, A> next) {
                Context ctx = Context.current().withValue(REMOTE, call.getAttributes().get(Grpc.TRANSPORT_ATTR_REMOTE_ADDR));
                return Contexts.interceptCall(ctx, call, headers, next);
            }
        });
    }

    @Override
    public void backup(BackupRequest request, StreamObserver<BackupReply> reply) {
        SocketAddress from = REMOTE.get();
        if (!token.matches(request.getToken())) {
            log.warn("event=admin-refused call=backup from={} reason=wrong-token", from);
            reply.onError(Status.PERMISSION_DENIED.withDescription("wrong admin token: read it from the node's "
                    + AdminToken.FILE + " in its data directory").asRuntimeException());
            return;
        }
        if (loopbackOnly && !(from instanceof InetSocketAddress a && a.getAddress() != null && a.getAddress().isLoopbackAddress())) {
            log.warn("event=admin-refused call=backup from={} reason=not-loopback", from);
            reply.onError(Status.PERMISSION_DENIED.withDescription("this node runs without TLS: admin calls are accepted"
                    + " from loopback only; run the command on the node's host").asRuntimeException());
            return;
        }
        Path target = Path.of(request.getTargetDir());
        if (!target.isAbsolute()) {
            reply.onError(Status.INVALID_ARGUMENT.withDescription("the backup directory must be an absolute path on the"
                    + " node's filesystem: " + request.getTargetDir()).asRuntimeException());
            return;
        }
        if (!running.compareAndSet(false, true)) {
            reply.onError(Status.RESOURCE_EXHAUSTED.withDescription("a backup is already running on this node; wait for it")
                    .asRuntimeException());
            return;
        }
        try {
            worker.execute(() -> run(target, reply));
        } catch (java.util.concurrent.RejectedExecutionException e) {
            running.set(false);
            reply.onError(Status.UNAVAILABLE.withDescription("the node is stopping").asRuntimeException());
        }
    }

    private void run(Path target, StreamObserver<BackupReply> reply) {
        try {
            log.info("event=backup-started target={}", target);
            BackupManifest m = NodeBackup.write(store, evidence::copyTo, source, target);
            log.info("event=backup-written target={} height={} tip={} bytes={} copy-millis={}", target, m.height(),
                    m.lastBlockHash().substring(0, 16), m.files().stream().mapToLong(BackupManifest.FileEntry::bytes).sum(),
                    m.copyMillis());
            answer(reply, () -> {
                reply.onNext(BackupReply.newBuilder().setManifestJson(m.toJson()).build());
                reply.onCompleted();
            });
        } catch (ConfigException e) {
            log.warn("event=backup-refused target={} reason=\"{}\"", target, e.getMessage());
            answer(reply, () -> reply.onError(Status.FAILED_PRECONDITION.withDescription(e.getMessage()).asRuntimeException()));
        } catch (Exception e) {
            log.error("event=backup-failed target={} error=\"{}\"", target, e.toString());
            answer(reply, () -> reply.onError(Status.INTERNAL.withDescription("the backup failed and was removed: " + e)
                    .asRuntimeException()));
        } finally {
            running.set(false);
        }
    }

    /** Answers unless the caller went away meanwhile (its deadline passed): the backup stands either way. */
    private static void answer(StreamObserver<BackupReply> reply, Runnable send) {
        try {
            send.run();
        } catch (RuntimeException e) {
            log.info("event=backup-answer-undelivered error=\"{}\"", e.toString());
        }
    }

    @Override
    public void close() {
        worker.shutdown();
        try {
            if (!worker.awaitTermination(CLOSE_WAIT_SECONDS, TimeUnit.SECONDS)) {
                log.warn("event=backup-abandoned the node is stopping while a backup still runs");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
