package bftledger.ledger;

import bftledger.crypto.Digest;
import bftledger.crypto.HistoryTree;
import bftledger.crypto.Sha256;
import bftledger.crypto.SparseMerkleTree;
import bftledger.ledger.proto.Block;
import bftledger.ledger.proto.BlockHeader;
import bftledger.ledger.proto.HeaderProof;
import bftledger.ledger.proto.RecordEntry;
import bftledger.ledger.proto.StateBucket;
import bftledger.ledger.proto.StateEntry;
import bftledger.ledger.proto.StateSnapshotManifest;
import com.google.protobuf.ByteString;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.stream.Stream;
import org.lmdbjava.PutFlags;
import org.lmdbjava.Txn;

/**
 * Builds a block store from parts fetched from peers instead of replaying every block (state
 * sync). First a proof that block S's header is certified ({@link #certify}): a block's own
 * certificate covers its batch, not its state root, so the state root is taken only from a header
 * a later block certifies, and everything else is checked against that header. Then, in either
 * order: the manifest of the state snapshot at S, checked against the header's state root, and
 * the 256 buckets of the state, each checked against the manifest (the state first, while peers
 * still keep that snapshot); the chain's blocks 1..S, each checked against genesis and the chain
 * so far and stored in its pruned form (header, certificate, receipts), block S whole and equal
 * to the certified header.
 *
 * <p>Certificates are checked against the set in force at their height, from the chain of
 * validator sets the build is given: a joiner learns it from a peer's VALIDATORS record, checked
 * from genesis by the approvals each set carries ({@link ValidatorSets#verifyChain}). The state
 * the build ends with must hold that same chain, up to the sets that take over above S
 * ({@link #stateSetsProblem}), so a peer that names another approved chain gets nothing built
 * ({@code StateSyncAcrossChangesTest}).
 * {@link #finish} then writes the state tree and the metadata of a pruned store at S, which
 * {@link BlockStore#open} opens as any other ({@code StateSyncBuilderTest#aStoreBuiltFromASnapshotIsTheSourceStoreAtItsHeight}).
 *
 * <p>Nothing a peer sends is trusted: every refusal is returned as its reason, with nothing
 * written, and the build can go on with a part from another peer. Until {@link #finish}
 * returns, the directory holds {@value #UNFINISHED_FILE} and {@link BlockStore#open} refuses it;
 * LMDB commits are not synced on the way (an unfinished build is thrown away), and {@link #close}
 * without finishing deletes what was written. One thread at a time.
 *
 * <p>Memory: one bucket's entries and its subtree while it is put, and what stands at depth 8 for
 * each of the 256 buckets (no leaf is kept after its bucket is written).
 */
public final class StateSyncBuilder implements AutoCloseable {
    /** Present while a build is under way: a store holding it is refused at open. */
    static final String UNFINISHED_FILE = "STATE_SYNC_UNFINISHED";
    /** Blocks appended in one LMDB write transaction. */
    static final int COMMIT_BLOCKS = 256;

    private static final org.slf4j.Logger log = org.slf4j.LoggerFactory.getLogger(StateSyncBuilder.class);

    private final StoreLock lock;
    private final StoreEnv store;
    private final ChainGenesis genesis;
    /** The chain of validator sets certificates are checked against, genesis's first. */
    private final List<ValidatorSets.ValidatorSet> sets;
    private final TrustRoot trust;
    private final BlockHistory history;
    private Txn<byte[]> txn;
    private int uncommittedBlocks;
    private long height;
    private Digest tipHash;
    /** The certified header of the height the store is built to ({@link #certify}), and its hash. */
    private BlockHeader target;
    private Digest targetHash;
    /** Block S, whole (stored pruned until {@link #finish} writes it whole). */
    private Block tipWhole;
    private StateSnapshotManifest manifest;
    /** What stands at depth 8 for each bucket put; null for a bucket not put yet. */
    private final StateBuckets.Top[] bucketTops = new StateBuckets.Top[StateBuckets.BUCKETS];
    private boolean finished;
    private boolean closed;

