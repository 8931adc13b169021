package bftledger.ledger;

import bftledger.crypto.Digest;
import bftledger.crypto.ParallelVerifier;
import bftledger.crypto.SparseMerkleTree;
import bftledger.ledger.proto.Block;
import bftledger.ledger.proto.BlockHeader;
import bftledger.ledger.proto.Receipt;
import bftledger.ledger.proto.TxIndexEntry;
import com.google.protobuf.ByteString;
import com.google.protobuf.InvalidProtocolBufferException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.SortedMap;

/**
 * The offline audit of a block store: walks every block from 1 to the tip inside one read
 * snapshot, checks each with {@link BlockChecker} while re-executing from genesis in memory, then
 * compares the re-executed state (accounts, records, transaction index) and the tip metadata with
 * what the store holds. A pruned store cannot be re-executed: its kept headers and receipts are
 * checked from genesis (links, certificates, blocks_root, anchors, receipts_root), its whole
 * blocks as served, its transaction index against the receipts, and its stored state against the
 * tip's state root. Every problem is collected, up to {@link #MAX_PROBLEMS}, with its height;
 * the walk never stops at the first. Memory grows with the state and the number of executed
 * transactions (the re-execution is kept in a {@link MemoryState}).
 */
public final class LedgerVerifier {
    /** Problems kept in a report; beyond it only the count grows. */
    public static final int MAX_PROBLEMS = 10_000;

    private LedgerVerifier() {}

    /** Called after each block: {@code (height, tip)}, for a progress bar. */
    @FunctionalInterface
    public interface Progress {
        void onBlock(long height, long tip);

        Progress NONE = (height, tip) -> {};
    }

    /**
     * The audit's outcome. {@code certifiedHeight} is the highest header a checked commit
     * certificate certifies through its batch's anchor: that header, and through its hashes every
     * block below it with its receipts and state, is proven from genesis alone; the blocks above
     * it wait for a later block to certify them. {@code prunedBelow} is the store's lowest whole
     * block (1: never pruned); below it headers, certificates and receipts were checked, not
     * transactions. {@code stateProven}: the stored state is what the certified blocks give (re-executed
     * from genesis; for a pruned store, it hashes to the state root of the certified header at
     * {@code certifiedHeight}, which holds only when no block above that changed the state).
     */
    public record Report(boolean ok, long blocksChecked, long transactionsChecked, List<LedgerProblem> problems,
            long problemCount, long certifiedHeight, long prunedBelow, boolean stateProven) {
        public Report {
            problems = List.copyOf(problems);
        }
    }

    /** Opens the store in {@code dir} (refusing a corrupted one as a STORE problem) and verifies it. */
    public static Report verify(Path dir, ChainGenesis genesis, Progress progress) {
        return verify(dir, genesis, progress, null);
    }

    /** As {@link #verify(Path, ChainGenesis, Progress)}, checking signatures on {@code verifier} (null: this thread). */
    public static Report verify(Path dir, ChainGenesis genesis, Progress progress, ParallelVerifier verifier) {
        BlockStore store;
        try {
            store = BlockStore.openForAudit(dir, genesis);
        } catch (StoreCorruptedException e) {
            return new Report(false, 0, 0, List.of(new LedgerProblem(-1, LedgerProblem.Kind.STORE, e.getMessage())), 1, 0, 0, false);
        }
        try (store) {
            return verify(store, progress, verifier);
        }
    }

    public static Report verify(BlockStore store, Progress progress) {
        return verify(store, progress, null);
    }

    /** Verifies an open store inside one read snapshot; transaction signatures on {@code verifier} (null: this thread). */
    public static Report verify(BlockStore store, Progress progress, ParallelVerifier verifier) {
        try (StoreSnapshot snapshot = store.snapshot()) {
            return new Walk(store.genesis(), snapshot, progress, verifier, store.stateTreeProblem()).run();
        }
    }

    private static final class Walk {
        final ChainGenesis genesis;
        final StoreSnapshot store;
        final Progress progress;
        final List<LedgerProblem> problems = new ArrayList<>();
        long problemCount;
        final MemoryState state;
        final ParallelVerifier verifier;

        final String treeProblem;

        Walk(ChainGenesis genesis, StoreSnapshot store, Progress progress, ParallelVerifier verifier, String treeProblem) {
            this.treeProblem = treeProblem;
            this.verifier = verifier;
            this.genesis = genesis;
            this.store = store;
            this.progress = progress;
            this.state = MemoryState.genesis(genesis);
        }

