package bftledger.chaos;

import java.util.ArrayList;
import java.util.List;
import org.HdrHistogram.Histogram;

/**
 * What the chaos run measures, from the client's side: every submission's start and end and
 * whether it was acknowledged (proven committed). Times are nanoseconds on one monotonic clock,
 * relative to nothing in particular; the window [{@code startNanos}, {@code endNanos}) is the
 * measured run. Thread-safe (the workload's completion threads add, the runner reads).
 *
 * <p>A second "has a commit" when at least one acknowledgement arrived in it: availability as
 * the client sees it, which is stricter than "some replica's height grew" because the client
 * needs f+1 matching replies or a certificate.
 */
public final class CommitTimeline {
    /** Latency percentiles are kept to 3 significant digits (HdrHistogram's usual setting). */
    static final int LATENCY_SIGNIFICANT_DIGITS = 3;

    /** One submission's outcome. */
    public record Outcome(long submittedNanos, long completedNanos, boolean acknowledged) {
        long latencyNanos() {
            return completedNanos - submittedNanos;
        }
    }

    /** A closed interval of time, for "during a fault". */
    public record Window(long fromNanos, long toNanos) {
        boolean contains(long t) {
            return t >= fromNanos && t <= toNanos;
        }
    }

    private final List<Outcome> outcomes = new ArrayList<>();

    public synchronized void add(long submittedNanos, long completedNanos, boolean acknowledged) {
        outcomes.add(new Outcome(submittedNanos, completedNanos, acknowledged));
    }

    public synchronized List<Outcome> outcomes() {
        return List.copyOf(outcomes);
    }

    /** Acknowledgements per whole second of [start, end): index k counts those completed in second k. */
    public int[] perSecond(long startNanos, long endNanos) {
        int seconds = (int) Math.max(1, Math.ceil((endNanos - startNanos) / 1e9));
        int[] counts = new int[seconds];
        for (Outcome o : outcomes()) {
            if (o.acknowledged() && o.completedNanos() >= startNanos && o.completedNanos() < endNanos) {
                counts[(int) ((o.completedNanos() - startNanos) / 1_000_000_000L)]++;
            }
        }
        return counts;
    }

    /** Percent of the seconds of [start, end) with at least one acknowledgement. */
    public double availabilityPercent(long startNanos, long endNanos) {
        int[] counts = perSecond(startNanos, endNanos);
        int with = 0;
        for (int c : counts) {
            if (c > 0) {
                with++;
            }
        }
        return 100.0 * with / counts.length;
    }

    /** The longest stretch of [start, end) with no acknowledgement, in nanoseconds (the edges count as gaps). */
    public long longestGapNanos(long startNanos, long endNanos) {
        List<Long> times = new ArrayList<>();
        for (Outcome o : outcomes()) {
            if (o.acknowledged() && o.completedNanos() >= startNanos && o.completedNanos() < endNanos) {
                times.add(o.completedNanos());
            }
        }
        times.sort(null);
        long previous = startNanos;
        long longest = 0;
        for (long t : times) {
            longest = Math.max(longest, t - previous);
            previous = t;
        }
        return Math.max(longest, endNanos - previous);
    }

    /**
     * The given percentile (0 to 100) of acknowledged submissions' latency, counting only those
     * submitted inside one of {@code windows} (all of them when windows is null); -1 when there
     * are none. Within 0.1% of the exact value ({@link #LATENCY_SIGNIFICANT_DIGITS}).
     */
    public long percentileNanos(double percentile, List<Window> windows) {
        Histogram latencies = new Histogram(LATENCY_SIGNIFICANT_DIGITS);
        for (Outcome o : outcomes()) {
            if (o.acknowledged() && (windows == null || windows.stream().anyMatch(w -> w.contains(o.submittedNanos())))) {
                latencies.recordValue(o.latencyNanos());
            }
        }
        return latencies.getTotalCount() == 0 ? -1 : latencies.getValueAtPercentile(percentile);
    }

    /** How many acknowledged submissions were submitted inside the windows. */
    public long acknowledgedIn(List<Window> windows) {
        return outcomes().stream()
                .filter(o -> o.acknowledged() && windows.stream().anyMatch(w -> w.contains(o.submittedNanos()))).count();
    }
}
