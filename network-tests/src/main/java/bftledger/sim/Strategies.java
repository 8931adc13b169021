package bftledger.sim;

import bftledger.crypto.PublicKey;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.BiFunction;

/**
 * The registry of Byzantine strategies by stable name. {@code clients} are the client keys the
 * network knows about (the censoring primary picks its victim among them).
 */
public final class Strategies {
    private record Entry(String description, BiFunction<StrategyContext, List<PublicKey>, ByzantineStrategy> make) {}

    private static final Map<String, Entry> ALL = new LinkedHashMap<>();

    static {
        add(EquivocatePrimary.NAME, EquivocatePrimary.DESCRIPTION, (c, k) -> new EquivocatePrimary(c));
        add(EquivocateBackup.NAME, EquivocateBackup.DESCRIPTION, (c, k) -> new EquivocateBackup(c));
        add(Silent.NAME, Silent.DESCRIPTION, (c, k) -> new Silent());
        add(SlowPrimary.NAME, SlowPrimary.DESCRIPTION, (c, k) -> new SlowPrimary(c));
        add(Censor.NAME, Censor.DESCRIPTION, Censor::new);
        add(ForgeViewChange.NAME, ForgeViewChange.DESCRIPTION, (c, k) -> new ForgeViewChange(c));
        add(Replay.NAME, Replay.DESCRIPTION, (c, k) -> new Replay(c));
        add(BadSignatures.NAME, BadSignatures.DESCRIPTION, (c, k) -> new BadSignatures(c));
        add(Malformed.NAME, Malformed.DESCRIPTION, (c, k) -> new Malformed(c));
        add(Flood.NAME, Flood.DESCRIPTION, (c, k) -> new Flood(c));
        add(Twins.NAME, Twins.DESCRIPTION, (c, k) -> Twins.randomSide(c));
    }

    private Strategies() {}

    private static void add(String name, String description,
            BiFunction<StrategyContext, List<PublicKey>, ByzantineStrategy> make) {
        ALL.put(name, new Entry(description, make));
    }

    /** Every strategy name, in a fixed order. */
    public static List<String> names() {
        return List.copyOf(ALL.keySet());
    }

    public static boolean exists(String name) {
        return ALL.containsKey(name);
    }

    public static String description(String name) {
        Entry e = ALL.get(name);
        if (e == null) {
            throw new IllegalArgumentException("unknown strategy " + name + "; known: " + names());
        }
        return e.description();
    }

    public static ByzantineStrategy create(String name, StrategyContext context, List<PublicKey> clients) {
        Entry e = ALL.get(name);
        if (e == null) {
            throw new IllegalArgumentException("unknown strategy " + name + "; known: " + names());
        }
        return e.make().apply(context, List.copyOf(clients));
    }
}
