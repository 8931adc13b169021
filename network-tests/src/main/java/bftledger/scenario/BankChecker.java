package bftledger.scenario;

import bftledger.api.proto.Evidence;
import bftledger.api.proto.GetAccountRequest;
import bftledger.api.proto.GetAccountResponse;
import bftledger.api.proto.GetBlockRequest;
import bftledger.api.proto.GetBlockResponse;
import bftledger.api.proto.GetEvidenceRequest;
import bftledger.api.proto.GetStatusResponse;
import bftledger.api.proto.GetTransactionRequest;
import bftledger.api.proto.GetTransactionResponse;
import bftledger.crypto.CommitVote;
import bftledger.crypto.Digest;
import bftledger.crypto.PublicKey;
import bftledger.crypto.KeyPair;
import bftledger.crypto.Sha256;
import bftledger.ledger.BlockStore;
import bftledger.ledger.Blocks;
import bftledger.ledger.LedgerVerifier;
import bftledger.ledger.StoreCorruptedException;
import bftledger.ledger.proto.CommitCertificate;
import bftledger.ledger.proto.CommitSignature;
import com.google.protobuf.ByteString;
import io.grpc.StatusRuntimeException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Optional;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.stream.Collectors;

/**
 * The bank test's checker over the honest nodes of a {@link ScenarioCluster}. Each check adds
 * {@link Violation}s naming the check, the nodes and the heights; {@link #assertOk} fails with
 * all of them at once, so one run shows everything that went wrong.
 *
 * <p>Online checks ask each node on its own (never a quorum: the point is to compare nodes):
 * progress after the fault, convergence to one height and tip, identical block hashes at the
 * common height, acknowledged transactions present at the acknowledged height and block,
 * balances conserved and never negative, evidence recorded. Offline checks run on the data
 * directories of stopped nodes: the ledger verifier's full audit, every block hash compared
 * between nodes, balances and acknowledged transactions read from the store itself.
 */
public final class BankChecker {
    /** One failed check: which, on which nodes, at which heights, and what was seen. */
    public record Violation(String check, List<Integer> nodes, List<Long> heights, String detail) {
        @Override
        public String toString() {
            return check + " nodes=" + nodes + " heights=" + heights + ": " + detail;
        }
    }

    private static final Duration CALL_TIMEOUT = Duration.ofSeconds(10);

    private final ScenarioCluster cluster;
    private final BankWorkload workload;
    private final List<Integer> honest;
    private final List<Violation> violations = new ArrayList<>();

    public BankChecker(ScenarioCluster cluster, BankWorkload workload, Collection<Integer> honest) {
        this.cluster = cluster;
        this.workload = workload;
        this.honest = List.copyOf(new TreeSet<>(honest));
    }

    public List<Violation> violations() {
        return List.copyOf(violations);
    }

    private void violation(String check, List<Integer> nodes, List<Long> heights, String detail) {
        violations.add(new Violation(check, List.copyOf(nodes), List.copyOf(heights), detail));
    }

    /** Fails with every violation found so far, the workload summary and the nodes' status. */
    public void assertOk(String scenario) {
        if (!violations.isEmpty()) {
            throw new AssertionError(scenario + ": " + violations.size() + " check(s) failed:\n  "
                    + violations.stream().map(Violation::toString).collect(Collectors.joining("\n  "))
                    + "\nworkload: " + workload.summary() + "\nstatus:" + safeDescribe());
        }
    }

    private String safeDescribe() {
        try {
            return cluster.describe();
        } catch (RuntimeException e) {
            return " (nodes unreachable: " + e + ")";
        }
    }

    /**
     * Progress after the fault ended: {@code probes} fresh transfers, one after another, must each
     * be proven committed within {@code bound}; and the honest nodes' height must have grown.
     */
    public BankChecker progress(int probes, Duration bound) {
        List<Long> before = heights();
        int committed = workload.probe(cluster.client(), probes, bound);
        List<Long> after = heights();
        if (committed < probes) {
            violation("progress", honest, after, committed + " of " + probes + " probe transfers proven committed within "
                    + bound + " after the fault ended (heights before " + before + ")");
        }
        return this;
    }

    /** Heights of the honest nodes now (-1 where a node does not answer). */
    public List<Long> heights() {
        List<Optional<GetStatusResponse>> statuses = cluster.statuses();
        List<Long> out = new ArrayList<>();
        for (int i : honest) {
            out.add(statuses.get(i).map(GetStatusResponse::getHeight).orElse(-1L));
        }
        return out;
    }

