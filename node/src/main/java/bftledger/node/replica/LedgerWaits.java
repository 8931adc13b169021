package bftledger.node.replica;

import bftledger.ledger.BlockStore;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Consumer;
import java.util.function.LongSupplier;

/**
 * Client calls waiting for the ledger: for a height to be stored (a read with a minimum height)
 * or to be certified (a proof that needs a later block's certificate). Each wait ends once, with
 * true when what it waited for happened ({@link #onBlock}) or false at its deadline. At most
 * {@link #WAITS_MAX} wait at once; beyond that a wait ends at once with false (the caller answers
 * with what it has). Thread-safe.
 */
final class LedgerWaits {
    static final int WAITS_MAX = 4_096;

    private final BlockStore store;
    private final ScheduledExecutorService timers;
    private final Map<Long, List<Wait>> forHeight = new TreeMap<>();
    private final Map<Long, List<Wait>> forCertified = new TreeMap<>();
    private int waiting;

    LedgerWaits(BlockStore store, ScheduledExecutorService timers) {
        this.store = store;
        this.timers = timers;
    }

    private final class Wait {
        final Consumer<Boolean> then;
        final Map<Long, List<Wait>> in;
        final long height;
        final AtomicBoolean done = new AtomicBoolean();
        ScheduledFuture<?> expiry;

        Wait(Consumer<Boolean> then, Map<Long, List<Wait>> in, long height) {
            this.then = then;
            this.in = in;
            this.height = height;
        }

        void end(boolean happened) {
            if (done.compareAndSet(false, true)) {
                if (expiry != null) {
                    expiry.cancel(false);
                }
                synchronized (LedgerWaits.this) {
                    waiting--;
                    List<Wait> list = in.get(height);
                    if (list != null && list.remove(this) && list.isEmpty()) {
                        in.remove(height);
                    }
                }
                then.accept(happened);
            }
        }
    }

    /** Runs {@code then} once block {@code height} is stored (true), or after {@code waitMillis} without it (false). */
    void whenStored(long height, long waitMillis, Consumer<Boolean> then) {
        await(forHeight, height, store::height, waitMillis, then);
    }

    /** Runs {@code then} once block {@code height} is certified (true), or after {@code waitMillis} without it (false). */
    void whenCertified(long height, long waitMillis, Consumer<Boolean> then) {
        await(forCertified, height, store::certifiedHeight, waitMillis, then);
    }

    private void await(Map<Long, List<Wait>> waits, long height, LongSupplier reached, long waitMillis, Consumer<Boolean> then) {
        if (reached.getAsLong() >= height) {
            then.accept(true);
            return;
        }
        if (waitMillis <= 0) {
            then.accept(false);
            return;
        }
        Wait w = new Wait(then, waits, height);
        synchronized (this) {
            if (waiting >= WAITS_MAX) {
                w = null;
            } else {
                waiting++;
                waits.computeIfAbsent(height, k -> new ArrayList<>()).add(w);
            }
        }
        if (w == null) {
            then.accept(false);
            return;
        }
        Wait registered = w;
        registered.expiry = timers.schedule(() -> registered.end(false), waitMillis, TimeUnit.MILLISECONDS);
        // A block may have come between the first look and the registration.
        if (reached.getAsLong() >= height) {
            release(waits, reached.getAsLong());
        }
    }

    /** A block is durable: end the waits it satisfies. */
    void onBlock() {
        release(forHeight, store.height());
        release(forCertified, store.certifiedHeight());
    }

    private void release(Map<Long, List<Wait>> waits, long reached) {
        List<Wait> due = new ArrayList<>();
        synchronized (this) {
            var head = ((TreeMap<Long, List<Wait>>) waits).headMap(reached, true);
            head.values().forEach(due::addAll);
            head.clear();
        }
        due.forEach(w -> w.end(true));
    }
}
