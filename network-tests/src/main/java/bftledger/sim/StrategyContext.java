package bftledger.sim;

import bftledger.crypto.KeyPair;
import bftledger.pbft.Config;
import bftledger.pbft.MessageFactory;
import java.util.SplittableRandom;

/**
 * What a Byzantine strategy holds: the replica's own identity and key (so it can sign anything,
 * including contradictions), the network's configuration (n, f, bounds, timeouts) and its own
 * seeded generator. The simulator hands in a split of its run's generator; a real Byzantine node
 * process hands in one seeded from its command line. Nothing here reaches into the core.
 */
public record StrategyContext(int replica, KeyPair key, MessageFactory factory, Config config, SplittableRandom random) {
    public StrategyContext {
        if (factory.replica() != replica) {
            throw new IllegalArgumentException("factory signs as " + factory.replica() + ", not " + replica);
        }
    }

    public static StrategyContext of(Config config, SplittableRandom random) {
        return new StrategyContext(config.replicaId(), config.key(), new MessageFactory(config.replicaId(), config.key()),
                config, random);
    }

    public int n() {
        return config.n();
    }

    public int f() {
        return config.f();
    }
}
