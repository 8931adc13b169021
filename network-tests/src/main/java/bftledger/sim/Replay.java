package bftledger.sim;

import bftledger.pbft.Signed;
import java.util.ArrayList;
import java.util.List;

/**
 * Sends what it is told to, and with it, now and then, one of its own earlier messages (older
 * views, old sequences, stale checkpoints and view changes) again: the receivers must classify
 * them as old or duplicate, never act on them twice.
 */
final class Replay extends NamedStrategy {
    static final String NAME = "replay";
    static final String DESCRIPTION = "re-sends its own earlier messages (old views, old sequences) alongside new ones";
    private static final int HISTORY_MAX = 128;

    private final List<byte[]> history = new ArrayList<>();
    private Signed<?> last;

    Replay(StrategyContext context) {
        super(NAME, DESCRIPTION, context);
    }

    @Override
    public List<Send> onSend(Signed<?> message, int to) {
        List<Send> sends = new ArrayList<>();
        sends.add(Send.now(to, message.wire()));
        if (!history.isEmpty() && context.random().nextInt(3) == 0) {
            // Biased to the oldest third: those are the most likely to be from past views.
            int bound = context.random().nextBoolean() ? Math.max(1, history.size() / 3) : history.size();
            sends.add(Send.now(to, history.get(context.random().nextInt(bound))));
        }
        if (message != last) {
            last = message;
            if (history.size() >= HISTORY_MAX) {
                history.remove(HISTORY_MAX / 3 + context.random().nextInt(HISTORY_MAX - HISTORY_MAX / 3));
            }
            history.add(message.wire());
        }
        return sends;
    }
}
