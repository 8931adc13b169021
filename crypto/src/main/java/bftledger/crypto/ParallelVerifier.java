package bftledger.crypto;

import java.util.List;
import java.util.RandomAccess;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

/**
 * Verifies signatures on a fixed pool of threads with a bounded work queue, so that the ceiling
 * of the system (Ed25519 verification, about 8k/s per core) is spread over all cores.
 *
 * <p><b>When the queue is full, the caller runs the work itself.</b> That is the back-pressure:
 * a thread that submits faster than the pool verifies is slowed to verification speed, memory
 * stays bounded, and no check is ever dropped or blocked waiting for a slot (which would idle a
 * thread that could be verifying). A caller that must never run crypto itself (an I/O event loop)
 * should size the queue for its bursts and watch {@link #callerRuns()}.
 *
 * <p>{@link #verifyAll} splits a list into at most {@link #CHUNKS_PER_THREAD} chunks per thread
 * (so 10,000 checks are a handful of tasks, not 10,000), each verified as one
 * {@link SignatureBatch}, and the calling thread verifies chunks alongside the pool while it waits.
 *
 * <p>After {@link #close()}, new work is refused with {@link IllegalStateException}; work already
 * accepted still completes, so no returned future is left hanging.
 */
public final class ParallelVerifier implements AutoCloseable {
    /** Chunks per pool thread in one verifyAll: enough to even out uneven chunks, few enough to be cheap. */
    static final int CHUNKS_PER_THREAD = 4;
    /** Below this many checks per chunk, handing work to another thread costs more than it saves. */
    static final int MIN_CHUNK = 16;
    private static final long CLOSE_WAIT_SECONDS = 30;

    private final int threads;
    private final ThreadPoolExecutor pool;
    private final AtomicLong callerRuns = new AtomicLong();
    private volatile boolean closed;

    /**
     * @param threads pool threads (at least 1); the caller of {@link #verifyAll} works alongside them
     * @param queueCapacity tasks that may wait for a thread (at least 1)
     */
    public ParallelVerifier(int threads, int queueCapacity) {
        if (threads < 1 || queueCapacity < 1) {
            throw new IllegalArgumentException("need at least one thread and a queue of at least one, got "
                    + threads + " and " + queueCapacity);
        }
        this.threads = threads;
        this.pool = new ThreadPoolExecutor(threads, threads, 0, TimeUnit.MILLISECONDS,
                new ArrayBlockingQueue<>(queueCapacity), new DaemonThreads(), new ThreadPoolExecutor.AbortPolicy());
    }

    /** A pool with one thread per available processor and a queue of 1024 tasks. */
    public static ParallelVerifier withAvailableProcessors() {
        return new ParallelVerifier(Runtime.getRuntime().availableProcessors(), 1024);
    }

    /**
     * Verifies every check and returns the verdicts in the same order.
     *
     * @throws IllegalStateException after {@link #close()}
     */
    public boolean[] verifyAll(List<SignatureCheck> checks) {
        ensureOpen();
        if (!(checks instanceof RandomAccess)) {
            checks = List.copyOf(checks); // chunks index into the list
        }
        int count = checks.size();
        boolean[] verdicts = new boolean[count];
        if (count == 0) {
            return verdicts;
        }
        int chunkSize = Math.max(MIN_CHUNK, ceilDiv(count, threads * CHUNKS_PER_THREAD));
        int chunkCount = ceilDiv(count, chunkSize);
        Batch batch = new Batch(checks, verdicts, chunkSize, chunkCount);
        // One helper per thread at most: each helper keeps claiming chunks until none are left.
        int helpers = Math.min(threads, chunkCount - 1);
        for (int i = 0; i < helpers; i++) {
            if (!tryExecute(batch::work)) {
                break; // queue full (or closing): the caller takes the remaining chunks itself
            }
        }
        batch.work();
        batch.awaitClaimedChunks();
        return verdicts;
    }

    /**
     * Verifies one check on the pool. If the queue is full the check runs on the calling thread
     * and the returned future is already complete.
     *
     * @throws IllegalStateException after {@link #close()}
     */
    public CompletableFuture<Boolean> submit(SignatureCheck check) {
        ensureOpen();
        CompletableFuture<Boolean> verdict = new CompletableFuture<>();
        Runnable task = () -> {
            try {
                verdict.complete(check.verify());
            } catch (Throwable t) {
                verdict.completeExceptionally(t);
            }
        };
        if (!tryExecute(task)) {
            ensureOpen();
            callerRuns.incrementAndGet();
            task.run();
        }
        return verdict;
    }

