package bftledger.chaos;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/**
 * The chaos run's seeded fault schedule: an endless sequence of faults, each on one node, each
 * lasting a bounded time, each followed by a bounded quiet gap. Pure: the same seed gives the
 * same sequence, so a failing run is replayed with its seed.
 *
 * <p>Why a sequence and not a timetable: the runner starts fault k+1 only after fault k has been
 * undone and its node is healthy again, so at most one node (f = 1 for n = 4) is faulty at any
 * moment, however long recovery takes. Kinds come in rounds, each round a seeded permutation of
 * all five kinds, so every kind occurs within any five consecutive faults; the Byzantine
 * strategies and the storage damages rotate the same way.
 */
public final class FaultSchedule {
    /** What a fault does to its node. */
    public enum Kind {
        /** SIGKILL, then a restart of the same node on the same data after the fault's duration. */
        KILL,
        /** SIGSTOP, then SIGCONT: the node keeps its sockets but answers nothing meanwhile. */
        PAUSE,
        /** The node is cut from every other host (iptables in its namespace), then healed. */
        PARTITION,
        /** The node is restarted as a Byzantine replica with {@link Fault#strategy}, then as an honest one. */
        BYZANTINE,
        /**
         * The node is stopped, its files damaged as {@link Fault#damage} says, and started again: a
         * damaged transaction index is rebuilt; a damaged WAL makes it rejoin without voting
         * ({@code rejoin.non.voting=true}) until the network is past its signing floor.
         */
        STORAGE
    }

    /** Node value meaning "whichever node is primary when the fault starts". */
    public static final int PRIMARY = -1;

    /** Strategies of the Byzantine launcher (bftledger.byzantine.ByzantineNodeMain) used here. */
    public static final List<String> STRATEGIES = List.of("equivocate-primary", "silent", "censor");

    /** What a STORAGE fault does to the stopped node's files (see {@link StoreDamage}). */
    public static final List<String> DAMAGES = List.of(StoreDamage.WAL_EMPTIED, StoreDamage.WAL_FLIPPED_BYTE,
            StoreDamage.WAL_OLDER_COPY, StoreDamage.INDEX_FLIPPED_BYTE);

    /**
     * One fault: its kind, the node ({@link #PRIMARY} to aim at the current primary), the
     * Byzantine strategy (null unless BYZANTINE), the storage damage (null unless STORAGE), how
     * long it lasts and how long to wait after the node is healthy again before the next one.
     */
    public record Fault(int index, Kind kind, int node, String strategy, String damage, long durationMillis,
                        long gapMillis) {
        public String describe() {
            String target = node == PRIMARY ? "the primary" : "node" + node;
            return switch (kind) {
                case KILL -> "kill -9 " + target + ", restart after " + durationMillis + " ms";
                case PAUSE -> "SIGSTOP " + target + ", SIGCONT after " + durationMillis + " ms";
                case PARTITION -> "partition " + target + " away, heal after " + durationMillis + " ms";
                case BYZANTINE -> "turn " + target + " Byzantine (" + strategy + "), honest again after " + durationMillis + " ms";
                case STORAGE -> "stop " + target + ", damage its store (" + damage + "), restart after " + durationMillis + " ms";
            };
        }
    }

    private final SplittableRandom random;
    private final int n;
    private final long durationMinMillis;
    private final long durationMaxMillis;
    private final long gapMinMillis;
    private final long gapMaxMillis;
    private final List<Kind> round = new ArrayList<>();
    private final List<String> strategies = new ArrayList<>();
    private final List<String> damages = new ArrayList<>();
    private int index;

    public FaultSchedule(long seed, int n, long durationMinMillis, long durationMaxMillis, long gapMinMillis,
                         long gapMaxMillis) {
        if (n < 4 || durationMinMillis <= 0 || durationMaxMillis < durationMinMillis || gapMinMillis < 0
                || gapMaxMillis < gapMinMillis) {
            throw new IllegalArgumentException("need n >= 4 and 0 < durationMin <= durationMax, 0 <= gapMin <= gapMax");
        }
        this.random = new SplittableRandom(seed);
        this.n = n;
        this.durationMinMillis = durationMinMillis;
        this.durationMaxMillis = durationMaxMillis;
        this.gapMinMillis = gapMinMillis;
        this.gapMaxMillis = gapMaxMillis;
    }

    /** The chaos run's bounds: faults of 3 to 8 s, quiet gaps of 2 to 5 s. */
    public static FaultSchedule standard(long seed, int n) {
        return new FaultSchedule(seed, n, 3_000, 8_000, 2_000, 5_000);
    }

    public long durationMaxMillis() {
        return durationMaxMillis;
    }

    /** The next fault of the sequence. */
    public Fault next() {
        if (round.isEmpty()) {
            round.addAll(List.of(Kind.values()));
            shuffle(round);
        }
        Kind kind = round.remove(round.size() - 1);
        String strategy = null;
        String damage = null;
        int node;
        if (kind == Kind.BYZANTINE) {
            if (strategies.isEmpty()) {
                strategies.addAll(STRATEGIES);
                shuffle(strategies);
            }
            strategy = strategies.remove(strategies.size() - 1);
        }
        if (kind == Kind.STORAGE) {
            if (damages.isEmpty()) {
                damages.addAll(DAMAGES);
                shuffle(damages);
            }
            damage = damages.remove(damages.size() - 1);
        }
        if ("equivocate-primary".equals(strategy)) {
            // Equivocation only happens in the primary's pre-prepares; on a backup it would do nothing.
            node = PRIMARY;
        } else {
            // A third of the faults hit the primary, the view-change path; the rest a seeded node.
            node = random.nextInt(3) == 0 ? PRIMARY : random.nextInt(n);
        }
        long duration = durationMinMillis + random.nextLong(durationMaxMillis - durationMinMillis + 1);
        long gap = gapMinMillis + random.nextLong(gapMaxMillis - gapMinMillis + 1);
        return new Fault(index++, kind, node, strategy, damage, duration, gap);
    }

    private <T> void shuffle(List<T> list) {
        for (int i = list.size() - 1; i > 0; i--) {
            int j = random.nextInt(i + 1);
            T t = list.get(i);
            list.set(i, list.get(j));
            list.set(j, t);
        }
    }
}
