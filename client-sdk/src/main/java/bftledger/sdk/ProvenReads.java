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
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The one read loop of the client: ask a replica, verify its answer against genesis and the
 * validator sets followed, take the first that verifies; a replica whose answer does not verify
 * is named and counted ({@link Replicas#rejected}) and the next is asked. An answer that fails in
 * a way a validator set not held yet would explain is checked once more after the client caught
 * up with the sets ({@link ChainFollower#catchUp}). Replicas are tried one at a time starting at
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

    /** Checks {@code replica}'s answer with {@code proofs}, a verifier of the validator sets held now. */
    interface Check<R, T> {
        Answer<T> check(int replica, R response, ProofVerifier proofs);
    }

    private static final String REJECTED = "rejected: ";
    private static final String PRUNED = "pruned: ";

    private final Replicas replicas;
    private final ChainFollower follower;
    private final AtomicInteger next = new AtomicInteger();

    ProvenReads(Replicas replicas, ChainFollower follower) {
        this.replicas = replicas;
        this.follower = follower;
    }

    /**
     * A verified answer, or empty when f+1 replicas (or the one asked) say they hold nothing.
     *
     * @throws LedgerClientException when no answer verified before the deadline
     */
    <R, T> Optional<Proven<T>> read(String what, ReadOptions options, long deadlineNanos, Replicas.Call<R> call,
            Check<R, T> check) throws LedgerClientException {
        return read(what, options, deadlineNanos, Integer.MAX_VALUE, call, check);
    }

    /** As above, asking each replica in at most {@code roundsMax} rounds. */
    <R, T> Optional<Proven<T>> read(String what, ReadOptions options, long deadlineNanos, int roundsMax,
            Replicas.Call<R> call, Check<R, T> check) throws LedgerClientException {
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
            List<Replicas.Endpoint> endpoints = replicas.endpoints();
            List<Replicas.Endpoint> asked = asked(options, endpoints, seen);
            Optional<Optional<Proven<T>>> done = options.freshest()
                    ? freshest(options, asked, deadlineNanos, call, check, seen)
                    : oneByOne(options, asked, deadlineNanos, call, check, seen);
            if (done.isPresent()) {
                return done.get();
            }
            if (asked.stream().allMatch(e -> seen.getOrDefault(e.index(), "").startsWith(REJECTED)
                    || seen.getOrDefault(e.index(), "").startsWith(PRUNED))) {
                break; // every replica asked answered with what does not verify, or has pruned it: asking again will not help
            }
            round++;
        } while (round < roundsMax && replicas.pause(deadlineNanos, round));
        throw new LedgerClientException(LedgerClientException.Kind.NO_AGREEMENT, what + ": no answer verified against"
                + " the genesis before the deadline" + (options.minHeight() > 0 ? " at height " + options.minHeight()
                + " or later" : "") + ". Seen: " + seen);
    }

    /** The endpoints a read may ask, in the order it asks them. */
    private List<Replicas.Endpoint> asked(ReadOptions options, List<Replicas.Endpoint> endpoints, Map<Integer, String> seen) {
        if (options.replica() != ReadOptions.ANY) {
            if (options.replica() >= endpoints.size()) {
                seen.put(options.replica(), REJECTED + "no such replica among the " + endpoints.size() + " the client talks to");
                return List.of();
            }
            return List.of(endpoints.get(options.replica()));
        }
        int n = endpoints.size();
        int start = Math.floorMod(next.getAndIncrement(), n);
        List<Replicas.Endpoint> order = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            order.add(endpoints.get((start + i) % n));
        }
        return order;
    }

    /**
     * {@code check} under the sets held; when it fails in a way a later set would explain, once
     * more after catching up with the sets (never on the strength of a refresh that failed).
     */
    private <R, T> Answer<T> check(Replicas.Endpoint endpoint, R response, Check<R, T> check, long deadlineNanos) {
        Network held = follower.network();
        AtomicBoolean laterSet = new AtomicBoolean();
        Answer<T> answer = check.check(endpoint.index(), response, new ProofVerifier(held, () -> laterSet.set(true)));
        if (answer instanceof Invalid<T> && laterSet.get() && follower.catchUp(held.validators(), deadlineNanos)) {
            answer = check.check(endpoint.index(), response, new ProofVerifier(follower.network()));
        }
        if (answer instanceof Verified<T> v) {
            follower.noteHeight(v.proven().height());
        }
        return answer;
    }

    /** Answers needed to take absence, or the freshest of several: f+1 of the latest set, at most all asked. */
    private int weakQuorum(ReadOptions options, List<Replicas.Endpoint> asked) {
        return options.replica() == ReadOptions.ANY ? Math.min(asked.size(), follower.weakQuorum()) : 1;
    }

    private <R, T> Optional<Optional<Proven<T>>> oneByOne(ReadOptions options, List<Replicas.Endpoint> asked,
            long deadlineNanos, Replicas.Call<R> call, Check<R, T> check, Map<Integer, String> seen) {
        int absent = 0;
        for (Replicas.Endpoint e : asked) {
            Optional<R> response = collect(e, replicas.through(e, call), deadlineNanos, seen);
            if (response.isEmpty()) {
                continue;
            }
            Answer<T> answer = check(e, response.get(), check, deadlineNanos);
            if (answer instanceof Verified<T> v) {
                return Optional.of(Optional.of(v.proven()));
            }
            if (answer instanceof Absent<T>) {
                seen.put(e.index(), "not found");
                if (++absent >= weakQuorum(options, asked)) {
                    return Optional.of(Optional.empty());
                }
            } else {
                note(e, answer, seen);
            }
        }
        return Optional.empty();
    }

    private <R, T> Optional<Optional<Proven<T>>> freshest(ReadOptions options, List<Replicas.Endpoint> asked,
            long deadlineNanos, Replicas.Call<R> call, Check<R, T> check, Map<Integer, String> seen) {
        List<Optional<ListenableFuture<R>>> calls = new ArrayList<>();
        for (Replicas.Endpoint e : asked) {
            calls.add(replicas.through(e, call));
        }
        Proven<T> best = null;
        int verified = 0;
        int absent = 0;
        for (int i = 0; i < asked.size(); i++) {
            Replicas.Endpoint e = asked.get(i);
            Optional<R> response = collect(e, calls.get(i), deadlineNanos, seen);
            if (response.isEmpty()) {
                continue;
            }
            Answer<T> answer = check(e, response.get(), check, deadlineNanos);
            if (answer instanceof Verified<T> v) {
                verified++;
                if (best == null || v.proven().height() > best.height()) {
                    best = v.proven();
                }
            } else if (answer instanceof Absent<T>) {
                absent++;
                seen.put(e.index(), "not found");
            } else {
                note(e, answer, seen);
            }
        }
        int needed = weakQuorum(options, asked);
        if (verified >= needed && best != null) {
            return Optional.of(Optional.of(best));
        }
        if (absent >= needed && absent > 0) {
            return Optional.of(Optional.empty());
        }
        return Optional.empty();
    }

    private void note(Replicas.Endpoint endpoint, Answer<?> answer, Map<Integer, String> seen) {
        if (answer instanceof Invalid<?> invalid) {
            replicas.rejected(endpoint, invalid.reason());
            seen.put(endpoint.index(), REJECTED + invalid.reason());
        } else if (answer instanceof Behind<?> behind) {
            seen.put(endpoint.index(), "behind (proven height " + behind.height() + ")");
        } else if (answer instanceof Pruned<?> pruned) {
            seen.put(endpoint.index(), PRUNED + "keeps whole blocks from height " + pruned.prunedBelow());
        }
    }

    private <R> Optional<R> collect(Replicas.Endpoint endpoint, Optional<ListenableFuture<R>> started, long deadlineNanos,
            Map<Integer, String> seen) {
        if (started.isEmpty()) {
            seen.put(endpoint.index(), "skipped: circuit breaker " + endpoint.breaker().state());
            return Optional.empty();
        }
        try {
            return Optional.of(started.get().get(Math.max(1, deadlineNanos - System.nanoTime()), TimeUnit.NANOSECONDS));
        } catch (ExecutionException e) {
            seen.put(endpoint.index(), "unreachable (" + Status.fromThrowable(e.getCause()).getCode() + ")");
        } catch (TimeoutException e) {
            started.get().cancel(true);
            seen.put(endpoint.index(), "no answer in time");
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            seen.put(endpoint.index(), "interrupted");
        }
        return Optional.empty();
    }
}