    /**
     * After the fault ended the honest nodes reach one height with one tip hash within
     * {@code bound}; whether or not they do, the block hashes at their common height must agree.
     */
    public BankChecker converged(Duration bound) {
        long deadline = System.nanoTime() + bound.toNanos();
        List<Optional<GetStatusResponse>> last;
        do {
            last = cluster.statuses();
            if (sameTip(last)) {
                break;
            }
            sleep(200);
        } while (System.nanoTime() < deadline);
        List<Long> heights = new ArrayList<>();
        long min = Long.MAX_VALUE;
        for (int i : honest) {
            long h = last.get(i).map(GetStatusResponse::getHeight).orElse(-1L);
            heights.add(h);
            min = Math.min(min, h);
        }
        if (!sameTip(last)) {
            violation("same-height-after-fault", honest, heights, "honest nodes did not reach one height and tip within " + bound
                    + ":" + safeDescribe());
        }
        if (min > 0) {
            identicalAt(min);
        }
        return this;
    }

    private boolean sameTip(List<Optional<GetStatusResponse>> statuses) {
        GetStatusResponse first = null;
        for (int i : honest) {
            Optional<GetStatusResponse> s = statuses.get(i);
            if (s.isEmpty()) {
                return false;
            }
            if (first == null) {
                first = s.get();
            } else if (first.getHeight() != s.get().getHeight() || !first.getLastBlockHash().equals(s.get().getLastBlockHash())) {
                return false;
            }
        }
        return true;
    }

    /** Block hash at {@code height} on every honest node: one value (the chain links make it cover the prefix). */
    public BankChecker identicalAt(long height) {
        TreeMap<String, List<Integer>> byHash = new TreeMap<>();
        for (int i : honest) {
            String hash;
            try {
                GetBlockResponse r = cluster.stub(i, CALL_TIMEOUT).getBlock(GetBlockRequest.newBuilder().setHeight(height).build());
                hash = r.getFound() ? Digest.of(r.getBlockHash().toByteArray()).hex() : "absent";
            } catch (StatusRuntimeException e) {
                hash = "unreachable(" + e.getStatus().getCode() + ")";
            }
            byHash.computeIfAbsent(hash, k -> new ArrayList<>()).add(i);
        }
        if (byHash.size() > 1) {
            violation("identical-ledgers", honest, List.of(height), "block hashes at height " + height + " differ: " + byHash);
        }
        return this;
    }

    /** Every acknowledged transaction is on every honest node, at the height and in the block it was acknowledged in. */
    public BankChecker acknowledgedPresent() {
        for (BankWorkload.Ack ack : workload.acks()) {
            for (int i : honest) {
                String problem;
                long seenHeight = -1;
                try {
                    GetTransactionResponse r = cluster.stub(i, CALL_TIMEOUT).getTransaction(
                            GetTransactionRequest.newBuilder().setTxId(ByteString.copyFrom(ack.txId().bytes())).build());
                    seenHeight = r.getHeight();
                    if (!r.getFound()) {
                        problem = "absent";
                    } else if (r.getHeight() != ack.height()) {
                        problem = "at height " + r.getHeight();
                    } else if (!Sha256.hash(r.getProof().getBlockHeader().toByteArray()).equals(ack.blockHash())) {
                        problem = "in another block " + Sha256.hash(r.getProof().getBlockHeader().toByteArray()).shortHex();
                    } else if (r.getProof().getReceipt().getStatus() != ack.status()) {
                        problem = "with status " + r.getProof().getReceipt().getStatus();
                    } else {
                        continue;
                    }
                } catch (StatusRuntimeException e) {
                    problem = "unreachable (" + e.getStatus().getCode() + ")";
                }
                violation("acknowledged-present", List.of(i), List.of(ack.height(), seenHeight), "transaction "
                        + ack.txId().shortHex() + " acknowledged " + ack.status() + " at height " + ack.height() + " in block "
                        + ack.blockHash().shortHex() + " (" + ack.evidence() + ") is " + problem + " on node" + i);
            }
        }
        return this;
    }

