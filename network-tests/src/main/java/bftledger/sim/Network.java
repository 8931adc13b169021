package bftledger.sim;

import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.PriorityQueue;
import java.util.Set;
import java.util.SplittableRandom;

/**
 * A seeded, virtual-time network between numbered endpoints. Every packet gets a delay drawn
 * from [delayMin, delayMax] ticks (so packets overtake each other: reordering), may be dropped
 * or duplicated (each copy with its own delay), and is lost when a partition separates its
 * endpoints at send or at delivery time. Packets due at the same tick come out in send order,
 * so a run depends only on the seed. Endpoints not named in a partition (clients) reach
 * everyone. Not thread-safe: one simulation drives it.
 */
public final class Network<T> {
    public record Packet<T>(long due, long order, int from, int to, T payload) {}

    private final SplittableRandom random;
    private final PriorityQueue<Packet<T>> queue = new PriorityQueue<>(
            Comparator.<Packet<T>>comparingLong(Packet::due).thenComparingLong(Packet::order));
    private final Map<Integer, Integer> side = new HashMap<>();
    private final java.util.Set<Integer> isolated = new java.util.HashSet<>();
    private long order;
    private double dropProbability;
    private double duplicateProbability;
    private int delayMinTicks = 1;
    private int delayMaxTicks = 1;

    private long sent;
    private long dropped;
    private long duplicated;
    private long cut;

    public Network(SplittableRandom random) {
        this.random = random;
    }

    /** Random loss and duplication probabilities and the delay range (at least one tick). */
    public void setFaults(double dropProbability, double duplicateProbability, int delayMinTicks, int delayMaxTicks) {
        if (dropProbability < 0 || dropProbability >= 1 || duplicateProbability < 0 || duplicateProbability > 1
                || delayMinTicks < 1 || delayMaxTicks < delayMinTicks) {
            throw new IllegalArgumentException("bad network faults");
        }
        this.dropProbability = dropProbability;
        this.duplicateProbability = duplicateProbability;
        this.delayMinTicks = delayMinTicks;
        this.delayMaxTicks = delayMaxTicks;
    }

    /** Only endpoints in the same group can talk; replaces any earlier partition (isolations stay). */
    public void partition(Collection<? extends Set<Integer>> groups) {
        side.clear();
        int g = 0;
        for (Set<Integer> group : groups) {
            for (int endpoint : group) {
                side.put(endpoint, g);
            }
            g++;
        }
    }

    /** Cuts one endpoint off from every other (on top of any partition). */
    public void isolate(int endpoint) {
        isolated.add(endpoint);
    }

    /** Ends the isolation of one endpoint (any partition stays). */
    public void rejoin(int endpoint) {
        isolated.remove(endpoint);
    }

    /** Removes every partition and isolation; loss, duplication and delay stay as set. */
    public void heal() {
        side.clear();
        isolated.clear();
    }

    public boolean connected(int a, int b) {
        if (isolated.contains(a) || isolated.contains(b)) {
            return false;
        }
        Integer sa = side.get(a);
        Integer sb = side.get(b);
        return sa == null || sb == null || sa.equals(sb);
    }

    /** Puts a packet on the wire at tick {@code now}, held back {@code extraDelayTicks} more by the sender. */
    public void send(int from, int to, T payload, long now, int extraDelayTicks) {
        sent++;
        if (!connected(from, to)) {
            cut++;
            return;
        }
        if (dropProbability > 0 && random.nextDouble() < dropProbability) {
            dropped++;
            return;
        }
        int copies = duplicateProbability > 0 && random.nextDouble() < duplicateProbability ? 2 : 1;
        duplicated += copies - 1;
        for (int c = 0; c < copies; c++) {
            long delay = delayMinTicks + random.nextInt(delayMaxTicks - delayMinTicks + 1) + (long) extraDelayTicks;
            queue.add(new Packet<>(now + delay, order++, from, to, payload));
        }
    }

    /** Every packet due at or before {@code now}, in order, minus those a partition now separates. */
    public List<Packet<T>> due(long now) {
        List<Packet<T>> out = new ArrayList<>();
        while (!queue.isEmpty() && queue.peek().due() <= now) {
            Packet<T> p = queue.poll();
            if (connected(p.from(), p.to())) {
                out.add(p);
            } else {
                cut++;
            }
        }
        return out;
    }

    public int inFlight() {
        return queue.size();
    }

    public long sent() {
        return sent;
    }

    public long dropped() {
        return dropped;
    }

    public long duplicated() {
        return duplicated;
    }

    public long cut() {
        return cut;
    }
}
