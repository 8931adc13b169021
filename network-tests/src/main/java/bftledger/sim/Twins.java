package bftledger.sim;

import bftledger.pbft.Signed;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;

/**
 * One half of a pair of twins: two complete replicas running with the same id and key, each
 * talking to (and hearing) only its own side of the other replicas. Together they sign whatever
 * two honest-looking replicas in different states would: conflicting votes, proposals, view
 * changes. The simulator runs two cores with complementary sides; a real deployment runs two
 * node processes with the same key file.
 */
public final class Twins implements ByzantineStrategy {
    static final String NAME = "twins";
    static final String DESCRIPTION = "two cores with the same key and id, each seeing a different part of the network";

    private final Set<Integer> side;
    private final int self;
    private final int n;

    public Twins(int self, int n, Set<Integer> side) {
        this.self = self;
        this.n = n;
        this.side = Set.copyOf(side);
    }

    /** A random nonempty proper subset of the other replicas. */
    static Twins randomSide(StrategyContext context) {
        List<Integer> others = new ArrayList<>();
        for (int i = 0; i < context.n(); i++) {
            if (i != context.replica()) {
                others.add(i);
            }
        }
        Set<Integer> side = new TreeSet<>();
        while (side.isEmpty() || side.size() == others.size()) {
            side.clear();
            for (int o : others) {
                if (context.random().nextBoolean()) {
                    side.add(o);
                }
            }
        }
        return new Twins(context.replica(), context.n(), side);
    }

    /** The other twin: hears and talks to exactly the replicas this one does not. */
    public Twins other() {
        Set<Integer> rest = new TreeSet<>();
        for (int i = 0; i < n; i++) {
            if (i != self && !side.contains(i)) {
                rest.add(i);
            }
        }
        return new Twins(self, n, rest);
    }

    public Set<Integer> side() {
        return side;
    }

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
        return side.contains(to) ? List.of(Send.now(to, message.wire())) : List.of();
    }

    @Override
    public boolean hears(int from) {
        return side.contains(from);
    }
}