    private StateSyncBuilder(StoreLock lock, StoreEnv store, ChainGenesis genesis, List<ValidatorSets.ValidatorSet> sets) {
        this.lock = lock;
        this.store = store;
        this.genesis = genesis;
        this.sets = List.copyOf(sets);
        this.trust = ValidatorSets.trustChain(genesis, sets);
        this.history = new BlockHistory(store);
        this.tipHash = genesis.hash();
    }

    public static StateSyncBuilder create(Path dir, ChainGenesis genesis) {
        return create(dir, genesis, BlockStore.DEFAULT_MAP_SIZE);
    }

    /** As below, for a network whose set never changed (genesis's set alone). */
    public static StateSyncBuilder create(Path dir, ChainGenesis genesis, long mapSizeBytes) {
        return create(dir, genesis, mapSizeBytes, List.of(ValidatorSets.genesisSet(genesis)));
    }

    /**
     * Starts a build in {@code dir}, which must be empty or absent: a new store for
     * {@code genesis} as {@link BlockStore} creates one, without the genesis state (the snapshot's
     * replaces it). {@code sets} is the chain of validator sets to check certificates against,
     * genesis's first (from {@link ValidatorSets#verifyChain}).
     */
    public static StateSyncBuilder create(Path dir, ChainGenesis genesis, long mapSizeBytes,
            List<ValidatorSets.ValidatorSet> sets) {
        if (sets.isEmpty() || !sets.get(0).equals(ValidatorSets.genesisSet(genesis))) {
            throw new IllegalArgumentException("the chain of validator sets must start with genesis's set");
        }
        requireEmpty(dir);
        StoreLock lock = StoreLock.take(dir);
        StoreEnv env = null;
        try {
            writeSynced(lock.dir.resolve(UNFINISHED_FILE));
            env = StoreEnv.open(lock.dir, mapSizeBytes, true);
            try (Txn<byte[]> t = env.env.txnWrite()) {
                BlockStore.create(env, genesis, t);
                env.accounts.drop(t);
                env.stateNodes.drop(t);
                t.commit();
            }
            return new StateSyncBuilder(lock, env, genesis, sets);
        } catch (RuntimeException e) {
            if (env != null) {
                env.close();
            }
            lock.close();
            throw e;
        }
    }

    /** Whether {@code dir} holds a build from a state snapshot that never finished (delete it and sync again). */
    public static boolean unfinished(Path dir) {
        return Files.exists(dir.resolve(UNFINISHED_FILE));
    }

    /** Blocks appended so far (0 at start). */
    public long height() {
        return height;
    }

    // ------------------------------------------------------------------------------ blocks