        /**
         * A pruned store's chain of validator sets: its state's VALIDATORS record, checked from
         * genesis by each set's approvals; each change is tied to its block by the receipt there
         * ({@link #changeTransactions}), and the record is proven with the rest of the state
         * against the tip's certified root. A record that does not check leaves genesis's set, so
         * the certificates after a change fail and say so.
         */
        private List<ValidatorSets.ValidatorSet> prunedStoreSets() {
            ByteString value = store.record(ValidatorSets.RECORD).map(RecordValue::value).orElse(ByteString.EMPTY);
            try {
                return ValidatorSets.verifyChain(genesis, value);
            } catch (IllegalArgumentException e) {
                report(store.height(), LedgerProblem.Kind.STATE, "the validator-set record does not check from genesis: "
                        + e.getMessage());
                return List.of(ValidatorSets.genesisSet(genesis));
            }
        }

        /** The height each change in the state's VALIDATORS record executed at, with its transaction id. */
        private Map<Long, ByteString> changeTransactions() {
            Map<Long, ByteString> out = new java.util.HashMap<>();
            store.record(ValidatorSets.RECORD).ifPresent(r -> {
                try {
                    for (var e : bftledger.ledger.proto.ValidatorSetRecord.parseFrom(r.value()).getEpochsList()) {
                        out.put(e.getChangeHeight(), e.getChangeTxId());
                    }
                } catch (InvalidProtocolBufferException e) {
                    // Reported by prunedStoreSets.
                }
            });
            return out;
        }

        void report(long height, LedgerProblem.Kind kind, String message) {
            report(new LedgerProblem(height, kind, message));
        }

        void report(LedgerProblem p) {
            problemCount++;
            if (problems.size() < MAX_PROBLEMS) {
                problems.add(p);
            }
        }

