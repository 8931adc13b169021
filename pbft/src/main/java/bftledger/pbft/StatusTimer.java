package bftledger.pbft;

import java.util.TreeMap;

/**
 * When this replica broadcasts its STATUS (every {@link Config#statusTicks()} ticks) and how
 * often it answers each peer: at most once per status period, so a peer cannot make it amplify
 * traffic (StatusTest).
 */
final class StatusTimer {
    private final Config config;
    private long ticks;
    private int countdownTicks;
    private final TreeMap<Integer, Long> lastAnswerTick = new TreeMap<>();

    StatusTimer(Config config) {
        this.config = config;
        this.countdownTicks = config.statusTicks();
    }

    /** Counts a tick; true when this replica's STATUS is due. */
    boolean tick() {
        ticks++;
        if (--countdownTicks <= 0) {
            countdownTicks = config.statusTicks();
            return true;
        }
        return false;
    }

    /** At most one answer (to a STATUS or a stale VIEW-CHANGE) per peer per status period. */
    boolean answerAllowed(int peer) {
        Long last = lastAnswerTick.get(peer);
        if (last != null && ticks - last < config.statusTicks()) {
            return false;
        }
        lastAnswerTick.put(peer, ticks);
        return true;
    }
}