    /**
     * On every honest node the funded accounts hold the genesis total between them (transfers only
     * move money among them) and none is negative. Read when the load has stopped; a node whose
     * height moves between reads is asked again.
     */
    public BankChecker balances() {
        for (int i : honest) {
            String problem = null;
            long height = -1;
            for (int attempt = 0; attempt < 5; attempt++) {
                problem = null;
                long total = 0;
                TreeSet<Long> heights = new TreeSet<>();
                List<String> negative = new ArrayList<>();
                try {
                    for (KeyPair a : cluster.accounts()) {
                        GetAccountResponse r = cluster.stub(i, CALL_TIMEOUT).getAccount(
                                GetAccountRequest.newBuilder().setAccount(ScenarioCluster.bytes(a.publicKey())).build());
                        heights.add(r.getHeight());
                        // uint64 on the wire: a negative balance would read as a huge one, above the total.
                        if (r.getBalance() < 0 || r.getBalance() > cluster.totalBalance()) {
                            negative.add(a.publicKey().shortHex() + "=" + Long.toUnsignedString(r.getBalance()));
                        }
                        total += r.getBalance();
                    }
                } catch (StatusRuntimeException e) {
                    problem = "unreachable (" + e.getStatus().getCode() + ")";
                    break;
                }
                height = heights.last();
                if (heights.size() > 1) {
                    problem = "height moved while reading balances: " + heights;
                    sleep(500);
                    continue;
                }
                if (!negative.isEmpty()) {
                    violation("no-negative-balance", List.of(i), List.of(height), "balances out of range: " + negative);
                }
                if (total != cluster.totalBalance()) {
                    violation("balance-conserved", List.of(i), List.of(height), "funded accounts hold " + total + ", genesis gave "
                            + cluster.totalBalance());
                }
                break;
            }
            if (problem != null) {
                violation("balance-conserved", List.of(i), List.of(height), "could not read balances: " + problem);
            }
        }
        return this;
    }

    /**
     * At least {@code holdersMin} honest nodes hold evidence naming {@code culprit} (an
     * equivocation reaches some honest replicas, not necessarily all), and no honest node holds
     * evidence naming another honest node.
     */
    public BankChecker evidenceAgainst(int culprit, int holdersMin) {
        List<Integer> holders = new ArrayList<>();
        TreeMap<Integer, TreeSet<Integer>> accused = new TreeMap<>();
        for (int i : honest) {
            try {
                List<Evidence> evidence = cluster.stub(i, CALL_TIMEOUT).getEvidence(GetEvidenceRequest.getDefaultInstance())
                        .getEvidenceList();
                TreeSet<Integer> names = evidence.stream().map(Evidence::getReplica).collect(Collectors.toCollection(TreeSet::new));
                accused.put(i, names);
                if (names.contains(culprit)) {
                    holders.add(i);
                }
                for (int h : honest) {
                    if (names.contains(h)) {
                        violation("evidence-accuses-honest", List.of(i), List.of(), "node" + i + " holds evidence against honest node" + h);
                    }
                }
            } catch (StatusRuntimeException e) {
                violation("evidence-recorded", List.of(i), List.of(), "node" + i + " unreachable: " + e.getStatus().getCode());
            }
        }
        if (holders.size() < holdersMin) {
            violation("evidence-recorded", honest, List.of(), "evidence against replica " + culprit + " held by " + holders
                    + ", needed at least " + holdersMin + " honest holders; accused by node: " + accused);
        }
        return this;
    }

    /**
     * No honest node holds evidence against anyone: every node was honest throughout, including
     * one that lost its WAL and rejoined (it must not have signed a second vote).
     */
    public BankChecker noEvidence() {
        for (int i : honest) {
            try {
                List<Evidence> evidence = cluster.stub(i, CALL_TIMEOUT).getEvidence(GetEvidenceRequest.getDefaultInstance())
                        .getEvidenceList();
                if (!evidence.isEmpty()) {
                    violation("no-evidence", List.of(i), List.of(), "node" + i + " holds evidence against "
                            + evidence.stream().map(e -> "replica " + e.getReplica() + " " + e.getKind()).toList());
                }
            } catch (StatusRuntimeException e) {
                violation("no-evidence", List.of(i), List.of(), "node" + i + " unreachable: " + e.getStatus().getCode());
            }
        }
        return this;
    }

    /**
     * The replicas proven faulty by two commit certificates for one view and sequence with
     * different batch digests: each replica whose signature verifies in both signed two
     * conflicting COMMITs, which an honest replica never does. The certificates themselves are
     * the signed evidence; only the genesis keys are needed to check it.
     */
    public static List<Integer> doubleSigners(CommitCertificate a, CommitCertificate b, List<PublicKey> validators) {
        if (a.getView() != b.getView() || a.getSequence() != b.getSequence() || a.getBatchDigest().equals(b.getBatchDigest())) {
            return List.of();
        }
        TreeSet<Integer> inA = validSigners(a, validators);
        TreeSet<Integer> both = validSigners(b, validators);
        both.retainAll(inA);
        return List.copyOf(both);
    }

    private static TreeSet<Integer> validSigners(CommitCertificate c, List<PublicKey> validators) {
        TreeSet<Integer> out = new TreeSet<>();
        Digest digest = Digest.of(c.getBatchDigest().toByteArray());
        for (CommitSignature s : c.getSignaturesList()) {
            int r = s.getReplica();
            if (r < validators.size() && new CommitVote(c.getView(), c.getSequence(), digest, r)
                    .verify(validators.get(r), s.getSignature().toByteArray())) {
                out.add(r);
            }
        }
        return out;
    }

