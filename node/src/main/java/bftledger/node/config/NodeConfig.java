package bftledger.node.config;

import java.io.IOException;
import java.io.Reader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Properties;
import java.util.Set;
import java.util.TreeSet;

/**
 * One node's configuration, read from a properties file. Relative paths are resolved against
 * the config file's directory so a network directory can be moved as a whole. Unknown keys are
 * an error: a misspelt tuning key would otherwise be silently ignored. {@code health.port}
 * (0 = off) serves plaintext gRPC health and nothing else, for probes that cannot speak TLS.
 *
 * @param signingMarkFile where the replica's signing mark lives: outside the data directory, so
 *     that restoring the data directory from a copy does not restore an old mark (key
 *     {@code signing.mark.file}; by default beside the key file)
 * @param rejoinNonVoting when the consensus WAL is lost, damaged or older than the signing mark
 *     says, set it aside and take part without voting until the network is past everything this
 *     replica may have signed, instead of refusing to start (key {@code rejoin.non.voting})
 * @param pruneKeepBlocks keep this many of the latest blocks whole and strip the transactions
 *     of older ones, keeping their headers, certificates and receipts (key
 *     {@code prune.keep.blocks}; 0, the default, keeps every block whole). At least
 *     {@link #PRUNE_KEEP_BLOCKS_MIN}. A replica that falls further behind than this cannot catch
 *     up from pruned peers, so size it to the longest outage to ride out (docs/operations.md,
 *     "Pruning")
 * @param stateSync state snapshots this node takes and serves, and whether it joins by state
 *     sync when its block store does not exist yet (keys {@code snapshot.interval.blocks},
 *     {@code snapshot.keep}, {@code state.sync}; docs/operations.md, "State sync")
 */
