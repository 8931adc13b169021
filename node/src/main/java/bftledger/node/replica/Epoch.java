package bftledger.node.replica;

import bftledger.crypto.Digest;
import bftledger.crypto.PublicKey;
import bftledger.ledger.BlockStore;
import bftledger.ledger.ChainGenesis;
import bftledger.ledger.ValidatorSets;
import bftledger.ledger.ValidatorSets.ValidatorSet;
import java.util.List;
import java.util.Optional;

/**
 * The validator set a replica runs its consensus core under, read from its own store: the set in
 * force at the next height, this replica's index in it, where that set's core starts (the
 * checkpoint before its first height; sequence 0 for genesis's set) and, when a later set is
 * already named, the last height this set orders. Views of epoch e start at {@code e << 32}, so
 * every message of an earlier set is in a lower view.
 *
 * @param end the last height this set orders, or {@link Long#MAX_VALUE} while no change is pending
 * @param joined reached by following the chain in this start, the key never having signed
 */
public record Epoch(ValidatorSet set, int self, long startSequence, long startView, Digest startDigest, long end,
                    boolean joined) {

    /** This replica's epoch, or empty when {@code key} is not in the set in force at the store's next height. */
    public static Optional<Epoch> of(ChainGenesis genesis, BlockStore store, PublicKey key) {
        List<ValidatorSet> sets = store.validatorSets();
        long next = store.height() + 1;
        ValidatorSet set = ValidatorSets.inForce(sets, next);
        int self = set.indexOf(key);
        if (self < 0) {
            return Optional.empty();
        }
        long start = set.epoch() == 0 ? 0 : set.fromHeight() - 1;
        Digest digest = start == 0 ? genesis.hash() : store.blockHash(start).orElseThrow(() ->
                new IllegalStateException("the store holds no block at " + start + ", where epoch " + set.epoch() + " starts"));
        return Optional.of(new Epoch(set, self, start, startView(set.epoch()), digest, endAfter(sets, next), false));
    }

    /**
     * This epoch, reached by following the chain in this start ({@link JoinFollower}): the node
     * never ran a core with this key, so a store with blocks and no signing mark is no sign of a
     * lost WAL.
     */
    Epoch asJoined() {
        return new Epoch(set, self, startSequence, startView, startDigest, end, true);
    }

    public static long startView(long epoch) {
        return epoch << 32;
    }

    /** The last height the set in force at {@code next} orders, when a later set is named already. */
    static long endAfter(List<ValidatorSet> sets, long next) {
        ValidatorSet latest = ValidatorSets.latest(sets);
        return latest.fromHeight() > next ? latest.fromHeight() - 1 : Long.MAX_VALUE;
    }

    /** The set in force at {@code height} and the one after it, as a description for logs and errors. */
    public static String describe(List<ValidatorSet> sets, long height) {
        ValidatorSet set = ValidatorSets.inForce(sets, height);
        ValidatorSet latest = ValidatorSets.latest(sets);
        return "epoch " + set.epoch() + " (" + set.n() + " validators)"
                + (latest.fromHeight() > height ? ", epoch " + latest.epoch() + " signs from height " + latest.fromHeight() : "");
    }
}