    /**
     * Appends block {@link #height()}+1: in its pruned form (no transactions, its receipts) it is
     * checked as a store checks the blocks it pruned; whole, as served (certificate, transaction
     * signatures, roots). Either way it must link to the block before, carry the chain's
     * blocks_root, anchor a block of this chain, and be certified by its own certificate.
     * Returns why it was refused (nothing written), or empty.
     */
    public Optional<String> appendBlock(Block block) {
        requireOpen();
        if (target == null) {
            return Optional.of("no certified header is in use: certify the snapshot's first");
        }
        long h = height + 1;
        if (h > target.getHeight()) {
            return Optional.of("block " + h + " is above the certified height " + target.getHeight());
        }
        boolean pruned = block.getTransactionsCount() == 0 && block.getReceiptsCount() > 0;
        if (pruned && h == target.getHeight()) {
            return Optional.of("block " + h + " is in its pruned form; the store's tip must come whole");
        }
        Txn<byte[]> t = txn();
        BlockHashes chain = chainBelow(t);
        BlockChecker.BlockCheck check = pruned ? BlockChecker.checkPruned(genesis, sets, h, tipHash, chain, block)
                : BlockChecker.checkServed(genesis, sets, h, tipHash, block);
        List<LedgerProblem> problems = new ArrayList<>(check.problems());
        if (check.header() == null) {
            return Optional.of("block " + h + " is refused: " + problems);
        }
        if (!pruned) {
            problems.addAll(BlockChecker.checkAgainstChain(h, check.header(), chain));
        }
        if (block.getSerializedSize() > Blocks.MAX_BLOCK_BYTES) {
            problems.add(new LedgerProblem(h, LedgerProblem.Kind.MALFORMED_BLOCK, "over MAX_BLOCK_BYTES"));
        }
        if (!problems.isEmpty()) {
            return Optional.of("block " + h + " is refused: " + problems);
        }
        if (h == target.getHeight() && !check.hash().equals(targetHash)) {
            return Optional.of("block " + h + " hashes to " + check.hash().shortHex() + ", not the certified header "
                    + targetHash.shortHex());
        }
        // Below the tip every block is kept pruned: its receipts must stand on their own as a pruned block's do.
        Optional<String> integrity = BlockIntegrity.problem(block, h, null, pruned)
                .or(() -> BlockIntegrity.prunedReceiptsProblem(block, h, check.header()));
        if (integrity.isPresent()) {
            return Optional.of("block " + h + " is refused: " + integrity.get());
        }
        byte[] kept = BlockStore.prunedForm(block).toByteArray();
        if (!store.blocks.put(t, StoreEnv.u64(h), StoredBlock.encode(kept), PutFlags.MDB_NOOVERWRITE)) {
            throw new IllegalStateException("a block is already stored at height " + h + " above the builder's height");
        }
        history.append(t, h, check.hash());
        history.anchored(t, h, BlockStore.anchorOf(check.header()));
        height = h;
        tipHash = check.hash();
        tipWhole = pruned ? null : block;
        if (++uncommittedBlocks >= COMMIT_BLOCKS) {
            commit();
        }
        return Optional.empty();
    }

    /** The hashes of the blocks appended so far, read inside the open write transaction. */
    private BlockHashes chainBelow(Txn<byte[]> t) {
        long at = height;
        return new BlockHashes() {
            @Override
            public long height() {
                return at;
            }

            @Override
            public HistoryTree.NodeReader history() {
                return history.reader(t);
            }
        };
    }

    /**
     * Takes {@code proof} (from a peer's {@code BlockStore#headerProof}) as the header of
     * {@code height}, the one the store is built to: it must verify against the set in force at
     * the certifying block's height (a later block's certificate anchors it, directly or through
     * a later certified header's blocks_root). Comes first; the manifest,
     * the buckets and block S are checked against it. Returns why it was refused, or empty.
     */
    public Optional<String> certify(long height, HeaderProof proof) {
        requireOpen();
        if (target != null) {
            return Optional.of("the certified header of height " + target.getHeight() + " is in use");
        }
        Proofs.Checked<BlockHeader> checked = Proofs.verifyHeader(trust, proof);
        if (!checked.ok()) {
            return Optional.of("the header proof does not check: " + checked.problem());
        }
        if (height < 1 || checked.value().getHeight() != height) {
            return Optional.of("the proof is for height " + checked.value().getHeight() + ", not " + height);
        }
        target = checked.value();
        targetHash = Sha256.hash(proof.getHeader().toByteArray());
        return Optional.empty();
    }

    /** The height of the certified header in use (0 before {@link #certify}). */
    public long targetHeight() {
        return target == null ? 0 : target.getHeight();
    }

    // ------------------------------------------------------------------------------ the state

