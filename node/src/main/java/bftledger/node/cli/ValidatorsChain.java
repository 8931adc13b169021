package bftledger.node.cli;

import bftledger.crypto.Digest;
import bftledger.ledger.ChainGenesis;
import bftledger.ledger.ValidatorSets;
import bftledger.ledger.ValidatorSets.ValidatorSet;
import bftledger.ledger.proto.BlockHeader;
import bftledger.sdk.LedgerClient;
import bftledger.sdk.LedgerClientException;
import bftledger.sdk.Network;
import bftledger.sdk.ReadOptions;
import bftledger.sdk.ValidatorChain;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The network's validator sets as the validators commands use them, proven through the SDK: the
 * latest certified header (its certificate checked under the set in force there), then the
 * VALIDATORS record ({@link LedgerClient#refreshValidators}: each set approved by a quorum of
 * the one before it from genesis's on, the record proven under a header those sets certify).
 * The header is read first, so the sets are as of that height or later: a change that executed
 * after the header is shown as pending rather than missed.
 */
final class ValidatorsChain implements AutoCloseable {
    private final ChainGenesis genesis;
    private final LedgerClient client;

    /** The sets, genesis's first, and the certified header {@code height} they are stated at. */
    record Proven(List<ValidatorSet> sets, long height, Digest blockHash, int replica, Map<String, Object> rejected) {
        ValidatorSet inForce() {
            return ValidatorSets.inForce(sets, height);
        }

        /** The newest set: the one a new change replaces (it may not sign yet). */
        ValidatorSet latest() {
            return ValidatorSets.latest(sets);
        }

        /** The set named by a change that has executed and does not sign yet, if any. */
        Optional<ValidatorSet> pending() {
            return latest().fromHeight() > height ? Optional.of(latest()) : Optional.empty();
        }

        /** How it was proven, in the words the other proven reads use. */
        String provenText() {
            StringBuilder s = new StringBuilder("  proven: the chain of sets from genesis, each approved by a quorum of the one"
                    + " before, and the certified header at height " + height + " (block " + blockHash.shortHex()
                    + "), verified against genesis; answered by replica " + replica);
            rejected.forEach((r, why) -> s.append("\n  rejected: replica ").append(r)
                    .append(" answered with what does not verify (").append(why).append(")"));
            return s.toString();
        }

        Map<String, Object> provenFields() {
            return CommandOutput.fields("proven", true, "proven_height", height, "proven_block_hash", blockHash.hex(),
                    "answered_by", replica, "rejected_answers", rejected);
        }
    }

    private ValidatorsChain(ChainGenesis genesis, LedgerClient client) {
        this.genesis = genesis;
        this.client = client;
    }

    static ValidatorsChain connect(ChainGenesis genesis, Network network) {
        return new ValidatorsChain(genesis, LedgerClient.connect(network));
    }

    /** The SDK client, following the sets read, for submitting. */
    LedgerClient client() {
        return client;
    }

    Proven read(Duration timeout) throws UserError {
        bftledger.sdk.Proven<BlockHeader> head;
        ValidatorChain chain;
        try {
            head = client.certifiedHeader(ReadOptions.defaults(), timeout);
            chain = client.refreshValidators(timeout);
        } catch (LedgerClientException e) {
            throw new UserError("the validator sets could not be proven: " + e.getMessage()
                    + " Check the network with `bftledger status`; a network that has committed no block yet has no"
                    + " certified header to prove them by: submit any transaction first.");
        }
        return new Proven(named(chain.sets()), head.height(), head.blockHash(), head.replica(), ReadOptionsMixin.rejected(client));
    }

    /** Genesis's set with its validators' names, which a client's view of genesis leaves out. */
    private List<ValidatorSet> named(List<ValidatorSet> sets) {
        ValidatorSet fromGenesis = ValidatorSets.genesisSet(genesis);
        if (!sets.get(0).hash().equals(fromGenesis.hash())) {
            throw new IllegalStateException("the SDK's first set is not genesis's");
        }
        List<ValidatorSet> out = new ArrayList<>(sets);
        out.set(0, fromGenesis);
        return List.copyOf(out);
    }

    @Override
    public void close() {
        client.close();
    }
}