    /** Tasks waiting for a thread now; for metrics. */
    public int queueDepth() {
        return pool.getQueue().size();
    }

    /** How many submitted checks ran on the caller's thread because the queue was full; for metrics. */
    public long callerRuns() {
        return callerRuns.get();
    }

    public int threads() {
        return threads;
    }

    /** Refuses new work, lets accepted work finish (bounded by the queue), and stops the threads. */
    @Override
    public void close() {
        closed = true;
        pool.shutdown();
        try {
            if (!pool.awaitTermination(CLOSE_WAIT_SECONDS, TimeUnit.SECONDS)) {
                pool.shutdownNow();
            }
        } catch (InterruptedException e) {
            pool.shutdownNow();
            Thread.currentThread().interrupt();
        }
    }

    /** Tasks ever handed to the pool; lets tests see that a big batch is a few tasks. */
    long pooledTaskCount() {
        return pool.getTaskCount();
    }

    /** Hands {@code task} to the pool; false when the queue is full or the pool is shut down. */
    boolean tryExecute(Runnable task) {
        try {
            pool.execute(task);
            return true;
        } catch (RejectedExecutionException e) {
            return false;
        }
    }

    private void ensureOpen() {
        if (closed || pool.isShutdown()) {
            throw new IllegalStateException("the signature verifier is closed");
        }
    }

    private static int ceilDiv(int a, int b) {
        return (a + b - 1) / b;
    }

    /** One verifyAll call: chunks claimed by whoever is free, counted down as they finish. */
    private static final class Batch {
        private final List<SignatureCheck> checks;
        private final boolean[] verdicts;
        private final int chunkSize;
        private final int chunkCount;
        private final AtomicInteger nextChunk = new AtomicInteger();
        private final CountDownLatch chunksDone;
        private final AtomicReference<Throwable> failure = new AtomicReference<>();

        Batch(List<SignatureCheck> checks, boolean[] verdicts, int chunkSize, int chunkCount) {
            this.checks = checks;
            this.verdicts = verdicts;
            this.chunkSize = chunkSize;
            this.chunkCount = chunkCount;
            this.chunksDone = new CountDownLatch(chunkCount);
        }

        void work() {
            for (int chunk = nextChunk.getAndIncrement(); chunk < chunkCount; chunk = nextChunk.getAndIncrement()) {
                try {
                    int start = chunk * chunkSize;
                    int end = Math.min(checks.size(), start + chunkSize);
                    boolean[] chunkVerdicts = SignatureBatch.verify(checks.subList(start, end));
                    System.arraycopy(chunkVerdicts, 0, verdicts, start, chunkVerdicts.length);
                } catch (Throwable t) {
                    failure.compareAndSet(null, t);
                } finally {
                    // The latch also publishes this chunk's verdicts to the waiting caller.
                    chunksDone.countDown();
                }
            }
        }

        /**
         * Waits for chunks that pool threads claimed and are still verifying. Every chunk is
         * claimed by the time the caller gets here, and a claimed chunk is being worked on, so
         * the wait is short; an interrupt is remembered rather than abandoning the verdicts.
         */
        void awaitClaimedChunks() {
            boolean interrupted = false;
            while (true) {
                try {
                    chunksDone.await();
                    break;
                } catch (InterruptedException e) {
                    interrupted = true;
                }
            }
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
            Throwable t = failure.get();
            if (t != null) {
                // verify() does not throw on bad input, so this is a bug: surface it, do not guess a verdict.
                throw new IllegalStateException("signature verification failed unexpectedly", t);
            }
        }
    }

    private static final class DaemonThreads implements ThreadFactory {
        private final AtomicInteger next = new AtomicInteger();

        @Override
        public Thread newThread(Runnable task) {
            // Daemon: a verifier someone forgot to close must not keep the JVM alive.
            Thread thread = new Thread(task, "bftledger-verify-" + next.incrementAndGet());
            thread.setDaemon(true);
            return thread;
        }
    }
}