        Report run() {
            long tip = store.height();
            long prunedBelow = store.prunedBelow();
            long blocksChecked = 0;
            long txsChecked = 0;
            Digest previousHash = genesis.hash();
            long certified = 0;
            // A pruned store has no state below its whole blocks to execute on: its block hashes
            // are followed instead, for blocks_root and the anchors.
            boolean executing = prunedBelow <= 1;
            long indexedByReceipts = 0;
            BlockHashes.InMemory chain = executing ? null : new BlockHashes.InMemory(genesis.hash());
            // Without execution the validator sets are followed from the checked blocks' changes; a
            // pruned store's blocks no longer carry them, so it takes the chain its state names.
            List<ValidatorSets.ValidatorSet> sets = prunedBelow > 1 ? prunedStoreSets() : List.of(ValidatorSets.genesisSet(genesis));
            Map<Long, ByteString> changes = prunedBelow > 1 ? changeTransactions() : Map.of();
            for (long h = 1; h <= tip; h++) {
                Optional<StoreSnapshot.StoredBytes> raw = store.storedBytes(h);
                if (raw.isEmpty()) {
                    report(h, LedgerProblem.Kind.MISSING_BLOCK, "no block at height " + h + " below the tip " + tip);
                    previousHash = null;
                    executing = false;
                    chain = null;
                    progress.onBlock(h, tip);
                    continue;
                }
                if (!raw.get().intact()) {
                    report(h, LedgerProblem.Kind.MALFORMED_BLOCK, "the stored bytes do not match their checksum (damaged on disk)");
                }
                Block block;
                try {
                    block = Blocks.parse(raw.get().block());
                } catch (InvalidProtocolBufferException e) {
                    report(h, LedgerProblem.Kind.MALFORMED_BLOCK, "block does not decode: " + e.getMessage());
                    previousHash = null;
                    executing = false;
                    chain = null;
                    progress.onBlock(h, tip);
                    continue;
                }
                BlockChecker.BlockCheck check = h < prunedBelow ? BlockChecker.checkPruned(genesis, sets, h, previousHash, chain, block)
                        : BlockChecker.check(genesis, sets, h, previousHash, executing ? state : null, block, verifier);
                List<LedgerProblem> found = new ArrayList<>(check.problems());
                if (h >= prunedBelow && chain != null && check.header() != null) {
                    found.addAll(BlockChecker.checkAgainstChain(h, check.header(), chain));
                }
                ByteString change = changes.get(h);
                if (change != null && block.getReceiptsList().stream()
                        .noneMatch(r -> r.getTxId().equals(change) && r.getStatus() == Receipt.Status.SUCCESS)) {
                    found.add(new LedgerProblem(h, LedgerProblem.Kind.STATE, "the validator-set record says the change "
                            + ChainGenesis.hex(change) + " executed here, and no receipt of this block says so"));
                }
                found.forEach(this::report);
                blocksChecked++;
                txsChecked += check.transactions();
                if (found.isEmpty() && (executing || chain != null) && check.header().getAnchorHeight() > certified) {
                    // Its certificate verified and its anchor is this chain's block: that header is certified.
                    certified = check.header().getAnchorHeight();
                }
                if (chain != null) {
                    if (check.hash() != null) {
                        chain.append(check.hash());
                    } else {
                        chain = null;
                    }
                }
                if (!executing && prunedBelow > 1 && found.isEmpty()) {
                    // The receipts are certified by the header: the index must hold what they say executed.
                    List<TxIndex.Entry> entries = TxIndex.entriesOf(block);
                    indexedByReceipts += entries.size();
                    checkIndex(h, entries, "the block's receipts");
                }
                if (check.execution() != null) {
                    state.apply(check.execution(), check.hash());
                    try {
                        checkIndex(h, check.execution());
                    } catch (StoreCorruptedException e) {
                        report(h, LedgerProblem.Kind.STATE, e.getMessage());
                    }
                } else if (executing) {
                    executing = false;
                    report(h, LedgerProblem.Kind.STATE, "re-execution stops here; later state is not checked");
                }
                if (check.execution() != null) {
                    sets = ValidatorSets.all(genesis, state.record(ValidatorSets.RECORD));
                } else if (prunedBelow <= 1) {
                    sets = ValidatorSets.follow(sets, h, block);
                }
                previousHash = check.hash();
                progress.onBlock(h, tip);
            }
            checkMetadata(tip, previousHash);
            if (treeProblem != null) {
                report(tip, LedgerProblem.Kind.STATE, treeProblem);
            }
            boolean stateProven = false;
            try {
                if (executing) {
                    long before = problemCount;
                    checkState(tip);
                    stateProven = problemCount == before;
                } else if (prunedBelow > 1) {
                    long before = problemCount;
                    checkStoredLeaves(tip, collectAccounts(), collectRecords());
                    if (problemCount == 0 && store.indexedTransactions() != indexedByReceipts) {
                        report(tip, LedgerProblem.Kind.STATE, "transaction index holds " + store.indexedTransactions()
                                + " entries, the blocks' receipts name " + indexedByReceipts);
                    }
                    // Without re-execution the state is proven only where a certified header names its root.
                    stateProven = problemCount == before && certified > 0 && store.header(certified)
                            .map(h -> h.getStateRoot().equals(ByteString.copyFrom(store.stateRoot().bytes())))
                            .orElse(false);
                }
            } catch (StoreCorruptedException e) {
                report(tip, LedgerProblem.Kind.STATE, e.getMessage());
            }
            return new Report(problemCount == 0, blocksChecked, txsChecked, problems, problemCount, certified, prunedBelow,
                    stateProven && problemCount == 0);
        }

        void checkMetadata(long tip, Digest lastHash) {
            long last = store.lastBlockHeight();
            if (last != tip) {
                report(tip, LedgerProblem.Kind.METADATA, "metadata height " + tip + ", last stored block " + last);
            }
            if (lastHash != null && !lastHash.equals(store.tipHash())) {
                report(tip, LedgerProblem.Kind.METADATA, "metadata tip_hash " + store.tipHash().hex() + ", last block hashes to " + lastHash.hex());
            }
        }

        void checkState(long tip) {
            if (!state.stateRoot().equals(store.stateRoot())) {
                report(tip, LedgerProblem.Kind.STATE, "metadata state_root " + store.stateRoot().hex()
                        + ", re-execution gives " + state.stateRoot().hex());
            }
            SortedMap<ByteString, Long> accounts = collectAccounts();
            SortedMap<RecordKey, RecordValue> records = collectRecords();
            compare(tip, "account", state.balances(), accounts);
            compare(tip, "record", state.records(), records);
            checkStoredLeaves(tip, accounts, records);
            if (store.indexedTransactions() != state.executedCount()) {
                report(tip, LedgerProblem.Kind.STATE, "transaction index holds " + store.indexedTransactions()
                        + " entries, re-execution executed " + state.executedCount());
            }
        }

