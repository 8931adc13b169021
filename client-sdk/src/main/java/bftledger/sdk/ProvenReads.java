package bftledger.sdk;

import com.google.common.util.concurrent.ListenableFuture;
import io.grpc.Status;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The one read loop of the client: ask a replica, verify its answer against genesis, take the
 * first that verifies; a replica whose answer does not verify is named and counted
 * ({@link Replicas#rejected}) and the next is asked. Replicas are tried one at a time starting at
 * a rotating position, round after round (each round after the first needs the retry budget)
 * until the deadline. With {@link ReadOptions#freshest()} every replica is asked and the highest
 * proven height among f+1 verified answers is taken.
 */
final class ProvenReads {
    /** What checking one answer gave. */
    sealed interface Answer<T> permits Verified, Absent, Behind, Pruned, Invalid {}

    record Verified<T>(Proven<T> proven) implements Answer<T> {}

    /** The replica says it holds nothing (unproven: taken only when f+1 say so). */
    record Absent<T>() implements Answer<T> {}

    /** The replica's proven state is below the asked height. */
    record Behind<T>(long height) implements Answer<T> {}

    /** The replica pruned the block the answer is in; it keeps whole blocks from {@code prunedBelow} (unproven: only a hint). */
    record Pruned<T>(long prunedBelow) implements Answer<T> {}

    record Invalid<T>(String reason) implements Answer<T> {}

    interface Check<R, T> {
        Answer<T> check(int replica, R response);
    }

    private static final String REJECTED = "rejected: ";
    private static final String PRUNED = "pruned: ";

    private final Replicas replicas;
    private final AtomicInteger next = new AtomicInteger();

    ProvenReads(Replicas replicas) {
        this.replicas = replicas;
    }

    /**
     * A verified answer, or empty when f+1 replicas (or the one asked) say they hold nothing.
     *
     * @throws LedgerClientException when no answer verified before the deadline
     */
    <R, T> Optional<Proven<T>> read(String what, ReadOptions options, long deadlineNanos, Replicas.Call<R> call,
            Check<R, T> check) throws LedgerClientException {
        Map<Integer, String> seen = new TreeMap<>();
        int round = 0;
        do {
            if (round > 0 && !replicas.budget.tryRetry()) {
                seen.put(-1, "retry budget exhausted");
                break;
            }
            if (round == 0) {
                replicas.budget.onCall();
            }
            Optional<Optional<Proven<T>>> done = options.freshest()
                    ? freshest(options, deadlineNanos, call, check, seen)
                    : oneByOne(options, deadlineNanos, call, check, seen);
            if (done.isPresent()) {
                return done.get();
            }
            if (asked(options).stream().allMatch(r -> seen.getOrDefault(r, "").startsWith(REJECTED)
                    || seen.getOrDefault(r, "").startsWith(PRUNED))) {
                break; // every replica asked answered with what does not verify, or has pruned it: asking again will not help
            }
            round++;
        } while (replicas.pause(deadlineNanos, round));
        throw new LedgerClientException(LedgerClientException.Kind.NO_AGREEMENT, what + ": no answer verified against"
                + " the genesis before the deadline" + (options.minHeight() > 0 ? " at height " + options.minHeight()
                + " or later" : "") + ". Seen: " + seen);
    }

    /** The replicas a read may ask. */
    private List<Integer> asked(ReadOptions options) {
        return options.replica() != ReadOptions.ANY ? List.of(options.replica())
                : java.util.stream.IntStream.range(0, replicas.n()).boxed().toList();
    }

    private List<Integer> order(ReadOptions options) {
        if (options.replica() != ReadOptions.ANY) {
            return List.of(options.replica());
        }
        int n = replicas.n();
        int start = Math.floorMod(next.getAndIncrement(), n);
        List<Integer> order = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            order.add((start + i) % n);
        }
        return order;
    }

    private <R, T> Optional<Optional<Proven<T>>> oneByOne(ReadOptions options, long deadlineNanos, Replicas.Call<R> call,
            Check<R, T> check, Map<Integer, String> seen) {
        int absent = 0;
        for (int r : order(options)) {
            Optional<R> response = ask(r, deadlineNanos, call, seen);
            if (response.isEmpty()) {
                continue;
            }
            Answer<T> answer = check.check(r, response.get());
            if (answer instanceof Verified<T> v) {
                return Optional.of(Optional.of(v.proven()));
            }
            if (answer instanceof Absent<T>) {
                seen.put(r, "not found");
                if (++absent >= (options.replica() == ReadOptions.ANY ? replicas.network.weakQuorum() : 1)) {
                    return Optional.of(Optional.empty());
                }
            } else {
                note(r, answer, seen);
            }
        }
        return Optional.empty();
    }

    private <R, T> Optional<Optional<Proven<T>>> freshest(ReadOptions options, long deadlineNanos, Replicas.Call<R> call,
            Check<R, T> check, Map<Integer, String> seen) {
        List<Integer> order = order(options);
        List<Optional<ListenableFuture<R>>> calls = new ArrayList<>();
        for (int r : order) {
            calls.add(replicas.through(r, call));
        }
        Proven<T> best = null;
        int verified = 0;
        int absent = 0;
        for (int i = 0; i < order.size(); i++) {
            int r = order.get(i);
            Optional<R> response = collect(r, calls.get(i), deadlineNanos, seen);
            if (response.isEmpty()) {
                continue;
            }
            Answer<T> answer = check.check(r, response.get());
            if (answer instanceof Verified<T> v) {
                verified++;
                if (best == null || v.proven().height() > best.height()) {
                    best = v.proven();
                }
            } else if (answer instanceof Absent<T>) {
                absent++;
                seen.put(r, "not found");
            } else {
                note(r, answer, seen);
            }
        }
        int needed = Math.min(order.size(), replicas.network.weakQuorum());
        if (verified >= needed) {
            return Optional.of(Optional.of(best));
        }
        if (absent >= needed) {
            return Optional.of(Optional.empty());
        }
        return Optional.empty();
    }

    private void note(int replica, Answer<?> answer, Map<Integer, String> seen) {
        if (answer instanceof Invalid<?> invalid) {
            replicas.rejected(replica, invalid.reason());
            seen.put(replica, REJECTED + invalid.reason());
        } else if (answer instanceof Behind<?> behind) {
            seen.put(replica, "behind (proven height " + behind.height() + ")");
        } else if (answer instanceof Pruned<?> pruned) {
            seen.put(replica, PRUNED + "keeps whole blocks from height " + pruned.prunedBelow());
        }
    }

    private <R> Optional<R> ask(int replica, long deadlineNanos, Replicas.Call<R> call, Map<Integer, String> seen) {
        return collect(replica, replicas.through(replica, call), deadlineNanos, seen);
    }

    private <R> Optional<R> collect(int replica, Optional<ListenableFuture<R>> started, long deadlineNanos,
            Map<Integer, String> seen) {
        if (started.isEmpty()) {
            seen.put(replica, "skipped: circuit breaker " + replicas.breakers.get(replica).state());
            return Optional.empty();
        }
        try {
            return Optional.of(started.get().get(Math.max(1, deadlineNanos - System.nanoTime()), TimeUnit.NANOSECONDS));
        } catch (ExecutionException e) {
            seen.put(replica, "unreachable (" + Status.fromThrowable(e.getCause()).getCode() + ")");
        } catch (TimeoutException e) {
            started.get().cancel(true);
            seen.put(replica, "no answer in time");
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            seen.put(replica, "interrupted");
        }
        return Optional.empty();
    }
}