    /**
     * Takes {@code m} as the snapshot to build the state from, once it checks against the
     * certified header: same height and block hash, its state root, and 256 buckets that combine
     * to it. Replaceable until a bucket is put. Returns why it was refused, or empty.
     */
    public Optional<String> useManifest(StateSnapshotManifest m) {
        requireOpen();
        if (target == null) {
            return Optional.of("no certified header is in use: certify the snapshot's first");
        }
        if (missingBuckets().size() < StateBuckets.BUCKETS) {
            return Optional.of("buckets of the manifest in use are already put");
        }
        if (m.getHeight() != target.getHeight()) {
            return Optional.of("the manifest is for height " + m.getHeight() + ", the certified header is at " + target.getHeight());
        }
        if (!m.getBlockHash().equals(bytes(targetHash))) {
            return Optional.of("the manifest is for block " + ChainGenesis.hex(m.getBlockHash()) + ", the certified block "
                    + target.getHeight() + " is " + targetHash.hex());
        }
        if (!m.getStateRoot().equals(target.getStateRoot())) {
            return Optional.of("the manifest's state root " + ChainGenesis.hex(m.getStateRoot()) + " is not the certified block "
                    + target.getHeight() + "'s " + ChainGenesis.hex(target.getStateRoot()));
        }
        Digest root;
        try {
            root = StateBuckets.root(m.getBucketsList());
        } catch (IllegalArgumentException e) {
            return Optional.of("the manifest's buckets are malformed: " + e.getMessage());
        }
        if (!m.getStateRoot().equals(bytes(root))) {
            return Optional.of("the manifest's buckets combine to " + root.hex() + ", not its state root "
                    + ChainGenesis.hex(m.getStateRoot()));
        }
        manifest = m;
        return Optional.empty();
    }

    /**
     * Puts all of bucket {@code bucket}'s entries, in tree-key order, once they check against the
     * manifest's summary of the bucket, and writes them into the store. Returns why they were
     * refused (nothing written), or empty.
     */
    public Optional<String> putBucket(int bucket, List<StateEntry> entries) {
        requireOpen();
        if (manifest == null) {
            return Optional.of("no manifest is in use");
        }
        if (bucket < 0 || bucket >= StateBuckets.BUCKETS) {
            return Optional.of("bucket " + bucket + " is outside 0.." + (StateBuckets.BUCKETS - 1));
        }
        if (bucketTops[bucket] != null) {
            return Optional.of("bucket " + bucket + " was already put");
        }
        // Compared by hash alone: the root certifies each bucket's hash (and a lone leaf's key), not
        // the entry counts and sizes a manifest also gives, so a peer that serves the true bucket
        // is never refused over a manifest's other figures.
        StateBucket expected = manifest.getBuckets(bucket);
        List<SparseMerkleTree.Change> leaves = new ArrayList<>(entries.size());
        for (int i = 0; i < entries.size(); i++) {
            SparseMerkleTree.Change leaf;
            try {
                leaf = StateBuckets.leafOf(entries.get(i));
            } catch (IllegalArgumentException e) {
                return Optional.of("entry " + i + " of bucket " + bucket + " is invalid: " + e.getMessage());
            }
            if (StateBuckets.bucketOf(leaf.key()) != bucket) {
                return Optional.of("entry " + i + " of bucket " + bucket + " belongs in bucket " + StateBuckets.bucketOf(leaf.key()));
            }
            if (i > 0 && leaves.get(i - 1).key().compareTo(leaf.key()) >= 0) {
                return Optional.of("entry " + i + " of bucket " + bucket + " does not follow entry " + (i - 1) + " in tree-key order");
            }
            leaves.add(leaf);
        }
        List<SparseMerkleTree.Position> positions = new ArrayList<>();
        List<SparseMerkleTree.Children> nodes = new ArrayList<>();
        SparseMerkleTree.Node subtree = StateBuckets.subtree(leaves, (position, children) -> {
            positions.add(position);
            nodes.add(children);
        });
        if (!bytes(subtree.hash()).equals(expected.getHash())) {
            return Optional.of("bucket " + bucket + "'s entries hash to " + subtree.hash().hex() + ", the manifest says "
                    + ChainGenesis.hex(expected.getHash()));
        }
        Txn<byte[]> t = txn();
        for (StateEntry e : entries) {
            if (e.hasAccount()) {
                store.accounts.put(t, e.getAccount().getPublicKey().toByteArray(), StoreEnv.u64(e.getAccount().getBalance()));
            } else {
                RecordEntry r = e.getRecord();
                store.records.put(t, new RecordKey(r.getOwner(), r.getKey()).storeKey(),
                        new RecordValue(Digest.of(r.getWriterTxId().toByteArray()), r.getValue()).encode());
            }
        }
        for (int i = 0; i < positions.size(); i++) {
            store.stateNodes.put(t, positions.get(i).encode(), nodes.get(i).encode());
        }
        commit();
        // Kept by hash: its nodes are in the store now, and the leaves are let go.
        bucketTops[bucket] = subtree instanceof SparseMerkleTree.Interior
                ? new StateBuckets.Top(subtree.hash(), false, new SparseMerkleTree.Interior(subtree.hash()))
                : StateBuckets.Top.of(subtree);
        return Optional.empty();
    }