        /** The stored leaves themselves, hashed into a tree from scratch, must give the tip's state root. */
        void checkStoredLeaves(long tip, SortedMap<ByteString, Long> accounts, SortedMap<RecordKey, RecordValue> records) {
            Digest stored = SparseMerkleTree.build(new StateChanges(accounts, records, List.of()).treeChanges()).root().hash();
            if (!stored.equals(store.stateRoot())) {
                report(tip, LedgerProblem.Kind.STATE, "the stored accounts and records hash to state root " + stored.hex()
                        + ", the tip's header says " + store.stateRoot().hex());
            }
        }

        /** Each transaction this block executed is indexed at this position with this receipt. */
        void checkIndex(long height, ExecutionResult execution) {
            checkIndex(height, execution.changes().executed().stream()
                    .map(e -> new TxIndex.Entry(e.txId(), e.index(), e.receipt())).toList(), "re-execution");
        }

        void checkIndex(long height, List<TxIndex.Entry> executed, String source) {
            for (TxIndex.Entry e : executed) {
                Optional<TxIndexEntry> entry = store.indexEntry(e.txId());
                if (entry.isEmpty() || entry.get().getHeight() != height || entry.get().getIndex() != e.index()
                        || !entry.get().getReceipt().equals(e.receipt())) {
                    report(height, LedgerProblem.Kind.STATE, "transaction index entry for " + e.txId().shortHex() + " at "
                            + height + "/" + e.index() + (entry.isEmpty() ? " is missing" : " differs from " + source));
                }
            }
        }

        SortedMap<ByteString, Long> collectAccounts() {
            SortedMap<ByteString, Long> m = new java.util.TreeMap<>(ByteString.unsignedLexicographicalComparator());
            store.forEachAccount(m::put);
            return m;
        }

        SortedMap<RecordKey, RecordValue> collectRecords() {
            SortedMap<RecordKey, RecordValue> m = new java.util.TreeMap<>();
            store.forEachRecord(m::put);
            return m;
        }

        /** Merges two sorted maps, reporting each key whose value differs or that only one side has. */
        <K, V> void compare(long tip, String what, SortedMap<K, V> expected, SortedMap<K, V> stored) {
            @SuppressWarnings("unchecked")
            java.util.Comparator<K> cmp = (java.util.Comparator<K>) expected.comparator();
            Iterator<Map.Entry<K, V>> a = expected.entrySet().iterator();
            Iterator<Map.Entry<K, V>> b = stored.entrySet().iterator();
            Map.Entry<K, V> x = a.hasNext() ? a.next() : null;
            Map.Entry<K, V> y = b.hasNext() ? b.next() : null;
            while (x != null || y != null) {
                int c = x == null ? 1 : y == null ? -1 : compareKeys(cmp, x.getKey(), y.getKey());
                if (c < 0) {
                    report(tip, LedgerProblem.Kind.STATE, what + " " + show(x.getKey()) + " missing from the store");
                    x = a.hasNext() ? a.next() : null;
                } else if (c > 0) {
                    report(tip, LedgerProblem.Kind.STATE, "stored " + what + " " + show(y.getKey()) + " not produced by re-execution");
                    y = b.hasNext() ? b.next() : null;
                } else {
                    if (!x.getValue().equals(y.getValue())) {
                        report(tip, LedgerProblem.Kind.STATE, what + " " + show(x.getKey()) + " stored as " + show(y.getValue())
                                + ", re-execution gives " + show(x.getValue()));
                    }
                    x = a.hasNext() ? a.next() : null;
                    y = b.hasNext() ? b.next() : null;
                }
            }
        }

        @SuppressWarnings("unchecked")
        private static <K> int compareKeys(java.util.Comparator<K> cmp, K a, K b) {
            return cmp != null ? cmp.compare(a, b) : ((Comparable<K>) a).compareTo(b);
        }

        private static String show(Object o) {
            return o instanceof ByteString b ? (b.size() <= 64 ? ChainGenesis.hex(b) : ChainGenesis.hex(b.substring(0, 64)) + "...")
                    : String.valueOf(o);
        }
    }
}