    /** Adds a violation from a scenario's own assertion, so it is reported with the checker's. */
    public BankChecker require(boolean ok, String check, List<Integer> nodes, String detail) {
        if (!ok) {
            violation(check, nodes, List.of(), detail);
        }
        return this;
    }

    /**
     * On the stopped honest nodes' data directories: the full offline audit passes on each, all
     * have the same height and the same hash at every height, the accounts hold the genesis total
     * with none negative, and every acknowledged transaction is stored at its acknowledged height
     * and block.
     */
    public BankChecker offline() {
        List<BlockStore> stores = new ArrayList<>();
        List<Integer> opened = new ArrayList<>();
        try {
            for (int i : honest) {
                if (cluster.running(i)) {
                    throw new IllegalStateException("node" + i + " is running; stop it before the offline check");
                }
                try {
                    stores.add(BlockStore.open(cluster.data(i).resolve("ledger"), cluster.genesis(), 256L << 20));
                    opened.add(i);
                } catch (StoreCorruptedException e) {
                    violation("offline-audit", List.of(i), List.of(), "store of node" + i + " does not open: " + e.getMessage());
                }
            }
            List<Long> heights = new ArrayList<>();
            for (int k = 0; k < stores.size(); k++) {
                int i = opened.get(k);
                LedgerVerifier.Report report = LedgerVerifier.verify(stores.get(k), LedgerVerifier.Progress.NONE);
                heights.add(stores.get(k).height());
                if (!report.ok()) {
                    violation("offline-audit", List.of(i), report.problems().stream().limit(5).map(p -> p.height()).toList(),
                            "node" + i + ": " + report.problemCount() + " problems, first " + report.problems().stream().limit(5).toList());
                }
                storeBalances(i, stores.get(k));
            }
            if (new TreeSet<>(heights).size() > 1) {
                violation("same-height-offline", opened, heights, "stopped honest nodes hold different heights");
            }
            long common = heights.stream().mapToLong(Long::longValue).min().orElse(0);
            for (long h = 1; h <= common; h++) {
                TreeMap<String, List<Integer>> byHash = new TreeMap<>();
                for (int k = 0; k < stores.size(); k++) {
                    // The hash, which a pruned block keeps too.
                    Optional<bftledger.crypto.Digest> b = stores.get(k).blockHash(h);
                    byHash.computeIfAbsent(b.map(bftledger.crypto.Digest::hex).orElse("absent"), x -> new ArrayList<>()).add(opened.get(k));
                }
                if (byHash.size() > 1) {
                    violation("identical-ledgers-offline", opened, List.of(h), "first differing height " + h + ": " + byHash);
                    break;
                }
            }
            for (BankWorkload.Ack ack : workload.acks()) {
                for (int k = 0; k < stores.size(); k++) {
                    Optional<BlockStore.TxRecord> r = stores.get(k).transaction(ack.txId());
                    if (r.isEmpty() || r.get().height() != ack.height() || !Blocks.hash(r.get().block()).equals(ack.blockHash())) {
                        violation("acknowledged-present-offline", List.of(opened.get(k)),
                                List.of(ack.height(), r.map(BlockStore.TxRecord::height).orElse(-1L)),
                                "transaction " + ack.txId().shortHex() + " acknowledged at height " + ack.height() + " is "
                                        + r.map(x -> "at height " + x.height() + " block " + Blocks.hash(x.block()).shortHex())
                                                .orElse("absent"));
                    }
                }
            }
        } finally {
            for (BlockStore s : stores) {
                s.close();
            }
        }
        return this;
    }

    private void storeBalances(int node, BlockStore store) {
        long[] total = {0};
        List<String> negative = new ArrayList<>();
        long height;
        try (bftledger.ledger.StoreSnapshot snapshot = store.snapshot()) {
            height = snapshot.height();
            snapshot.forEachAccount((account, balance) -> {
                if (balance < 0) {
                    negative.add(Digest.of(account.toByteArray()).shortHex() + "=" + balance);
                }
                total[0] += balance;
            });
        }
        if (!negative.isEmpty()) {
            violation("no-negative-balance-offline", List.of(node), List.of(height), "negative balances: " + negative);
        }
        if (total[0] != cluster.totalBalance()) {
            violation("balance-conserved-offline", List.of(node), List.of(height), "accounts hold " + total[0]
                    + ", genesis gave " + cluster.totalBalance());
        }
    }

    private static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted", e);
        }
    }
}
