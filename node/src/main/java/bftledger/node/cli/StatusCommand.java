package bftledger.node.cli;

import bftledger.api.proto.GetStatusResponse;
import bftledger.sdk.LedgerClient;
import bftledger.sdk.Network;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import picocli.CommandLine.Command;

/** {@code bftledger status}: every node's view, height, primary, checkpoint, peers and suspicions; exit 1 unless all are up. */
@Command(name = "status", mixinStandardHelpOptions = true, description = "Show every node's view, height, primary, checkpoint and peers.")
final class StatusCommand extends NetworkCommand {

    @Override
    public Integer call() throws Exception {
        Network network = net.network();
        List<Object> rows = new ArrayList<>();
        StringBuilder text = new StringBuilder(String.format("%-6s %-22s %-6s %-6s %-8s %-10s %-9s %-10s %s%n",
                "node", "address", "up", "view", "primary", "height", "stable", "tip", "peers"));
        int up = 0;
        try (LedgerClient client = LedgerClient.connect(network)) {
            List<Optional<GetStatusResponse>> statuses = client.statuses(net.timeout().compareTo(Duration.ofSeconds(5)) > 0
                    ? Duration.ofSeconds(5) : net.timeout());
            for (int i = 0; i < statuses.size(); i++) {
                Map<String, Object> row = new LinkedHashMap<>();
                row.put("replica", i);
                row.put("address", network.addresses().get(i));
                Optional<GetStatusResponse> s = statuses.get(i);
                row.put("up", s.isPresent());
                if (s.isPresent()) {
                    up++;
                    GetStatusResponse r = s.get();
                    row.put("view", r.getView());
                    row.put("primary", r.getPrimary());
                    row.put("height", r.getHeight());
                    row.put("stable_checkpoint", r.getStableCheckpoint());
                    row.put("last_block_hash", Arguments.hex(r.getLastBlockHash()));
                    row.put("peers_connected", r.getPeersConnectedList());
                    row.put("view_changing", r.getViewChanging());
                    row.put("evidence", r.getEvidenceCount());
                    row.put("quorum_reachable", r.getQuorumReachable());
                    Map<String, Object> suspects = new LinkedHashMap<>();
                    for (bftledger.api.proto.PeerLiveness p : r.getPeerLivenessList()) {
                        if (p.getSuspected()) {
                            suspects.put(Integer.toString(p.getReplica()), p.getSuspicionsList());
                        }
                    }
                    row.put("suspected_peers", suspects);
                    row.put("damaged_heights", r.getDamagedHeightsList());
                    row.put("storage_stall", r.getStorageStall());
                    row.put("voting", r.getVoting());
                    row.put("pruned_below", r.getPrunedBelow());
                    text.append(String.format("%-6s %-22s %-6s %-6d %-8d %-10d %-9d %-10s %s%s%s%s%n", "node" + i,
                            network.addresses().get(i), "yes", r.getView(), r.getPrimary(), r.getHeight(),
                            r.getStableCheckpoint(), Arguments.hex(r.getLastBlockHash()).substring(0, 8), r.getPeersConnectedList(),
                            r.getQuorumReachable() ? "" : " NO QUORUM", suspects.isEmpty() ? "" : " suspects " + suspects,
                            storageNotes(r) + (r.getPrunedBelow() > 1 ? " pruned below " + r.getPrunedBelow() : "")));
                } else {
                    text.append(String.format("%-6s %-22s %-6s%n", "node" + i, network.addresses().get(i), "DOWN"));
                }
                rows.add(row);
            }
        }
        print(CommandOutput.fields("nodes", rows, "up", up, "n", network.n()), text.toString().stripTrailing());
        return up == network.n() ? 0 : 1;
    }

    /** What an operator must act on: damaged blocks (docs/storage-faults.md), a stalled disk, a node not voting. */
    private static String storageNotes(GetStatusResponse r) {
        StringBuilder notes = new StringBuilder();
        if (r.getDamagedHeightsCount() > 0) {
            notes.append(" DAMAGED BLOCKS ").append(r.getDamagedHeightsList());
        }
        if (!r.getStorageStall().isEmpty()) {
            notes.append(" STORAGE STALLED (").append(r.getStorageStall()).append(')');
        }
        if (!r.getVoting()) {
            notes.append(" NOT VOTING");
        }
        return notes.toString();
    }
}
