package bftledger.sim;

import bftledger.crypto.CommitVote;
import bftledger.pbft.Batch;
import bftledger.pbft.Config;
import bftledger.pbft.Output;
import java.util.HashSet;
import java.util.Optional;
import java.util.Set;

/**
 * What a lagging node checks on a block it fetched from one peer, trusting no single peer: the
 * batch hashes to the digest, and a quorum of distinct replicas signed COMMIT votes for (view,
 * sequence, digest), exactly the rule the ledger applies to a block's commit certificate.
 */
final class BlockCheck {
    private BlockCheck() {}

    static Optional<String> problem(Config config, Output.CommittedBatch block) {
        if (!new Batch(block.timestampMillis(), block.requests(), block.anchor()).digest().equals(block.digest())) {
            return Optional.of("batch does not hash to its digest " + block.digest().shortHex());
        }
        Set<Integer> signers = new HashSet<>();
        for (Output.CommitSignature s : block.certificate()) {
            if (s.replica() < 0 || s.replica() >= config.n()) {
                return Optional.of("certificate signer " + s.replica() + " not a replica");
            }
            CommitVote vote = new CommitVote(block.view(), block.sequence(), block.digest(), s.replica());
            if (!vote.verify(config.validators().get(s.replica()), s.signature())) {
                return Optional.of("bad commit signature of replica " + s.replica());
            }
            signers.add(s.replica());
        }
        return signers.size() >= config.quorum() ? Optional.empty()
                : Optional.of("certificate has " + signers.size() + " distinct signers, needs " + config.quorum());
    }
}
