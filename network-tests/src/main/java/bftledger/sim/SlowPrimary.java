package bftledger.sim;

import bftledger.pbft.PrePrepare;
import bftledger.pbft.Signed;
import java.util.List;

/**
 * Holds every PRE-PREPARE back for three quarters of the backups' request timeout: slow enough
 * to drag throughput down, fast enough that (on a quiet network) no backup suspects it.
 */
final class SlowPrimary extends NamedStrategy {
    static final String NAME = "slow-primary";
    static final String DESCRIPTION = "holds each PRE-PREPARE back for 3/4 of the request timeout, just inside it";

    private final int delayTicks;

    SlowPrimary(StrategyContext context) {
        super(NAME, DESCRIPTION, context);
        this.delayTicks = Math.max(1, context.config().requestTimeoutTicks() * 3 / 4);
    }

    @Override
    public List<Send> onSend(Signed<?> message, int to) {
        int delay = message.payload() instanceof PrePrepare ? delayTicks : 0;
        return List.of(new Send(to, message.wire(), delay));
    }
}