    /**
     * Once every bucket is put: why the state's VALIDATORS record does not name the chain this
     * build checks certificates against, or empty. The state (proven by the certified root) must
     * hold every set given that takes over at or below S, and nothing else; sets given that take
     * over above S were named after it and are not in its state yet.
     */
    public Optional<String> stateSetsProblem() {
        requireOpen();
        if (!missingBuckets().isEmpty()) {
            return Optional.of("the state is not complete");
        }
        byte[] stored = store.records.get(txn(), ValidatorSets.RECORD.storeKey());
        ByteString value = stored == null ? ByteString.EMPTY : RecordValue.decode(stored, store.dir).value();
        List<ValidatorSets.ValidatorSet> inState;
        try {
            inState = ValidatorSets.verifyChain(genesis, value);
        } catch (IllegalArgumentException e) {
            return Optional.of("the state's validator-set record does not check from genesis: " + e.getMessage());
        }
        long at = target.getHeight();
        List<ValidatorSets.ValidatorSet> takenOver = sets.stream().filter(s -> s.fromHeight() <= at).toList();
        boolean prefix = inState.size() <= sets.size() && sets.subList(0, inState.size()).equals(inState);
        if (!prefix || inState.size() < takenOver.size()) {
            return Optional.of("the state at " + at + " names " + inState.size() + " validator sets that are not the chain of "
                    + sets.size() + " its certificates were checked against");
        }
        return Optional.empty();
    }

    /** Buckets of the manifest not put yet, ascending (all 256 before a manifest is in use). */
    public List<Integer> missingBuckets() {
        List<Integer> out = new ArrayList<>();
        for (int b = 0; b < StateBuckets.BUCKETS; b++) {
            if (bucketTops[b] == null) {
                out.add(b);
            }
        }
        return out;
    }

    // ------------------------------------------------------------------------------ finish

