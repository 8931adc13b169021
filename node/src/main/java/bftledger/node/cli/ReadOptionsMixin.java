package bftledger.node.cli;

import bftledger.sdk.LedgerClient;
import bftledger.sdk.Network;
import bftledger.sdk.Proven;
import bftledger.sdk.ReadOptions;
import java.util.LinkedHashMap;
import java.util.Map;
import picocli.CommandLine.Option;

/**
 * Options every proven read shares: which replica to ask, from which height on, and whether to
 * ask f+1 for the freshest answer. Whatever is asked, an answer is printed only when its proof
 * verifies against the genesis.
 */
final class ReadOptionsMixin {
    @Option(names = "--replica", defaultValue = "-1",
            description = "Ask only this replica (its answer is still verified against genesis); default: any.")
    int replica;

    @Option(names = "--min-height", defaultValue = "0", description = "Accept only a state proven at this height or later.")
    long minHeight;

    @Option(names = "--freshest", description = "Ask f+1 replicas and take the highest proven height.")
    boolean freshest;

    ReadOptions options(Network network) throws UserError {
        if (replica < -1 || replica >= network.n()) {
            throw new UserError("--replica must be 0.." + (network.n() - 1));
        }
        return ReadOptions.defaults().atLeast(minHeight).onlyReplica(replica).freshest(freshest);
    }

    /** The fields every proven answer prints: how it was proven and which replicas' answers were rejected. */
    static Map<String, Object> provenFields(Proven<?> p, LedgerClient client) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("proven", true);
        m.put("proven_height", p.height());
        m.put("proven_block_hash", p.blockHash().hex());
        m.put("answered_by", p.replica());
        m.put("rejected_answers", rejected(client));
        return m;
    }

    /** Replicas whose answers did not verify during this command, with the latest reason. */
    static Map<String, Object> rejected(LedgerClient client) {
        Map<String, Object> m = new LinkedHashMap<>();
        for (int r = 0; r < client.network().n(); r++) {
            if (client.rejectedAnswers(r) > 0) {
                m.put(Integer.toString(r), client.lastRejection(r).orElse(""));
            }
        }
        return m;
    }

    static String provenText(Proven<?> p, LedgerClient client, String what) {
        StringBuilder s = new StringBuilder("  proven: " + what + " under the certified header at height " + p.height()
                + " (block " + p.blockHash().shortHex() + "), verified against genesis; answered by replica " + p.replica());
        rejected(client).forEach((r, why) -> s.append("\n  rejected: replica ").append(r).append(" answered with what does not verify (")
                .append(why).append(")"));
        return s.toString();
    }
}
