package bftledger.node.cli;

import bftledger.crypto.KeyPair;
import bftledger.ledger.BlockStore;
import bftledger.ledger.ChainGenesis;
import bftledger.ledger.StoreCorruptedException;
import bftledger.node.backup.AdminToken;
import bftledger.node.backup.BackupCheck;
import bftledger.node.backup.BackupManifest;
import bftledger.node.backup.DataDirLock;
import bftledger.node.backup.NodeBackup;
import bftledger.node.config.GenesisFile;
import bftledger.node.config.Keys;
import bftledger.node.config.NodeConfig;
import bftledger.node.proto.BackupReply;
import bftledger.node.proto.BackupRequest;
import bftledger.node.proto.NodeAdminGrpc;
import bftledger.sdk.Network;
import io.grpc.ManagedChannel;
import io.grpc.StatusRuntimeException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code bftledger backup}: a copy of one node's stores with a manifest. A running node makes it
 * itself (the NodeAdmin call, authorized by its admin token) while it keeps serving; a stopped
 * node's stores are copied by this command, holding the data directory's lock meanwhile.
 */
@Command(name = "backup", mixinStandardHelpOptions = true,
        description = {"Back up one node's stores (block store and evidence; never the consensus WAL) into a new directory"
                + " on the node's host, with a manifest of the ledger's head and a SHA-256 per file.",
                "A running node copies its stores itself while it keeps serving (run this on its host: it reads the node's"
                        + " admin token from its data directory); a stopped node's stores are copied here."})
final class BackupCommand implements Callable<Integer> {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;
    @Mixin
    JsonOption json;
    @Option(names = "--config", required = true, description = "The node's config file (node.properties).")
    Path config;
    @Option(names = "--out", required = true, description = "The backup directory to create (new or empty), on the node's host.")
    Path out;
    @Option(names = "--timeout", defaultValue = "10m", description = "How long to wait for a running node's backup (default: ${DEFAULT-VALUE}).")
    String timeout;
    @Mixin
    ClientTransportOptions transport;

    @Override
    public Integer call() throws Exception {
        NodeConfig node = NodeConfig.read(config);
        ChainGenesis genesis = GenesisFile.read(node.genesisFile());
        Path target = out.toAbsolutePath().normalize();
        BackupManifest manifest = DataDirLock.inUse(node.dataDir()) ? hot(node, genesis, target) : offline(node, genesis, target);
        // Read back what was written, as restore will: a backup is reported only once it checks.
        BackupCheck.verify(target, genesis);
        long bytes = manifest.files().stream().mapToLong(BackupManifest.FileEntry::bytes).sum();
        Map<String, Object> m = CommandOutput.fields("dir", target.toString(), "mode", manifest.mode(),
                "replica", manifest.replica(), "height", manifest.height(), "last_block_hash", manifest.lastBlockHash(),
                "state_root", manifest.stateRoot(), "bytes", bytes, "copy_millis", manifest.copyMillis(),
                "files", manifest.files());
        CommandOutput.print(spec, json.json, m, "backup of node" + manifest.replica() + " (" + manifest.mode() + ") in " + target
                + "\n  height " + manifest.height() + ", last block " + manifest.lastBlockHash() + "\n  state root "
                + manifest.stateRoot() + "\n  " + manifest.files().size() + " files, " + bytes + " bytes, copied in "
                + manifest.copyMillis() + " ms; verified against its manifest");
        return 0;
    }

    /** The running node copies its own stores; this only asks and waits. */
    private BackupManifest hot(NodeConfig node, ChainGenesis genesis, Path target) throws Exception {
        String token = AdminToken.read(node.dataDir());
        Network network = transport.apply(Network.fromGenesisBytes(genesis.bytes()));
        ManagedChannel channel = bftledger.sdk.TlsChannels.builder(network, node.replica()).build();
        try {
            BackupReply reply = NodeAdminGrpc.newBlockingStub(channel)
                    .withDeadlineAfter(Arguments.duration(timeout).toMillis(), TimeUnit.MILLISECONDS)
                    .backup(BackupRequest.newBuilder().setToken(token).setTargetDir(target.toString()).build());
            return BackupManifest.parse(reply.getManifestJson(), target.resolve(BackupManifest.FILE));
        } catch (StatusRuntimeException e) {
            throw new UserError("node" + node.replica() + " did not make the backup: " + e.getStatus().getCode() + ": "
                    + e.getStatus().getDescription());
        } finally {
            channel.shutdownNow();
        }
    }

    /** A stopped node: its stores opened here, under the data directory's lock. */
    private BackupManifest offline(NodeConfig node, ChainGenesis genesis, Path target) throws Exception {
        Path ledger = node.dataDir().resolve(BackupCheck.LEDGER);
        if (!Files.isDirectory(ledger)) {
            throw new UserError(ledger + " does not exist: the node has no stores to back up.");
        }
        KeyPair key = Keys.read(node.keyFile());
        try (DataDirLock lock = DataDirLock.take(node.dataDir());
             BlockStore store = BlockStore.open(ledger, genesis, node.tuning().mapSizeBytes())) {
            return NodeBackup.write(store, NodeBackup.offlineEvidence(node.dataDir().resolve(BackupCheck.EVIDENCE)),
                    new NodeBackup.Source(genesis, node.replica(), key.publicKey(), "offline"), target);
        } catch (StoreCorruptedException e) {
            throw new UserError("the stores in " + node.dataDir() + " do not open, so there is nothing sound to back up: "
                    + e.getMessage());
        }
    }
}