public record NodeConfig(
        int replica,
        String listenHost,
        int listenPort,
        int metricsPort,
        Path dataDir,
        Path keyFile,
        Path genesisFile,
        Tuning tuning,
        Tls tls,
        int healthPort,
        Path signingMarkFile,
        boolean rejoinNonVoting,
        long pruneKeepBlocks,
        StateSync stateSync) {

    /**
     * The fewest blocks a pruning node keeps whole: what the store and the checkpoint window need
     * (the state tree is rebuilt from up to 64 blocks at open; checkpoints span 32). Catching up
     * needs far more; that is the operator's choice, not a floor here.
     */
    public static final long PRUNE_KEEP_BLOCKS_MIN = 256;

    /**
     * State snapshots and state sync.
     *
     * @param joinBySync a node whose block store does not exist yet builds it from a peer-served
     *     snapshot checked against genesis, instead of replaying every block (when no peer offers
     *     one, it replays)
     * @param snapshotIntervalBlocks take a snapshot of the state at every height that is a
     *     multiple of this (0: take none)
     * @param snapshotsKept snapshots kept on disk, the newest
     */
    public record StateSync(boolean joinBySync, long snapshotIntervalBlocks, int snapshotsKept) {
        /** The fewest blocks between snapshots: each one reads the whole state. */
        public static final long INTERVAL_MIN = 64;
        public static final int KEPT_MAX = 16;

        public static StateSync defaults() {
            return new StateSync(false, 1024, 2);
        }
    }

    /** With the signing mark beside the key file, no non-voting rejoin, no pruning and default snapshots. */
    public NodeConfig(int replica, String listenHost, int listenPort, int metricsPort, Path dataDir, Path keyFile,
                      Path genesisFile, Tuning tuning, Tls tls, int healthPort) {
        this(replica, listenHost, listenPort, metricsPort, dataDir, keyFile, genesisFile, tuning, tls, healthPort,
                defaultSigningMark(keyFile), false, 0, StateSync.defaults());
    }

    public static Path defaultSigningMark(Path keyFile) {
        return keyFile.resolveSibling("signing-mark");
    }

    public NodeConfig withRejoinNonVoting(boolean rejoin) {
        return new NodeConfig(replica, listenHost, listenPort, metricsPort, dataDir, keyFile, genesisFile, tuning, tls,
                healthPort, signingMarkFile, rejoin, pruneKeepBlocks, stateSync);
    }

    public NodeConfig withPruneKeepBlocks(long keepBlocks) {
        return new NodeConfig(replica, listenHost, listenPort, metricsPort, dataDir, keyFile, genesisFile, tuning, tls,
                healthPort, signingMarkFile, rejoinNonVoting, keepBlocks, stateSync);
    }

    public NodeConfig withStateSync(StateSync sync) {
        return new NodeConfig(replica, listenHost, listenPort, metricsPort, dataDir, keyFile, genesisFile, tuning, tls,
                healthPort, signingMarkFile, rejoinNonVoting, pruneKeepBlocks, sync);
    }

    /**
     * The node's TLS files (its key and certificate, issued by the network CA genesis names), or
     * plaintext. Plaintext is never a default: {@code tls.plaintext=true} must be written, and the
     * node also refuses it unless genesis names no CA (see NetworkTls).
     */
    public record Tls(boolean plaintext, Path certFile, Path keyFile) {
        public static Tls plaintextOnPurpose() {
            return new Tls(true, null, null);
        }

        public static Tls files(Path certFile, Path keyFile) {
            return new Tls(false, certFile, keyFile);
        }
    }

    /**
     * Limits and pool sizes; every bound here has a decided behaviour at the bound, and an
     * out-of-range value is refused when the file is read (NodeConfigTest).
     * {@code pipelineDepthMax} is how many batches the primary keeps proposed but not committed
     * (it proposes the next before it executes the one just committed).
     * It is 1 by default: each batch costs the same consensus work however full it is (about ten
     * signatures per replica, a WAL write, a block), so on a small machine fewer, fuller batches
     * both carry more and wait less ({@code scripts/bench.sh --node-setting
     * tuning.pipeline.depth.max=N} measures another depth).
     */
    public record Tuning(
            int verifyThreads,
            int peerQueueMax,
            int inboundQueueMax,
            int messageBytesMax,
            int transactionBytesMax,
            int pendingTransactionsMax,
            int submitWaitMaxMillis,
            int tickMillis,
            long mapSizeBytes,
            int pipelineDepthMax) {
        public static Tuning defaults() {
            return new Tuning(1, 4096, 8192, 4 << 20, 8 << 10, 20_000, 30_000, 50, 1L << 30, 1);
        }
    }

    static final Set<String> KEYS = Set.of(
            "replica", "listen.host", "listen.port", "metrics.port", "data.dir", "key.file", "genesis.file",
            "tuning.verify.threads", "tuning.peer.queue.max", "tuning.inbound.queue.max",
            "tuning.message.bytes.max", "tuning.transaction.bytes.max", "tuning.pending.transactions.max",
            "tuning.submit.wait.max.millis", "tuning.tick.millis", "tuning.lmdb.map.size.bytes",
            "tuning.pipeline.depth.max", "tls.plaintext", "tls.cert.file", "tls.key.file", "health.port",
            "signing.mark.file", "rejoin.non.voting", "prune.keep.blocks", "state.sync", "snapshot.interval.blocks",
            "snapshot.keep");

    public static NodeConfig read(Path file) throws ConfigException {
        Properties p = new Properties();
        try (Reader r = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
            p.load(r);
        } catch (NoSuchFileException e) {
            throw new ConfigException("node config " + file + " does not exist. Create a network with"
                    + " `bftledger init --nodes 4 --dir <dir>`, which writes <dir>/node0/node.properties.");
        } catch (IOException | IllegalArgumentException e) {
            throw new ConfigException("cannot read node config " + file + ": " + e.getMessage(), e);
        }
        return parse(p, file.toAbsolutePath().getParent(), file.toString());
    }

    static NodeConfig parse(Properties p, Path base, String source) throws ConfigException {
        Set<String> unknown = new TreeSet<>(p.stringPropertyNames());
        unknown.removeAll(KEYS);
        if (!unknown.isEmpty()) {
            throw new ConfigException(source + ": unknown keys " + unknown + ". Known keys: " + new TreeSet<>(KEYS));
        }
        Tuning d = Tuning.defaults();
        Tuning tuning = new Tuning(
                intIn(p, source, "tuning.verify.threads", d.verifyThreads(), 1, 8),
                intIn(p, source, "tuning.peer.queue.max", d.peerQueueMax(), 16, 1 << 20),
                intIn(p, source, "tuning.inbound.queue.max", d.inboundQueueMax(), 16, 1 << 20),
                intIn(p, source, "tuning.message.bytes.max", d.messageBytesMax(), 1024, 64 << 20),
                intIn(p, source, "tuning.transaction.bytes.max", d.transactionBytesMax(), 256, 1 << 20),
                intIn(p, source, "tuning.pending.transactions.max", d.pendingTransactionsMax(), 1, 1 << 22),
                intIn(p, source, "tuning.submit.wait.max.millis", d.submitWaitMaxMillis(), 1, 600_000),
                intIn(p, source, "tuning.tick.millis", d.tickMillis(), 1, 10_000),
                longIn(p, source, "tuning.lmdb.map.size.bytes", d.mapSizeBytes(), 1L << 20, 1L << 40),
                intIn(p, source, "tuning.pipeline.depth.max", d.pipelineDepthMax(), 1, 64));
        Path keyFile = path(p, source, base, "key.file");
        String mark = p.getProperty("signing.mark.file");
        return new NodeConfig(
                intIn(p, source, "replica", null, 0, 1000),
                string(p, source, "listen.host", "127.0.0.1"),
                intIn(p, source, "listen.port", null, 1, 65535),
                intIn(p, source, "metrics.port", 0, 0, 65535),
                path(p, source, base, "data.dir"),
                keyFile,
                path(p, source, base, "genesis.file"),
                tuning,
                tls(p, source, base),
                intIn(p, source, "health.port", 0, 0, 65535),
                mark == null || mark.isBlank() ? defaultSigningMark(keyFile) : path(p, source, base, "signing.mark.file"),
                bool(p, source, "rejoin.non.voting", false),
                pruneKeepBlocks(p, source),
                stateSync(p, source));
    }

    private static StateSync stateSync(Properties p, String source) throws ConfigException {
        StateSync d = StateSync.defaults();
        long interval = longIn(p, source, "snapshot.interval.blocks", d.snapshotIntervalBlocks(), 0, Long.MAX_VALUE);
        if (interval != 0 && interval < StateSync.INTERVAL_MIN) {
            throw new ConfigException(source + ": 'snapshot.interval.blocks' is " + interval + "; it must be 0 (take no"
                    + " snapshots) or at least " + StateSync.INTERVAL_MIN + ".");
        }
        return new StateSync(bool(p, source, "state.sync", d.joinBySync()), interval,
                intIn(p, source, "snapshot.keep", d.snapshotsKept(), 1, StateSync.KEPT_MAX));
    }

    private static long pruneKeepBlocks(Properties p, String source) throws ConfigException {
        long keep = longIn(p, source, "prune.keep.blocks", 0L, 0, Long.MAX_VALUE);
        if (keep != 0 && keep < PRUNE_KEEP_BLOCKS_MIN) {
            throw new ConfigException(source + ": 'prune.keep.blocks' is " + keep + "; it must be 0 (keep every block) or at least "
                    + PRUNE_KEEP_BLOCKS_MIN + ".");
        }
        return keep;
    }

    private static Tls tls(Properties p, String source, Path base) throws ConfigException {
        String plaintext = string(p, source, "tls.plaintext", "false");
        if (!plaintext.equals("true") && !plaintext.equals("false")) {
            throw new ConfigException(source + ": 'tls.plaintext' is '" + plaintext + "'; write true or false.");
        }
        if (plaintext.equals("true")) {
            if (p.getProperty("tls.cert.file") != null || p.getProperty("tls.key.file") != null) {
                throw new ConfigException(source + ": tls.plaintext=true with tls.cert.file or tls.key.file; keep one or the other.");
            }
            return Tls.plaintextOnPurpose();
        }
        if (p.getProperty("tls.cert.file") == null || p.getProperty("tls.key.file") == null) {
            throw new ConfigException(source + ": missing tls.cert.file and tls.key.file (the node's TLS certificate and key,"
                    + " written by `bftledger init` to node<i>/tls/). A node without TLS needs tls.plaintext=true, on a"
                    + " network created with `init --plaintext`.");
        }
        return Tls.files(path(p, source, base, "tls.cert.file"), path(p, source, base, "tls.key.file"));
    }

    /** The properties text for this config (paths written as given). */
    public String toProperties() {
        return "# bftledger node config; relative paths are resolved against this file's directory.\n"
                + "replica=" + replica + "\n"
                + "listen.host=" + listenHost + "\n"
                + "listen.port=" + listenPort + "\n"
                + "metrics.port=" + metricsPort + "\n"
                + "data.dir=" + dataDir + "\n"
                + "key.file=" + keyFile + "\n"
                + "genesis.file=" + genesisFile + "\n"
                + (tls.plaintext() ? "tls.plaintext=true\n" : "tls.cert.file=" + tls.certFile() + "\ntls.key.file=" + tls.keyFile() + "\n")
                + (healthPort > 0 ? "health.port=" + healthPort + "\n" : "")
                + "tuning.verify.threads=" + tuning.verifyThreads() + "\n"
                + "tuning.peer.queue.max=" + tuning.peerQueueMax() + "\n"
                + "tuning.inbound.queue.max=" + tuning.inboundQueueMax() + "\n"
                + "tuning.message.bytes.max=" + tuning.messageBytesMax() + "\n"
                + "tuning.transaction.bytes.max=" + tuning.transactionBytesMax() + "\n"
                + "tuning.pending.transactions.max=" + tuning.pendingTransactionsMax() + "\n"
                + "tuning.submit.wait.max.millis=" + tuning.submitWaitMaxMillis() + "\n"
                + "tuning.tick.millis=" + tuning.tickMillis() + "\n"
                + "tuning.lmdb.map.size.bytes=" + tuning.mapSizeBytes() + "\n"
                + "tuning.pipeline.depth.max=" + tuning.pipelineDepthMax() + "\n"
                + "# Outside data.dir, so a data directory restored from a copy is recognised as older than the node.\n"
                + "signing.mark.file=" + signingMarkFile + "\n"
                + "# true: after losing its consensus WAL, rejoin without voting instead of refusing to start.\n"
                + "rejoin.non.voting=" + rejoinNonVoting + "\n"
                + "# 0: keep every block whole; N: keep the last N whole, older ones as header, certificate and receipts.\n"
                + "prune.keep.blocks=" + pruneKeepBlocks + "\n"
                + "# true: a node with no block store yet joins from a peer's state snapshot instead of replaying every block.\n"
                + "state.sync=" + stateSync.joinBySync() + "\n"
                + "# A state snapshot (served to joining nodes) every this many blocks (0: none); the newest snapshot.keep are kept.\n"
                + "snapshot.interval.blocks=" + stateSync.snapshotIntervalBlocks() + "\n"
                + "snapshot.keep=" + stateSync.snapshotsKept() + "\n";
    }

    private static boolean bool(Properties p, String source, String key, boolean dflt) throws ConfigException {
        String v = p.getProperty(key);
        if (v == null || v.isBlank()) {
            return dflt;
        }
        return switch (v.strip()) {
            case "true" -> true;
            case "false" -> false;
            default -> throw new ConfigException(source + ": '" + key + "' is '" + v.strip() + "'; it must be true or false.");
        };
    }

    private static String string(Properties p, String source, String key, String dflt) throws ConfigException {
        String v = p.getProperty(key);
        if (v == null || v.isBlank()) {
            if (dflt == null) {
                throw new ConfigException(source + ": missing required key '" + key + "'.");
            }
            return dflt;
        }
        return v.strip();
    }

    private static Path path(Properties p, String source, Path base, String key) throws ConfigException {
        Path path = Path.of(string(p, source, key, null));
        return path.isAbsolute() || base == null ? path : base.resolve(path).normalize();
    }

    private static int intIn(Properties p, String source, String key, Integer dflt, int min, int max)
            throws ConfigException {
        return (int) longIn(p, source, key, dflt == null ? null : dflt.longValue(), min, max);
    }

    private static long longIn(Properties p, String source, String key, Long dflt, long min, long max)
            throws ConfigException {
        String v = p.getProperty(key);
        if (v == null || v.isBlank()) {
            if (dflt == null) {
                throw new ConfigException(source + ": missing required key '" + key + "'.");
            }
            return dflt;
        }
        long value;
        try {
            value = Long.parseLong(v.strip());
        } catch (NumberFormatException e) {
            throw new ConfigException(source + ": '" + key + "' is '" + v.strip() + "', not a whole number.");
        }
        if (value < min || value > max) {
            throw new ConfigException(source + ": '" + key + "' is " + value + "; it must be between "
                    + min + " and " + max + ".");
        }
        return value;
    }
}