    /**
     * Completes the store: the tip block whole, the state tree from the buckets (its root must be
     * the tip's state root), and the metadata of a store pruned below its tip; synced, closed,
     * and no longer marked unfinished. Open it with {@link BlockStore#open}.
     *
     * @throws IllegalStateException when a part is missing: blocks up to the certified height, a
     *                               manifest or a bucket; the build can go on
     */
    public void finish() {
        requireOpen();
        if (target == null || height != target.getHeight()) {
            throw new IllegalStateException("blocks are appended up to " + height + ", not the certified height " + targetHeight());
        }
        if (manifest == null) {
            throw new IllegalStateException("no manifest is in use");
        }
        List<Integer> missing = missingBuckets();
        if (!missing.isEmpty()) {
            throw new IllegalStateException(missing.size() + " buckets are not put yet, the first " + missing.get(0));
        }
        Optional<String> setsProblem = stateSetsProblem();
        if (setsProblem.isPresent()) {
            throw new IllegalStateException(setsProblem.get());
        }
        Txn<byte[]> t = txn();
        store.blocks.put(t, StoreEnv.u64(height), StoredBlock.encode(tipWhole.toByteArray()));
        StateBuckets.Top root = StateBuckets.combine(Arrays.asList(bucketTops), (depth, index, children) ->
                store.stateNodes.put(t, SparseMerkleTree.Position.of(depth, prefixKey(depth, index)).encode(), children.encode()));
        if (!bytes(root.hash()).equals(target.getStateRoot())) {
            // The manifest combines to this root and each bucket to its summary: a mismatch is a bug here.
            throw new IllegalStateException("the state tree's root " + root.hash().hex() + " is not block " + height
                    + "'s state root " + ChainGenesis.hex(target.getStateRoot()));
        }
        store.meta.put(t, StoreEnv.META_TREE_ROOT, SparseMerkleTree.encodeNode(root.node()));
        store.meta.put(t, StoreEnv.META_TREE_HEIGHT, StoreEnv.u64(height));
        store.meta.put(t, StoreEnv.META_HEIGHT, StoreEnv.u64(height));
        store.meta.put(t, StoreEnv.META_TIP_HASH, tipHash.bytes());
        store.meta.put(t, StoreEnv.META_STATE_ROOT, target.getStateRoot().toByteArray());
        store.meta.put(t, StoreEnv.META_PRUNED_BELOW, StoreEnv.u64(height));
        store.meta.put(t, StoreEnv.META_FORMAT_VERSION, StoreEnv.u32(StoreEnv.FORMAT_PRUNED));
        commit();
        store.env.sync(true);
        store.close();
        try {
            Files.delete(lock.dir.resolve(UNFINISHED_FILE));
            DurableFiles.syncDirectory(lock.dir);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot mark the built store " + lock.dir + " finished", e);
        } finally {
            finished = true;
            closed = true;
            lock.close();
        }
        log.info("event=state-sync-finished dir={} height={} entries={}", lock.dir, height,
                manifest.getBucketsList().stream().mapToLong(StateBucket::getEntries).sum());
    }

    /** A key whose first {@code depth} bits are {@code index}'s (depth at most 8). */
    private static Digest prefixKey(int depth, int index) {
        byte[] key = new byte[Digest.LENGTH];
        key[0] = (byte) (index << (StateBuckets.BUCKET_DEPTH - depth));
        return Digest.of(key);
    }

    /** Ends an unfinished build, deleting what it wrote (the directory is left empty); after {@link #finish}, nothing. */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        if (txn != null) {
            txn.close();
            txn = null;
        }
        store.close();
        lock.close();
        try (Stream<Path> files = Files.list(lock.dir)) {
            for (Path p : files.toList()) {
                if (!p.getFileName().toString().equals(UNFINISHED_FILE)) {
                    Files.deleteIfExists(p);
                }
            }
            // Last: until the store's files are gone it marks them unfinished.
            Files.deleteIfExists(lock.dir.resolve(UNFINISHED_FILE));
        } catch (IOException e) {
            log.warn("event=state-sync-discard-failed dir={} error=\"{}\"", lock.dir, e.toString());
        }
    }

    // ------------------------------------------------------------------------------ plumbing

    private Txn<byte[]> txn() {
        if (txn == null) {
            txn = store.env.txnWrite();
        }
        return txn;
    }

    private void commit() {
        if (txn != null) {
            txn.commit();
            txn.close();
            txn = null;
        }
        uncommittedBlocks = 0;
    }

    private void requireOpen() {
        if (closed) {
            throw new IllegalStateException(finished ? "the build is finished" : "the build is closed");
        }
    }

    private static void requireEmpty(Path dir) {
        if (!Files.exists(dir)) {
            return;
        }
        try (Stream<Path> entries = Files.list(dir)) {
            if (entries.findAny().isPresent()) {
                throw new IllegalArgumentException(dir + " is not empty: a state sync builds a store in an empty directory");
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + dir, e);
        }
    }

    private static void writeSynced(Path file) {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
            ch.force(true);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create " + file, e);
        }
        DurableFiles.syncDirectory(file.getParent());
    }

    private static ByteString bytes(Digest d) {
        return ByteString.copyFrom(d.bytes());
    }
}
