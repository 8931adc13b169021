package bftledger.node.cli;

import bftledger.api.proto.Evidence;
import bftledger.api.proto.GetBlockRequest;
import bftledger.api.proto.GetBlockResponse;
import bftledger.api.proto.GetCertifiedHeaderRequest;
import bftledger.api.proto.GetCertifiedHeaderResponse;
import bftledger.api.proto.GetEvidenceRequest;
import bftledger.api.proto.GetStatusRequest;
import bftledger.api.proto.GetStatusResponse;
import bftledger.api.proto.LedgerApiGrpc;
import bftledger.crypto.Digest;
import bftledger.crypto.Sha256;
import bftledger.ledger.BlockChecker;
import bftledger.ledger.ChainGenesis;
import bftledger.ledger.proto.Block;
import bftledger.ledger.proto.BlockHeader;
import bftledger.ledger.proto.CommitCertificate;
import bftledger.sdk.Network;
import bftledger.sdk.ProofVerifier;
import bftledger.sdk.Verdict;
import com.google.protobuf.InvalidProtocolBufferException;
import io.grpc.ManagedChannel;
import java.io.PrintWriter;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeSet;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import picocli.CommandLine;

/**
 * The online audit: asks every node of the latest validator set (the chain of sets followed from
 * genesis, each approved by the one before) for every block up to its height and checks each block
 * as that node serves it (its commit certificate against the set in force at its height, its link
 * to the block before it,
 * its transactions and receipts against the header's roots, every signature, and that its anchor
 * names the node's own earlier header), then compares nodes height by height. A node diverges at the first height where its
 * block differs from the one most nodes hold; a node that is only behind is reported as such. A
 * node that pruned its older blocks (it answers with pruned_below) is compared from its first
 * whole block, linked to the header below it as the node's latest certified header proves it; the
 * offline audit checks its kept headers from genesis.
 * Evidence held by each node is verified with the keys of the set in force at its sequence alone ({@link EvidenceCheck}):
 * each piece is reported with the replica it accuses, the slot, both signed messages (hex) and
 * whether it holds up; {@code culprits} (top level in {@code --json}) lists the replicas proven
 * faulty by at least one verified piece, empty when none. Where nodes hold different blocks at
 * one height, the two blocks' commit certificates are evidence too ({@link ForkEvidence}): a
 * replica that commit-signed both for the same view and sequence is added to {@code culprits}
 * (details under {@code fork_evidence}); an overlap across different views is only listed under
 * {@code suspects}. Evidence does not fail the audit (the honest ledgers can agree while a
 * faulty replica is caught); divergence or a node down does.
 */
final class OnlineAudit {
    /** Recent block hashes kept per node: anchors name headers at most a watermark window back. */
    static final long ANCHOR_WINDOW = 256;

    private OnlineAudit() {}

    /** Whether the header's anchor names a block of the same node's chain (or names none, or one no longer kept). */
    private static boolean anchorInChain(BlockHeader header, TreeMap<Long, Digest> chain) {
        long anchored = header.getAnchorHeight();
        Digest known = chain.get(anchored);
        return anchored == 0 || known == null || known.equals(Digest.of(header.getAnchorHash().toByteArray()));
    }

