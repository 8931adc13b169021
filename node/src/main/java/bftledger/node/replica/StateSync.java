package bftledger.node.replica;

import bftledger.crypto.PublicKey;
import bftledger.crypto.Sha256;
import bftledger.ledger.Blocks;
import bftledger.ledger.ChainGenesis;
import bftledger.ledger.DurableFiles;
import bftledger.ledger.Proofs;
import bftledger.ledger.StateBuckets;
import bftledger.ledger.StateSyncBuilder;
import bftledger.ledger.ValidatorSets;
import bftledger.ledger.ValidatorSets.ValidatorSet;
import bftledger.ledger.proto.Block;
import bftledger.ledger.proto.BlockHeader;
import bftledger.ledger.proto.HeaderProof;
import bftledger.ledger.proto.StateEntry;
import bftledger.ledger.proto.StateSnapshotManifest;
import bftledger.node.net.PeerNetwork;
import bftledger.node.proto.FetchBlocksRequest;
import bftledger.node.proto.FetchStateChunkRequest;
import bftledger.node.proto.GetHeaderProofRequest;
import bftledger.node.proto.GetStateManifestRequest;
import bftledger.node.proto.ListStateSnapshotsRequest;
import bftledger.node.proto.ListStateSnapshotsResponse;
import bftledger.node.proto.PeerTransportGrpc;
import bftledger.node.proto.StateChunk;
import com.google.protobuf.ByteString;
import com.google.protobuf.InvalidProtocolBufferException;
import io.grpc.ChannelCredentials;
import io.grpc.ManagedChannel;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Builds a joining replica's block store from its peers' state snapshots instead of replaying
 * every block (node config {@code state.sync}). Trusts no peer, and blames only the one at
 * fault: first a proof that the snapshot block's header is certified by a later block (a
 * block's own certificate does not cover its state root); then the snapshot's manifest, whose
 * buckets must combine to that header's state root; then each of the 256 buckets, which must
 * hash to its manifest entry, from the snapshot holders in turn; last the blocks up to that
 * height in their pruned form (header, certificate, receipts), each run pinned by a header
 * proof of its last block before it is checked ({@link #fetchRun}). A peer that serves anything
 * that does not check is named in the log ({@code event=state-sync-peer-refused}) and not asked
 * again; the part comes from another. The state comes before the blocks because holders replace
 * their snapshots as the chain grows, while blocks are kept longer.
 *
 * <p>After a validator-set change, certificates are signed by later sets at later addresses.
 * Every peer's answer to the snapshot listing carries its VALIDATORS record; each is checked
 * from genesis by the approvals every set carries ({@link ValidatorSets#verifyChain}), the
 * longest chain that extends the one held is taken, and the validators it names are asked too.
 * Certificates are then checked against the set in force at their height, and the state built
 * must name the same chain ({@link StateSyncBuilder#stateSetsProblem}). A record that does not
 * check gets its peer refused; an approved chain that conflicts with the one held is left aside.
 *
 * <p>The store is built in a staging directory beside the ledger's and moved into place only
 * when complete, so a crash in the middle leaves no store and the next start begins again
 * ({@code StateSyncPeersTest}). The receipts of every block are fetched because the transaction
 * index (the at-most-once rule) is part of what a replica executes on and is not in the state tree.
 *
 * <p>Bounds: a bucket's bytes at most {@link #BUCKET_BYTES_MAX}, counted as received; chunks of
 * {@link PeerNetwork#STATE_CHUNK_BYTES_MAX}; blocks in runs of {@link PeerNetwork#FETCH_BLOCKS_MAX};
 * every call within {@link #CALL_DEADLINE_MILLIS}. A peer that answers slowly but correctly is
 * not dropped: it only slows the sync.
 */
public final class StateSync implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(StateSync.class);

    /** How long a joining replica looks for a peer offering a snapshot before it replays from genesis instead. */
    public static final long DISCOVERY_MILLIS = 20_000;
    static final long CALL_DEADLINE_MILLIS = 15_000;
    /**
     * The largest bucket taken: a bucket is held whole in memory until checked. 256 of them is a
     * 16 GiB state; a larger one cannot be synced (the attempt fails and the node replays).
     */
    public static final long BUCKET_BYTES_MAX = 64L << 20;
    /** Rounds over every usable peer without progress before a sync attempt gives up. */
    static final int IDLE_ROUNDS_MAX = 5;
    /** Sync attempts (each at the best height the peers not yet refused offer) before falling back to replay. */
    static final int ATTEMPTS_MAX = 3;
    /** How long to wait for a later block to certify the snapshot's header (an idle network makes one within seconds). */
    static final long HEADER_PROOF_WAIT_MILLIS = 30_000;

    /** What a sync did: the height the store starts at, and the peers refused with why. */
    public record Outcome(long height, Map<Integer, String> refused) {}

    /** A sync attempt that cannot finish at this height. */
    static final class Failed extends Exception {
        Failed(String message) {
            super(message);
        }
    }

    private final int self;
    /** This replica's key, whose address in later sets is not dialled; null when unknown (tests). */
    private final PublicKey selfKey;
    private final ChainGenesis genesis;
    private final ChannelCredentials credentials;
    /**
     * Every peer's address, its index the peer's number in logs and outcomes: genesis's validators
     * first, then later sets'. Bounded by the validators of the sets genesis's chain of approvals
     * named (at most {@link ChainGenesis#MAX_VALIDATORS} each): a peer cannot add one of its own.
     */
    private final List<String> addresses = new ArrayList<>();
    private final Map<Integer, ManagedChannel> channels = new TreeMap<>();
    /** The chain of validator sets followed so far, genesis's first. */
    private List<ValidatorSet> sets;
    /** Peers caught serving something that does not check, with the first thing they were caught at. */
    private final Map<Integer, String> refused = new LinkedHashMap<>();

    private final long discoveryMillis;
    private final long mapSizeBytes;
    private final java.util.Set<Long> failedHeights = new java.util.HashSet<>();

    /**
     * @param self         this replica's index among genesis's validators, or -1 (not dialled)
     * @param selfKey      this replica's key: its address in later sets is not dialled
     * @param addresses    genesis's validators' addresses, in replica order; later sets' are learned
     * @param mapSizeBytes the LMDB map size of the store built (the node's {@code tuning.lmdb.map.size.bytes})
     */
    public StateSync(int self, PublicKey selfKey, ChainGenesis genesis, List<String> addresses, ChannelCredentials credentials,
                     long mapSizeBytes) {
        this(self, selfKey, genesis, addresses, credentials, mapSizeBytes, DISCOVERY_MILLIS);
    }

    /** With another discovery time than {@link #DISCOVERY_MILLIS} (tests). */
    StateSync(int self, PublicKey selfKey, ChainGenesis genesis, List<String> addresses, ChannelCredentials credentials,
              long mapSizeBytes, long discoveryMillis) {
        this.self = self;
        this.selfKey = selfKey;
        this.mapSizeBytes = mapSizeBytes;
        this.discoveryMillis = discoveryMillis;
        this.genesis = genesis;
        this.credentials = credentials;
        this.sets = List.of(ValidatorSets.genesisSet(genesis));
        for (String address : addresses) {
            addPeer(address);
        }
    }

    /** Dials {@code address} as the next peer, unless it is this replica's own. */
    private void addPeer(String address) {
        int peer = addresses.size();
        addresses.add(address);
        if (peer != self && !(self >= 0 && self < peer && address.equals(addresses.get(self)))) {
            channels.put(peer, NettyChannelBuilder.forTarget(address, credentials)
                    .maxInboundMessageSize(Blocks.MAX_BLOCK_BYTES + (1 << 20)).build());
        }
    }

    /** The chain of validator sets followed so far, genesis's first. */
    public List<ValidatorSet> sets() {
        return sets;
    }

    /**
     * Takes the chain {@code value} names if it checks from genesis and extends the one held,
     * and dials the validators it names that are not dialled yet (newest set first). A value
     * that does not check gets {@code peer} refused.
     */
    private void learnSets(int peer, ByteString value) {
        List<ValidatorSet> offered;
        try {
            offered = ValidatorSets.verifyChain(genesis, value);
        } catch (IllegalArgumentException e) {
            refuse(peer, "validator-set record: " + e.getMessage());
            return;
        }
        if (offered.size() <= sets.size()) {
            return;
        }
        if (!offered.subList(0, sets.size()).equals(sets)) {
            log.warn("event=state-sync-conflicting-sets peer={} address={} reason=\"an approved chain of {} sets that does not"
                    + " extend the {} held; left aside\"", peer, addresses.get(peer), offered.size(), sets.size());
            return;
        }
        sets = offered;
        log.info("event=state-sync-sets replica={} epoch={} from-height={} validators={}", self, ValidatorSets.latest(sets).epoch(),
                ValidatorSets.latest(sets).fromHeight(), ValidatorSets.latest(sets).addresses());
        for (int i = sets.size() - 1; i >= 0; i--) {
            ValidatorSet set = sets.get(i);
            for (int r = 0; r < set.n(); r++) {
                if (!set.keys().get(r).equals(selfKey) && !addresses.contains(set.validators().get(r).getAddress())) {
                    addPeer(set.validators().get(r).getAddress());
                }
            }
        }
    }

    /**
     * Builds the store in {@code ledgerDir} (which must not exist) from a snapshot, or returns
     * empty when no peer offers one within {@link #DISCOVERY_MILLIS} or none could be completed
     * (the node then replays from genesis, as without state sync).
     */
    public Optional<Outcome> run(Path ledgerDir) throws IOException {
        Path staging = ledgerDir.resolveSibling(ledgerDir.getFileName() + ".sync");
        DurableFiles.deleteTree(staging);
        Map<Long, List<Integer>> offers = discover(discoveryMillis);
        if (offers.isEmpty()) {
            log.warn("event=state-sync-skipped replica={} reason=\"no peer offered a state snapshot within {} ms; replaying from genesis\"",
                    self, discoveryMillis);
            return Optional.empty();
        }
        for (int attempt = 0; attempt < ATTEMPTS_MAX; attempt++) {
            if (attempt > 0) {
                // Holders replace their snapshots as the chain grows: ask again what they keep now,
                // and do not try a failed height again (one only a liar offers may never be proven).
                offers = discover(0);
                offers.keySet().removeAll(failedHeights);
            }
            Optional<Map.Entry<Long, List<Integer>>> candidate = best(offers);
            if (candidate.isEmpty()) {
                break;
            }
            long height = candidate.get().getKey();
            List<Integer> holders = usable(candidate.get().getValue());
            long started = System.nanoTime();
            log.info("event=state-sync-start replica={} height={} holders={}", self, height, holders);
            try (StateSyncBuilder builder = StateSyncBuilder.create(staging, genesis, mapSizeBytes, sets)) {
                // The state before the blocks: holders keep a snapshot only until newer ones replace
                // it, and the blocks are kept for longer.
                certifyHeader(builder, height);
                StateSnapshotManifest manifest = fetchManifest(builder, height, holders);
                fetchBuckets(builder, manifest, holders);
                Optional<String> setsProblem = builder.stateSetsProblem();
                if (setsProblem.isPresent()) {
                    throw new Failed(setsProblem.get());
                }
                fetchBlocks(builder, height);
                builder.finish();
            } catch (Failed e) {
                log.warn("event=state-sync-failed replica={} height={} reason=\"{}\"", self, height, e.getMessage());
                failedHeights.add(height);
                DurableFiles.deleteTree(staging);
                continue;
            }
            Files.move(staging, ledgerDir, StandardCopyOption.ATOMIC_MOVE);
            // Without it a crash could undo the move of a finished store.
            DurableFiles.syncDirectory(ledgerDir.getParent());
            log.info("event=state-synced replica={} height={} millis={} refused-peers={}", self, height,
                    TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started), refused.keySet());
            return Optional.of(new Outcome(height, Map.copyOf(refused)));
        }
        log.warn("event=state-sync-skipped replica={} reason=\"no offered snapshot could be completed; replaying from genesis\"", self);
        return Optional.empty();
    }

    /**
     * The height to sync to: the one the most peers not yet refused offer (more peers to spread
     * buckets over, and a height only a liar claims comes last), the newest among equals.
     */
    private Optional<Map.Entry<Long, List<Integer>>> best(Map<Long, List<Integer>> offers) {
        return offers.entrySet().stream().filter(e -> !usable(e.getValue()).isEmpty())
                .max(Comparator.<Map.Entry<Long, List<Integer>>>comparingInt(e -> usable(e.getValue()).size())
                        .thenComparing(Map.Entry::getKey));
    }

    /**
     * Snapshot heights offered, with the peers offering each; polls until one is offered or the
     * discovery time ends. Peers a learned set names are asked in the same round.
     */
    private Map<Long, List<Integer>> discover(long waitMillis) {
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(waitMillis);
        while (true) {
            Map<Long, List<Integer>> offers = new TreeMap<>();
            java.util.Set<Integer> asked = new java.util.HashSet<>();
            List<Integer> toAsk;
            while (!(toAsk = usable(channels.keySet()).stream().filter(p -> !asked.contains(p)).toList()).isEmpty()) {
                for (int peer : toAsk) {
                    asked.add(peer);
                    ListStateSnapshotsResponse listed;
                    try {
                        listed = stub(peer).listStateSnapshots(ListStateSnapshotsRequest.getDefaultInstance());
                    } catch (StatusRuntimeException e) {
                        log.debug("event=state-sync-list-failed peer={} error={}", peer, e.getStatus());
                        continue;
                    }
                    learnSets(peer, listed.getValidatorSets());
                    for (long h : listed.getHeightsList()) {
                        if (h > 0 && !refused.containsKey(peer)) {
                            offers.computeIfAbsent(h, k -> new ArrayList<>()).add(peer);
                        }
                    }
                }
            }
            if (!offers.isEmpty() || System.nanoTime() > deadline) {
                return offers;
            }
            sleep(1_000);
        }
    }

    /**
     * Blocks 1..height: pruned below height, whole at it, from every usable peer in turn, a run
     * of up to {@link PeerNetwork#FETCH_BLOCKS_MAX} per call. A run is taken only once its last
     * block's header is proven certified (a header proof from the same peer) and every block in
     * it links to the next by previous_hash: each block is then pinned by the certified chain
     * before it is checked, so whatever does not check is the fault of the peer that served it,
     * never of one that served an earlier run (a block's own certificate does not cover its
     * header's roots, so an unpinned forged block would only be caught by the next one's link).
     */
    private void fetchBlocks(StateSyncBuilder builder, long height) throws Failed {
        int turn = 0;
        int idle = 0;
        while (builder.height() < height) {
            List<Integer> usable = usable(channels.keySet());
            if (usable.isEmpty()) {
                throw new Failed("no peer left to fetch blocks from; refused: " + refused);
            }
            int peer = usable.get(turn++ % usable.size());
            long from = builder.height() + 1;
            Optional<List<Block>> run = fetchRun(peer, from, height);
            if (run.isPresent()) {
                for (Block block : run.get()) {
                    long at = builder.height() + 1;
                    Optional<String> problem = builder.appendBlock(block);
                    if (problem.isPresent()) {
                        refuse(peer, "block " + at + ": " + problem.get());
                        break;
                    }
                }
            }
            if (builder.height() >= from) {
                idle = 0;
            } else if (++idle > IDLE_ROUNDS_MAX * usable.size()) {
                throw new Failed("no peer served block " + from + " (" + IDLE_ROUNDS_MAX + " rounds)");
            } else if (idle % usable.size() == 0) {
                sleep(500);
            }
        }
    }

    /**
     * Blocks from {@code from} (below {@code height} in their pruned form, {@code height} whole)
     * served by {@code peer}, pinned by a header proof of the last one; empty when the peer did
     * not answer, or served a run that is not the certified chain (then it is refused).
     */
    private Optional<List<Block>> fetchRun(int peer, long from, long height) {
        boolean tip = from == height;
        FetchBlocksRequest request = FetchBlocksRequest.newBuilder().setFromHeight(from)
                .setMaxBlocks(tip ? 1 : (int) Math.min(PeerNetwork.FETCH_BLOCKS_MAX, height - from))
                .setPrunedFormOk(!tip).setPrunedFormWanted(!tip).build();
        List<Block> run = new ArrayList<>();
        // Cancelled when left early, so the peer stops sending the rest.
        io.grpc.Context.CancellableContext call = io.grpc.Context.current().withCancellation();
        io.grpc.Context previous = call.attach();
        try {
            Iterator<Block> blocks = stub(peer).fetchBlocks(request);
            while (blocks.hasNext() && run.size() < request.getMaxBlocks()) {
                run.add(blocks.next());
            }
        } catch (StatusRuntimeException e) {
            log.info("event=state-sync-blocks-unanswered peer={} from={} status={}", peer, from, e.getStatus());
        } finally {
            call.detach(previous);
            call.cancel(null);
        }
        if (run.isEmpty()) {
            return Optional.empty();
        }
        long last = from + run.size() - 1;
        HeaderProof proof;
        try {
            proof = stub(peer).getHeaderProof(GetHeaderProofRequest.newBuilder().setHeight(last).build());
        } catch (StatusRuntimeException e) {
            log.info("event=state-sync-proof-unanswered peer={} height={} status={}", peer, last, e.getStatus());
            return Optional.empty();
        }
        Proofs.Checked<BlockHeader> checked = Proofs.verifyHeader(ValidatorSets.trustChain(genesis, sets), proof);
        if (!checked.ok() || checked.value().getHeight() != last) {
            refuse(peer, "header proof of height " + last + ": " + (checked.ok()
                    ? "it proves height " + checked.value().getHeight() : checked.problem()));
            return Optional.empty();
        }
        // Back from the proven header: each block must be the one its successor names.
        ByteString expected = ByteString.copyFrom(
                Sha256.hash(proof.getHeader().toByteArray()).bytes());
        for (int i = run.size() - 1; i >= 0; i--) {
            Block block = run.get(i);
            ByteString hash = ByteString.copyFrom(
                    Sha256.hash(block.getHeader().toByteArray()).bytes());
            if (!hash.equals(expected)) {
                refuse(peer, "block " + (from + i) + " is not the one the certified chain names");
                return Optional.empty();
            }
            try {
                expected = BlockHeader.parseFrom(block.getHeader()).getPreviousHash();
            } catch (InvalidProtocolBufferException e) {
                refuse(peer, "block " + (from + i) + "'s header does not parse");
                return Optional.empty();
            }
        }
        return Optional.of(run);
    }

    /**
     * The certified header of {@code height}, proven by a later block's certificate: a block's
     * own certificate does not cover its state root, so without this proof one peer could serve
     * a made-up state root with a matching made-up state. Everything fetched after is checked
     * against it. A later block certifies it within seconds even on an idle network.
     */
    private void certifyHeader(StateSyncBuilder builder, long height) throws Failed {
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(HEADER_PROOF_WAIT_MILLIS);
        while (true) {
            for (int peer : usable(channels.keySet())) {
                HeaderProof proof;
                try {
                    proof = stub(peer).getHeaderProof(GetHeaderProofRequest.newBuilder().setHeight(height).build());
                } catch (StatusRuntimeException e) {
                    log.info("event=state-sync-proof-unanswered peer={} height={} status={}", peer, height, e.getStatus());
                    continue;
                }
                Optional<String> problem = builder.certify(height, proof);
                if (problem.isEmpty()) {
                    return;
                }
                refuse(peer, "header proof of height " + height + ": " + problem.get());
            }
            if (usable(channels.keySet()).isEmpty() || System.nanoTime() > deadline) {
                throw new Failed("no peer proved block " + height + "'s header certified; refused: " + refused);
            }
            sleep(1_000);
        }
    }

    /** The manifest of {@code height}, from the first holder whose manifest checks against the certified block. */
    private StateSnapshotManifest fetchManifest(StateSyncBuilder builder, long height, List<Integer> holders) throws Failed {
        for (int peer : usable(holders)) {
            StateSnapshotManifest manifest;
            try {
                manifest = stub(peer).getStateManifest(GetStateManifestRequest.newBuilder().setHeight(height).build());
            } catch (StatusRuntimeException e) {
                log.info("event=state-sync-manifest-unanswered peer={} height={} status={}", peer, height, e.getStatus());
                continue;
            }
            Optional<String> problem = builder.useManifest(manifest);
            if (problem.isEmpty()) {
                return manifest;
            }
            refuse(peer, "manifest of height " + height + ": " + problem.get());
        }
        throw new Failed("no holder served a manifest of height " + height + " that checks; refused: " + refused);
    }

    /** Every bucket, each from the next holder in turn; a bucket that does not check is fetched again from another. */
    private void fetchBuckets(StateSyncBuilder builder, StateSnapshotManifest manifest, List<Integer> holders) throws Failed {
        int turn = 0;
        for (int bucket : builder.missingBuckets()) {
            int idle = 0;
            while (true) {
                List<Integer> usable = usable(holders);
                if (usable.isEmpty()) {
                    throw new Failed("no holder left to fetch bucket " + bucket + " from; refused: " + refused);
                }
                int peer = usable.get(turn++ % usable.size());
                Optional<List<StateEntry>> entries = fetchBucket(peer, manifest.getHeight(), bucket);
                if (entries.isPresent()) {
                    Optional<String> problem = builder.putBucket(bucket, entries.get());
                    if (problem.isEmpty()) {
                        break;
                    }
                    refuse(peer, "bucket " + bucket + " of height " + manifest.getHeight() + ": " + problem.get());
                } else if (++idle > IDLE_ROUNDS_MAX * usable.size()) {
                    throw new Failed("no holder served bucket " + bucket + " (" + IDLE_ROUNDS_MAX + " rounds)");
                } else if (idle % usable.size() == 0) {
                    sleep(500);
                }
            }
        }
    }

    /**
     * One bucket's entries from one peer; empty when the peer did not answer, served a chunk
     * whose offsets do not match its bytes (then it is refused), or went past
     * {@link #BUCKET_BYTES_MAX} (not refused: a true bucket may be that large, see the class comment).
     */
    private Optional<List<StateEntry>> fetchBucket(int peer, long height, int bucket) {
        List<StateEntry> entries = new ArrayList<>();
        long offset = 0;
        try {
            while (true) {
                StateChunk chunk = stub(peer).fetchStateChunk(FetchStateChunkRequest.newBuilder().setHeight(height)
                        .setBucket(bucket).setOffset(offset).build());
                long bytes = 0;
                for (StateEntry e : chunk.getEntriesList()) {
                    bytes += StateBuckets.delimitedSize(e);
                }
                // The offsets must count the bytes sent: the bound below is on what was received.
                if (chunk.getNextOffset() != offset + bytes || (bytes == 0 && !chunk.getLast())) {
                    refuse(peer, "bucket " + bucket + " of height " + height + ": a chunk of " + bytes + " bytes moves the offset from "
                            + offset + " to " + chunk.getNextOffset());
                    return Optional.empty();
                }
                if (chunk.getNextOffset() > BUCKET_BYTES_MAX) {
                    log.warn("event=state-sync-bucket-too-large peer={} height={} bucket={} bytes-max={}", peer, height, bucket,
                            BUCKET_BYTES_MAX);
                    return Optional.empty();
                }
                entries.addAll(chunk.getEntriesList());
                offset = chunk.getNextOffset();
                if (chunk.getLast()) {
                    return Optional.of(entries);
                }
            }
        } catch (StatusRuntimeException e) {
            log.info("event=state-sync-chunk-unanswered peer={} height={} bucket={} status={}", peer, height, bucket, e.getStatus());
            return Optional.empty();
        }
    }

    private void refuse(int peer, String why) {
        if (peer >= 0 && refused.putIfAbsent(peer, why) == null) {
            log.warn("event=state-sync-peer-refused replica={} peer={} address={} reason=\"{}\"", self, peer, addresses.get(peer), why);
        }
    }

    private List<Integer> usable(java.util.Collection<Integer> peers) {
        return peers.stream().filter(p -> p != self && channels.containsKey(p) && !refused.containsKey(p)).toList();
    }

    private PeerTransportGrpc.PeerTransportBlockingStub stub(int peer) {
        return PeerTransportGrpc.newBlockingStub(channels.get(peer)).withDeadlineAfter(CALL_DEADLINE_MILLIS, TimeUnit.MILLISECONDS);
    }

    private static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    @Override
    public void close() {
        channels.values().forEach(ManagedChannel::shutdownNow);
    }
}
