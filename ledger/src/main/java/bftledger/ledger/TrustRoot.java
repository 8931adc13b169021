package bftledger.ledger;

import bftledger.crypto.Digest;
import bftledger.crypto.PublicKey;
import java.util.List;

/**
 * What a verifier trusts about a network, all of it from the genesis: the chain id, the genesis
 * hash and the validators' keys in replica order, and the sets that followed them, each approved
 * by the one before. Commit certificates and proofs are checked against this and nothing a
 * replica says. Implemented by the genesis itself and by a client's view of it.
 */
public interface TrustRoot {
    String chainId();

    Digest genesisHash();

    List<PublicKey> validatorKeys();

    /**
     * What signs the commit certificate of block {@code height}: the validator set in force
     * there. Genesis alone knows only its own set; a view that has followed the chain of sets
     * (see {@link ValidatorSets#verifyChain}) answers with the set of that height.
     */
    default TrustRoot atHeight(long height) {
        return this;
    }

    default int n() {
        return validatorKeys().size();
    }

    /** Faulty validators tolerated: the largest f with n >= 3f+1. */
    default int f() {
        return (n() - 1) / 3;
    }

    /** Distinct signatures a commit certificate needs; see {@link #quorum(int)}. */
    default int quorum() {
        return quorum(n());
    }

    /**
     * ceil((n+f+1)/2): any two quorums share at least f+1 validators, so an honest one, and the
     * n-f honest validators alone make one. It is 2f+1 when n = 3f+1; with n = 5 (f = 1) it is 4,
     * where 2f+1 = 3 would let two quorums meet only in a faulty validator. The consensus core
     * uses the same rule ({@code bftledger.pbft.Config#quorum}).
     */
    static int quorum(int n) {
        int f = (n - 1) / 3;
        return (n + f + 2) / 2;
    }
}