    static int run(CommandLine.Model.CommandSpec spec, boolean json, ChainGenesis genesis, ClientTransportOptions transport,
                   Duration timeout) throws bftledger.node.config.ConfigException {
        PrintWriter err = spec.commandLine().getErr();
        Network network = followingValidators(transport.apply(Network.fromGenesisBytes(genesis.bytes())), timeout, err);
        ProofVerifier verifier = new ProofVerifier(network);
        // The validators of the latest set are audited: the nodes that run the network now.
        bftledger.ledger.ValidatorSets.ValidatorSet audited = network.validators().latest();
        List<bftledger.ledger.ValidatorSets.ValidatorSet> chainOfSets = network.validators().sets();
        int n = audited.n();
        List<ManagedChannel> channels = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            channels.add(bftledger.sdk.TlsChannels.builder(network, audited, i, null).maxInboundMessageSize(64 << 20).build());
        }
        try {
            long[] heights = new long[n];
            boolean[] up = new boolean[n];
            EvidenceCheck evidence = EvidenceCheck.following(chainOfSets);
            ForkEvidence forks = ForkEvidence.following(chainOfSets);
            for (int i = 0; i < n; i++) {
                try {
                    GetStatusResponse s = stub(channels.get(i), timeout).getStatus(GetStatusRequest.getDefaultInstance());
                    heights[i] = s.getHeight();
                    up[i] = true;
                    for (Evidence e : stub(channels.get(i), timeout).getEvidence(GetEvidenceRequest.getDefaultInstance()).getEvidenceList()) {
                        evidence.add(i, e);
                    }
                } catch (RuntimeException e) {
                    up[i] = false;
                }
            }
            long top = 0;
            for (int i = 0; i < n; i++) {
                top = Math.max(top, up[i] ? heights[i] : 0);
            }
            Digest[] previous = new Digest[n];
            for (int i = 0; i < n; i++) {
                previous[i] = genesis.hash();
            }
            long[] divergedAt = new long[n];
            // Per node, the lowest height it keeps whole when it said it pruned the blocks below (0: it did not).
            long[] prunedBelow = new long[n];
            List<TreeMap<Long, Digest>> chains = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                chains.add(new TreeMap<>());
            }
            List<Object> problems = new ArrayList<>();
            for (long h = 1; h <= top; h++) {
                Map<Digest, List<Integer>> byHash = new TreeMap<>();
                Map<Digest, CommitCertificate> certificates = new TreeMap<>();
                for (int i = 0; i < n; i++) {
                    if (!up[i] || h > heights[i] || divergedAt[i] > 0 || h < prunedBelow[i]) {
                        continue;
                    }
                    String problem = null;
                    try {
                        GetBlockResponse r = stub(channels.get(i), timeout).getBlock(GetBlockRequest.newBuilder().setHeight(h).build());
                        if (!r.getFound() && r.getPrunedBelow() > h) {
                            // Compared from its first whole block on, linked to the header below it as a
                            // later certified header proves it (the tip is never pruned).
                            long kept = r.getPrunedBelow();
                            Optional<Digest> below = kept > heights[i] ? Optional.empty()
                                    : provenHash(verifier, stub(channels.get(i), timeout), kept - 1, genesis);
                            if (below.isEmpty()) {
                                problem = "says it pruned below " + kept + " (its height " + heights[i]
                                        + ") and does not prove the header below that";
                            } else {
                                prunedBelow[i] = kept;
                                previous[i] = below.get();
                                chains.get(i).put(kept - 1, below.get());
                            }
                        } else if (!r.getFound()) {
                            problem = "does not serve a block it reports holding";
                        } else {
                            Block block = r.getBlock();
                            // Contents too: the roots recomputed from the transactions and receipts the node serves.
                            BlockChecker.BlockCheck check = BlockChecker.checkServed(genesis, chainOfSets, h, previous[i], block);
                            Digest hash = Sha256.hash(block.getHeader().toByteArray());
                            if (!check.ok()) {
                                problem = "serves a block that does not check: " + check.problems();
                            } else if (!anchorInChain(check.header(), chains.get(i))) {
                                problem = "serves a block whose batch certifies header " + check.header().getAnchorHeight()
                                        + " with a hash its own chain does not have there";
                            } else {
                                previous[i] = hash;
                                chains.get(i).put(h, hash);
                                chains.get(i).headMap(h - ANCHOR_WINDOW).clear();
                                byHash.computeIfAbsent(hash, k -> new ArrayList<>()).add(i);
                                certificates.putIfAbsent(hash, block.getCertificate());
                            }
                        }
                    } catch (RuntimeException e) {
                        problem = "block unreadable: " + e.getMessage();
                    }
                    if (problem != null) {
                        divergedAt[i] = h;
                        problems.add(CommandOutput.fields("node", i, "height", h, "problem", problem));
                    }
                }
                if (byHash.size() > 1) {
                    // Two valid certificates for different blocks at one height: the replicas that signed both
                    // for one view and sequence are proven faulty, even if no node saw both sides.
                    List<Digest> hashes = new ArrayList<>(byHash.keySet());
                    for (int a = 0; a < hashes.size(); a++) {
                        for (int b = a + 1; b < hashes.size(); b++) {
                            forks.compare(h, certificates.get(hashes.get(a)), byHash.get(hashes.get(a)),
                                    certificates.get(hashes.get(b)), byHash.get(hashes.get(b)));
                        }
                    }
                    List<Integer> majority = byHash.values().stream().max((a, b) -> Integer.compare(a.size(), b.size())).orElseThrow();
                    for (List<Integer> group : byHash.values()) {
                        if (group != majority) {
                            for (int i : group) {
                                divergedAt[i] = h;
                                problems.add(CommandOutput.fields("node", i, "height", h, "problem", "holds a different block than nodes " + majority));
                            }
                        }
                    }
                }
                if (!json && (h == top || h % Math.max(1, top / 20) == 0)) {
                    err.printf("\raudited %d/%d heights", h, top);
                    err.flush();
                }
            }
            if (!json && top > 0) {
                err.println();
            }
            List<Object> nodes = new ArrayList<>();
            StringBuilder text = new StringBuilder();
            boolean agreed = true;
            for (int i = 0; i < n; i++) {
                Map<String, Object> m = new LinkedHashMap<>();
                m.put("node", i);
                m.put("up", up[i]);
                m.put("height", heights[i]);
                m.put("diverged_at", divergedAt[i] > 0 ? divergedAt[i] : null);
                m.put("behind_by", up[i] ? top - heights[i] : null);
                m.put("pruned_below", prunedBelow[i] > 0 ? prunedBelow[i] : null);
                nodes.add(m);
                agreed &= divergedAt[i] == 0;
                text.append(String.format("node%d  %s  height %d%s%s%n", i, up[i] ? "up  " : "DOWN", heights[i],
                        divergedAt[i] > 0 ? "  DIVERGES from height " + divergedAt[i]
                                : up[i] && heights[i] < top ? "  behind by " + (top - heights[i]) : up[i] ? "  agrees" : "",
                        prunedBelow[i] > 0 ? "  (pruned: compared from height " + prunedBelow[i] + ")" : ""));
            }
            for (Object p : problems) {
                text.append("problem: ").append(p).append('\n');
            }
            text.append(evidence.text());
            text.append(forks.text());
            TreeSet<Integer> culprits = new TreeSet<>(evidence.culprits());
            culprits.addAll(forks.culprits());
            TreeSet<Integer> suspects = new TreeSet<>(forks.suspectReplicas());
            suspects.removeAll(culprits);
            if (!culprits.isEmpty()) {
                text.append("culprits (proven faulty): ").append(culprits).append('\n');
            }
            if (!suspects.isEmpty()) {
                text.append("suspects (not proven): ").append(suspects).append('\n');
            }
            boolean allUp = true;
            for (boolean u : up) {
                allUp &= u;
            }
            boolean ok = agreed && allUp;
            text.append(ok ? "online audit passed: all " + n + " nodes agree up to their heights (top " + top + ")"
                    : "online audit FAILED" + (allUp ? "" : " (some nodes are down)"));
            Map<String, Object> result = new LinkedHashMap<>();
            result.put("passed", ok);
            result.put("top_height", top);
            result.put("nodes", nodes);
            result.put("problems", problems);
            result.put("evidence", evidence.json());
            result.put("fork_evidence", forks.json());
            result.put("culprits", List.copyOf(culprits));
            result.put("suspects", List.copyOf(suspects));
            result.put("suspect_details", forks.suspectsJson());
            CommandOutput.print(spec, json, result, text.toString());
            return ok ? 0 : 1;
        } finally {
            channels.forEach(ManagedChannel::shutdownNow);
        }
    }

    /** The hash of header {@code height} (0: the genesis), proven against genesis by the node's latest certified header. */
    /**
     * {@code network} following the chain of validator sets the nodes' VALIDATORS record names,
     * each set checked from genesis by its approvals ({@link bftledger.sdk.ValidatorChain#verify});
     * genesis's set alone when no node answers with a record that checks (said on {@code err}).
     * Every certificate is then checked against the set in force at its height, pruned nodes'
     * included, whose blocks no longer carry the changes.
     */
    private static Network followingValidators(Network network, Duration timeout, PrintWriter err) {
        try (bftledger.sdk.LedgerClient client = bftledger.sdk.LedgerClient.connect(network)) {
            return network.withValidators(client.refreshValidators(timeout));
        } catch (bftledger.sdk.LedgerClientException | RuntimeException e) {
            err.println("warning: no node proved the chain of validator sets (" + e.getMessage()
                    + "); auditing against genesis's set alone");
            return network;
        }
    }

    private static Optional<Digest> provenHash(ProofVerifier verifier, LedgerApiGrpc.LedgerApiBlockingStub node, long height,
            ChainGenesis genesis) {
        if (height == 0) {
            return Optional.of(genesis.hash());
        }
        GetCertifiedHeaderResponse r = node.getCertifiedHeader(GetCertifiedHeaderRequest.newBuilder().setExtendsHeight(height).build());
        if (!verifier.verifyCertifiedHeader(r, height).ok()) {
            return Optional.empty();
        }
        return Optional.of(Sha256.hash(r.getExtends().getHeader().toByteArray()));
    }

    private static LedgerApiGrpc.LedgerApiBlockingStub stub(ManagedChannel channel, Duration timeout) {
        return LedgerApiGrpc.newBlockingStub(channel).withDeadlineAfter(timeout.toMillis(), TimeUnit.MILLISECONDS);
    }
}
