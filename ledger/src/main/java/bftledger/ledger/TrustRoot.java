package bftledger.ledger;

import bftledger.crypto.Digest;
import bftledger.crypto.PublicKey;
import java.util.List;

/**
 * What a verifier trusts about a network, all of it from the genesis: the chain id, the genesis
 * hash and the validators' keys in replica order. Commit certificates and proofs are checked
 * against this and nothing a replica says. Implemented by the genesis itself and by a client's
 * view of it.
 */
public interface TrustRoot {
    String chainId();

    Digest genesisHash();

    List<PublicKey> validatorKeys();

    default int n() {
        return validatorKeys().size();
    }

    /** Faulty validators tolerated: n = 3f+1. */
    default int f() {
        return (n() - 1) / 3;
    }

    /** Distinct signatures a commit certificate needs: 2f+1. */
    default int quorum() {
        return 2 * f() + 1;
    }
}
