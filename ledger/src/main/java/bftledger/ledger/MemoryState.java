package bftledger.ledger;

import bftledger.crypto.Digest;
import com.google.protobuf.ByteString;
import java.util.Collections;
import java.util.HashMap;
import java.util.Map;
import java.util.Optional;
import java.util.SortedMap;
import java.util.TreeMap;

/**
 * The whole ledger state in memory: for tests, simulations and the offline verifier's
 * re-execution. Grows with the number of accounts, records and executed transactions.
 * Not thread-safe.
 */
public final class MemoryState implements LedgerState {
    private final TreeMap<ByteString, Long> balances = new TreeMap<>(ByteString.unsignedLexicographicalComparator());
    private final TreeMap<RecordKey, ByteString> records = new TreeMap<>();
    // Only looked up, never iterated where a result depends on it.
    private final Map<Digest, TxLocation> executed = new HashMap<>();
    private long height;
    private Digest stateRoot;

    private MemoryState() {}

    public static MemoryState genesis(ChainGenesis genesis) {
        MemoryState s = new MemoryState();
        s.balances.putAll(genesis.initialBalances());
        s.height = 0;
        s.stateRoot = genesis.stateRoot();
        return s;
    }

    /** Applies the result of executing the next block on this state. */
    public void apply(ExecutionResult result) {
        if (result.height() != height + 1 || !result.baseStateRoot().equals(stateRoot)) {
            throw new IllegalStateException("result for height " + result.height() + " does not follow state at " + height);
        }
        balances.putAll(result.changes().balances());
        records.putAll(result.changes().records());
        for (StateChanges.Executed e : result.changes().executed()) {
            executed.put(e.txId(), new TxLocation(result.height(), e.index()));
        }
        height = result.height();
        stateRoot = result.stateRoot();
    }

    @Override
    public long height() {
        return height;
    }

    @Override
    public Digest stateRoot() {
        return stateRoot;
    }

    @Override
    public long balance(ByteString account) {
        return balances.getOrDefault(account, 0L);
    }

    @Override
    public Optional<ByteString> record(RecordKey key) {
        return Optional.ofNullable(records.get(key));
    }

    @Override
    public Optional<TxLocation> executed(Digest txId) {
        return Optional.ofNullable(executed.get(txId));
    }

    public SortedMap<ByteString, Long> balances() {
        return Collections.unmodifiableSortedMap(balances);
    }

    public SortedMap<RecordKey, ByteString> records() {
        return Collections.unmodifiableSortedMap(records);
    }

    public int executedCount() {
        return executed.size();
    }
}
