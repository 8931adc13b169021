package bftledger.ledger;

import bftledger.crypto.Digest;
import bftledger.crypto.HistoryTree;
import bftledger.crypto.SparseMerkleTree;
import com.google.protobuf.ByteString;
import java.util.Collections;
import java.util.HashMap;
import java.util.Map;
import java.util.Optional;
import java.util.SortedMap;
import java.util.TreeMap;

/**
 * The whole ledger state in memory, with its state tree and blocks tree: for tests, simulations
 * and the offline verifier's re-execution. Grows with the number of accounts, records, executed
 * transactions and blocks. Not thread-safe.
 */
public final class MemoryState implements LedgerState {
    private final TreeMap<ByteString, Long> balances = new TreeMap<>(ByteString.unsignedLexicographicalComparator());
    private final TreeMap<RecordKey, RecordValue> records = new TreeMap<>();
    // Only looked up, never iterated where a result depends on it.
    private final Map<Digest, TxLocation> executed = new HashMap<>();
    private BlockHashes.InMemory hashes;
    private SparseMerkleTree.Node tree;
    private long height;

    private MemoryState() {}

    public static MemoryState genesis(ChainGenesis genesis) {
        MemoryState s = new MemoryState();
        s.balances.putAll(genesis.initialBalances());
        SparseMerkleTree.Update initial = genesis.stateTree();
        s.tree = initial.root();
        s.hashes = new BlockHashes.InMemory(genesis.hash());
        s.height = 0;
        return s;
    }

    /** Applies the result of executing the next block, whose header hashes to {@code blockHash}. */
    public void apply(ExecutionResult result, Digest blockHash) {
        if (result.height() != height + 1 || !result.baseStateRoot().equals(stateRoot())) {
            throw new IllegalStateException("result for height " + result.height() + " does not follow state at " + height);
        }
        balances.putAll(result.changes().balances());
        records.putAll(result.changes().records());
        for (StateChanges.Executed e : result.changes().executed()) {
            executed.put(e.txId(), new TxLocation(result.height(), e.index()));
        }
        tree = result.stateUpdate().root();
        height = result.height();
        hashes.append(blockHash);
    }

    @Override
    public long height() {
        return height;
    }

    @Override
    public SparseMerkleTree.Node stateTree() {
        return tree;
    }

    @Override
    public SparseMerkleTree.NodeStore stateNodes() {
        // Every node of a tree built or updated in memory is held by its parent: nothing is read.
        return position -> null;
    }

    @Override
    public HistoryTree.NodeReader history() {
        return hashes.history();
    }

    @Override
    public long balance(ByteString account) {
        return balances.getOrDefault(account, 0L);
    }

    @Override
    public Optional<RecordValue> record(RecordKey key) {
        return Optional.ofNullable(records.get(key));
    }

    @Override
    public Optional<TxLocation> executed(Digest txId) {
        return Optional.ofNullable(executed.get(txId));
    }

    public SortedMap<ByteString, Long> balances() {
        return Collections.unmodifiableSortedMap(balances);
    }

    public SortedMap<RecordKey, RecordValue> records() {
        return Collections.unmodifiableSortedMap(records);
    }

    public int executedCount() {
        return executed.size();
    }
}
