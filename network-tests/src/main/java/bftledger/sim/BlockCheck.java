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
 * batch hashes to the digest, and a quorum of distinct replicas of the set in force at the
 * block's height ({@code config}) signed COMMIT votes for (view, sequence, digest), exactly the
 * rule the ledger applies to a block's commit certificate.
 */
final class BlockCheck {
    private BlockCheck() {}

    static Optional<String> problem(Config config, Output.CommittedBatch block) {
        return problem(config, block, Checkers.CommitSignatures.VERIFY);
    }

    static Optional<String> problem(Config config, Output.CommittedBatch block, Checkers.CommitSignatures signatures) {
        if (!new Batch(block.timestampMillis(), block.requests(), block.anchor()).digest().equals(block.digest())) {
            return Optional.of("batch does not hash to its digest " + block.digest().shortHex());
        }
        return certificateProblem(config.validators(), config.quorum(), block, signatures);
    }

    /** The certificate alone: at least {@code quorum} distinct members of {@code validators} signed its COMMIT vote. */
    static Optional<String> certificateProblem(java.util.List<bftledger.crypto.PublicKey> validators, int quorum,
            Output.CommittedBatch block, Checkers.CommitSignatures signatures) {
        Set<Integer> signers = new HashSet<>();
        for (Output.CommitSignature s : block.certificate()) {
            if (s.replica() < 0 || s.replica() >= validators.size()) {
                return Optional.of("certificate signer " + s.replica() + " not a replica of the " + validators.size()
                        + " in force");
            }
            CommitVote vote = new CommitVote(block.view(), block.sequence(), block.digest(), s.replica());
            if (!signatures.valid(vote, validators.get(s.replica()), s.signature())) {
                return Optional.of("commit signature of replica " + s.replica() + " is not by its key in the set in force");
            }
            signers.add(s.replica());
        }
        return signers.size() >= quorum ? Optional.empty()
                : Optional.of("certificate has " + signers.size() + " distinct signers, needs " + quorum);
    }
}
