package bftledger.node.replica;

import bftledger.api.proto.StreamBlocksRequest;
import bftledger.ledger.BlockStore;
import bftledger.ledger.proto.Block;
import io.grpc.Status;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;

/**
 * Committed blocks streamed to clients, first the stored ones, then each new one. At most
 * {@link #STREAMS_MAX} streams; a stream whose client does not keep up with flow control is not
 * buffered for: it is resumed from the store when the client is ready again.
 */
final class BlockStreams {
    static final int STREAMS_MAX = 64;

    private final int self;
    private final BlockStore store;
    private final ExecutorService pump;
    private final List<Subscriber> subscribers = new CopyOnWriteArrayList<>();

    BlockStreams(int self, BlockStore store, ExecutorService pump) {
        this.self = self;
        this.store = store;
        this.pump = pump;
    }

    /** One block stream: sends from the store while the client's flow control allows. */
    private final class Subscriber {
        final ServerCallStreamObserver<Block> out;
        long next;
        boolean closed;

        Subscriber(ServerCallStreamObserver<Block> out, long next) {
            this.out = out;
            this.next = next;
        }

        synchronized void pump() {
            if (closed) {
                return;
            }
            try {
                while (next <= store.height() && out.isReady() && !out.isCancelled()) {
                    Optional<Block> block = store.block(next);
                    if (block.isEmpty()) {
                        if (next < store.prunedBelow()) {
                            // Pruned while this stream lagged behind: it cannot go on without a gap.
                            out.onError(pruned(next).asRuntimeException());
                            close();
                        }
                        return;
                    }
                    out.onNext(block.get());
                    next++;
                }
            } catch (RuntimeException cancelled) {
                close();
            }
        }

        synchronized void close() {
            closed = true;
            subscribers.remove(this);
        }
    }

    private Status pruned(long height) {
        return Status.OUT_OF_RANGE.withDescription("block " + height + " was pruned: replica " + self
                + " keeps whole blocks from height " + store.prunedBelow());
    }

    void stream(StreamBlocksRequest request, StreamObserver<Block> out) {
        if (subscribers.size() >= STREAMS_MAX) {
            out.onError(Status.RESOURCE_EXHAUSTED.withDescription("replica " + self + " serves at most " + STREAMS_MAX
                    + " block streams").asRuntimeException());
            return;
        }
        long from = Math.max(1, request.getFromHeight());
        if (from < store.prunedBelow()) {
            out.onError(pruned(from).asRuntimeException());
            return;
        }
        ServerCallStreamObserver<Block> call = (ServerCallStreamObserver<Block>) out;
        Subscriber s = new Subscriber(call, from);
        call.setOnCancelHandler(s::close);
        call.setOnReadyHandler(() -> pump.execute(s::pump));
        subscribers.add(s);
        pump.execute(s::pump);
    }

    /** A block is durable: every stream sends what it can. */
    void onBlock() {
        for (Subscriber s : subscribers) {
            pump.execute(s::pump);
        }
    }
}
