package bftledger.sdk;

import bftledger.crypto.Digest;
import bftledger.crypto.PublicKey;
import bftledger.ledger.TrustRoot;
import bftledger.ledger.ValidatorSets;
import bftledger.ledger.ValidatorSets.ValidatorSet;
import com.google.protobuf.ByteString;
import java.util.List;

/**
 * The validator sets a client follows: genesis's (epoch 0), then each set a ChangeValidators
 * named, every one approved by a quorum of the set before it. Made only from genesis or by
 * {@link #verify verifying} a VALIDATORS record value against it, so a chain held is always one
 * that genesis's validators started; each set's first height follows from the height its change
 * executed at, which is the record's word (what a client that stops refreshing trusts:
 * docs/design.md, Validator-set changes). Immutable, value equality.
 */
public final class ValidatorChain {
    private final Digest genesisHash;
    private final List<ValidatorSet> sets;

    private ValidatorChain(Digest genesisHash, List<ValidatorSet> sets) {
        this.genesisHash = genesisHash;
        this.sets = List.copyOf(sets);
    }

    /** Genesis's set alone, its validators at {@code addresses} in replica order. */
    static ValidatorChain genesis(String chainId, List<PublicKey> keys, List<String> addresses, Digest genesisHash) {
        GenesisView genesis = new GenesisView(chainId, genesisHash, List.copyOf(keys));
        return new ValidatorChain(genesisHash, List.of(ValidatorSets.genesisSet(genesis, addresses)));
    }

    /**
     * The chain a VALIDATORS record value names, from {@code network}'s genesis (empty value:
     * genesis's set alone).
     *
     * @throws IllegalArgumentException naming the first set that is not approved by a quorum of the one before it
     */
    public static ValidatorChain verify(Network network, ByteString recordValue) {
        GenesisView genesis = new GenesisView(network.chainId(), network.genesisHash(), network.validatorKeys());
        ValidatorSet genesisSet = network.validators().sets().get(0);
        return new ValidatorChain(network.genesisHash(), ValidatorSets.verifyChain(genesis, genesisSet, recordValue));
    }

    /** What genesis alone says, for the ledger's checks: no set after its own. */
    private record GenesisView(String chainId, Digest genesisHash, List<PublicKey> validatorKeys) implements TrustRoot {}

    public Digest genesisHash() {
        return genesisHash;
    }

    /** Every set, genesis's first. */
    public List<ValidatorSet> sets() {
        return sets;
    }

    /** The last set named: who signs from its first height on (which may still be ahead). */
    public ValidatorSet latest() {
        return ValidatorSets.latest(sets);
    }

    /** The set that signs the certificate of block {@code height}. */
    public ValidatorSet inForce(long height) {
        return ValidatorSets.inForce(sets, height);
    }

    /** The set before the latest, or the latest when it is genesis's. */
    ValidatorSet previous() {
        return sets.get(Math.max(0, sets.size() - 2));
    }

    /** Whether this chain holds every set of {@code held}, in order, and perhaps more: the only way a chain grows. */
    public boolean extendsChain(ValidatorChain held) {
        return genesisHash.equals(held.genesisHash) && sets.size() >= held.sets.size()
                && sets.subList(0, held.sets.size()).equals(held.sets);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof ValidatorChain c && genesisHash.equals(c.genesisHash) && sets.equals(c.sets);
    }

    @Override
    public int hashCode() {
        return sets.hashCode();
    }

    @Override
    public String toString() {
        ValidatorSet latest = latest();
        return "ValidatorChain[epoch " + latest.epoch() + " of " + latest.n() + " validators from height "
                + latest.fromHeight() + "]";
    }
}
