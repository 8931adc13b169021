package bftledger.node.cli;

import bftledger.ledger.ChainGenesis;
import bftledger.ledger.LedgerVerifier;
import bftledger.ledger.StoreCopy;
import bftledger.ledger.proto.BlockHeader;
import bftledger.node.backup.BackupCheck;
import bftledger.node.backup.BackupManifest;
import bftledger.sdk.LedgerClient;
import bftledger.sdk.LedgerClientException;
import bftledger.sdk.Network;
import bftledger.sdk.Proven;
import bftledger.sdk.ReadOptions;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

/**
 * {@code bftledger audit --backup DIR [--online]}: the backup's manifest and checksums
 * ({@link BackupCheck}), then the offline audit ({@link LedgerVerifier}, the same walk as
 * {@code --data}) of a scratch copy of its block store (an audit opens the store, which writes to
 * it, and a backup must stay as its checksums say). With {@code --online}, each running node is
 * asked for the block at the backup's height with its proof, checked against genesis: the backup
 * is a prefix of the live ledger when some node proves the same block there and none proves
 * another.
 */
final class BackupAudit {
    private BackupAudit() {}

    static int run(AuditCommand command, Path backupDir) throws Exception {
        ChainGenesis genesis = command.genesis.read();
        BackupCheck.Verified verified = BackupCheck.verify(backupDir, genesis);
        BackupManifest manifest = verified.manifest();
        LedgerVerifier.Report report = auditCopy(command, backupDir, genesis);
        Map<String, Object> m = new LinkedHashMap<>();
        StringBuilder text = new StringBuilder("backup of node" + manifest.replica() + " at height " + manifest.height()
                + ", last block " + manifest.lastBlockHash() + ": manifest and " + manifest.files().size()
                + " file checksums verified\n");
        text.append(AuditCommand.describe(report, m));
        boolean whole = report.blocksChecked() == manifest.height();
        if (!whole) {
            text.append("\n  the audit walked ").append(report.blocksChecked()).append(" blocks, the manifest names height ")
                    .append(manifest.height());
        }
        boolean ok = report.ok() && whole;
        m.put("backup_height", manifest.height());
        m.put("backup_last_block_hash", manifest.lastBlockHash());
        if (command.online) {
            Network network = command.transport.apply(Network.fromGenesisBytes(genesis.bytes()));
            List<Object> nodes = new ArrayList<>();
            boolean live = againstNetwork(network, manifest, Arguments.duration(command.timeout), nodes, text);
            m.put("live_nodes", nodes);
            m.put("prefix_of_live_ledger", live);
            ok &= live;
        }
        m.put("passed", ok);
        text.append(ok ? "\nbackup audit passed" : "\nbackup audit FAILED");
        CommandOutput.print(command.spec, command.json.json, m, text.toString());
        return ok ? 0 : 1;
    }

    private static LedgerVerifier.Report auditCopy(AuditCommand command, Path backupDir, ChainGenesis genesis) throws IOException {
        Path work = Files.createTempDirectory("bftledger-backup-audit");
        try {
            Path ledger = Files.createDirectories(work.resolve(BackupCheck.LEDGER));
            Files.copy(backupDir.resolve(BackupCheck.LEDGER).resolve(StoreCopy.DATA_FILE), ledger.resolve(StoreCopy.DATA_FILE));
            return command.verify(ledger, genesis);
        } finally {
            try (Stream<Path> walk = Files.walk(work)) {
                for (Path p : walk.sorted(Comparator.reverseOrder()).toList()) {
                    Files.deleteIfExists(p);
                }
            }
        }
    }

    /** Asks every node for the backup's last block header, proven; true when some node proves it and none proves another. */
    private static boolean againstNetwork(Network network, BackupManifest manifest, Duration timeout, List<Object> nodes,
            StringBuilder text) {
        int same = 0;
        int different = 0;
        text.append("\nlive network at height ").append(manifest.height()).append(':');
        if (manifest.height() == 0) {
            text.append(" the backup holds genesis only");
            return true;
        }
        try (LedgerClient client = LedgerClient.connect(network)) {
            for (int i = 0; i < network.n(); i++) {
                String verdict;
                String hash = null;
                try {
                    // The header alone, proven: a node that pruned the block still proves it.
                    Proven<BlockHeader> header = client.header(manifest.height(), ReadOptions.defaults().onlyReplica(i), timeout);
                    hash = header.blockHash().hex();
                    verdict = hash.equals(manifest.lastBlockHash()) ? "same" : "different";
                } catch (LedgerClientException | RuntimeException e) {
                    verdict = "no proven answer: " + e.getMessage();
                }
                same += verdict.equals("same") ? 1 : 0;
                different += verdict.equals("different") ? 1 : 0;
                nodes.add(CommandOutput.fields("node", i, "verdict", verdict.startsWith("no proven") ? "unanswered" : verdict,
                        "block_hash", hash, "detail", verdict));
                text.append("\n  node").append(i).append(": ").append(switch (verdict) {
                    case "same" -> "certifies the same block";
                    case "different" -> "certifies a DIFFERENT block " + hash;
                    default -> verdict;
                });
            }
        }
        boolean ok = same > 0 && different == 0;
        text.append(ok ? "\n  the backup is a prefix of the live ledger" : different > 0
                ? "\n  the backup is NOT a prefix of the live ledger" : "\n  no node proved the backup's last block");
        return ok;
    }
}
