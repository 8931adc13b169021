package bftledger.node.cli;

import bftledger.ledger.ChainGenesis;
import bftledger.node.config.GenesisFile;
import bftledger.node.config.NetworkCa;
import bftledger.node.config.TlsCertificates;
import java.nio.file.Path;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code bftledger tls}: node certificates from the network CA (rotation). */
@Command(name = "tls", mixinStandardHelpOptions = true, description = "The network's TLS certificates.",
        subcommands = TlsCommand.Issue.class)
final class TlsCommand extends GroupCommand {

    @Command(name = "issue", mixinStandardHelpOptions = true,
            description = {"Issue node I a new TLS key and certificate from the network CA (rotation).",
                    "Writes tls.key then tls.crt, each atomically. A running node serves the new pair from its next"
                            + " handshake (it looks at its files at most once a second); no node restarts."})
    static final class Issue implements Callable<Integer> {
        @CommandLine.Spec
        CommandLine.Model.CommandSpec spec;
        @Mixin
        JsonOption json;
        @Option(names = "--genesis", defaultValue = "localnet/genesis.bin", description = "The network's genesis file (default: ${DEFAULT-VALUE}).")
        Path genesisPath;
        @Option(names = "--ca", description = "The network CA directory with ca.crt and ca.key (default: ca/ beside genesis).")
        Path caDir;
        @Option(names = "--node", required = true, description = "The node's replica index in genesis, or for a node a"
                + " validator-set change adds, its node number (with --address and --name).")
        int node;
        @Option(names = "--address", description = "HOST:PORT of a node genesis does not name, as the change that adds it"
                + " names it.")
        String address;
        @Option(names = "--name", description = "The name of a node genesis does not name (default: node<I>).")
        String name;
        @Option(names = "--out", description = "Where to write tls.crt and tls.key (default: node<I>/tls/ beside genesis).")
        Path out;
        @Option(names = "--san", paramLabel = "NAME", description = "Another host name or IP address to name (repeatable);"
                + " the host of the node's genesis address is always named.")
        List<String> names = new ArrayList<>();
        @Option(names = "--days", defaultValue = "365", description = "Validity in days (default: ${DEFAULT-VALUE}).")
        int days;

        @Override
        public Integer call() throws Exception {
            ChainGenesis genesis = GenesisFile.read(genesisPath);
            if (node < 0 || (address == null && node >= genesis.n())) {
                throw new UserError("--node must be 0.." + (genesis.n() - 1) + "; got " + node + " (a node genesis does not"
                        + " name needs --address).");
            }
            if (days < 1 || days > 3650) {
                throw new UserError("--days must be 1..3650.");
            }
            if (genesis.genesis().getTlsCaCertificate().isEmpty()) {
                throw new UserError("genesis names no TLS CA: the network was created with --plaintext.");
            }
            Path base = genesisPath.toAbsolutePath().getParent();
            Path ca = caDir != null ? caDir : base.resolve(NetworkCa.CA_DIR);
            Path target = out != null ? out : base.resolve("node" + node).resolve(NetworkCa.NODE_TLS_DIR);
            X509Certificate caCert = TlsCertificates.readCertificate(ca.resolve("ca.crt"));
            java.security.PrivateKey caKey = TlsCertificates.readPrivateKey(ca.resolve("ca.key"));
            X509Certificate issued = address == null
                    ? NetworkCa.issue(caCert, caKey, genesis, node, names, target, Duration.ofDays(days))
                    : NetworkCa.issue(caCert, caKey, genesis, address, name != null ? name : "node" + node, names, target,
                            Duration.ofDays(days));
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("node", node);
            m.put("certificate", target.resolve("tls.crt").toString());
            m.put("key", target.resolve("tls.key").toString());
            m.put("serial", issued.getSerialNumber().toString(16));
            m.put("not_after", issued.getNotAfter().toInstant().toString());
            CommandOutput.print(spec, json.json, m, "issued node" + node + " a certificate (serial " + issued.getSerialNumber().toString(16)
                    + ", valid until " + issued.getNotAfter().toInstant() + ")\n  " + target.resolve("tls.crt") + "\n  "
                    + target.resolve("tls.key") + "\n  a running node serves it from its next TLS handshake");
            return 0;
        }
    }
}
