package bftledger.sim;

/**
 * What most strategies share: a fixed name and description, and the replica's
 * {@link StrategyContext} (its key, its config, the seeded generator).
 */
abstract class NamedStrategy implements ByzantineStrategy {
    protected final StrategyContext context;
    private final String name;
    private final String description;

    NamedStrategy(String name, String description, StrategyContext context) {
        this.name = name;
        this.description = description;
        this.context = context;
    }

    @Override
    public final String name() {
        return name;
    }

    @Override
    public final String description() {
        return description;
    }
}
