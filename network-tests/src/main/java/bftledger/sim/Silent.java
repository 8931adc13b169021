package bftledger.sim;

import bftledger.pbft.Signed;
import java.util.List;

/** Sends nothing at all: a crashed replica that still counts against f. */
final class Silent implements ByzantineStrategy {
    static final String NAME = "silent";
    static final String DESCRIPTION = "sends nothing: indistinguishable from a crash, but never restarts";

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public String description() {
        return DESCRIPTION;
    }

    @Override
    public List<Send> onSend(Signed<?> message, int to) {
        return List.of();
    }
}
