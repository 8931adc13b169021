package bftledger.ledger;

import bftledger.crypto.Digest;
import bftledger.crypto.SparseMerkleTree;
import bftledger.ledger.proto.Receipt;
import com.google.protobuf.ByteString;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.SortedMap;
import java.util.TreeMap;

/**
 * What one block changed: final balances of the accounts it touched, final values of the records
 * it wrote (both in canonical sorted order), and the transactions it executed (SUCCESS or FAILED,
 * not DUPLICATE) in block order with their receipts. Immutable.
 */
public record StateChanges(SortedMap<ByteString, Long> balances, SortedMap<RecordKey, RecordValue> records,
        List<Executed> executed) {

    /** A transaction that took its one execution in this block. */
    public record Executed(Digest txId, int index, Receipt receipt) {}

    public StateChanges {
        balances = Collections.unmodifiableSortedMap(balances);
        records = Collections.unmodifiableSortedMap(records);
        executed = List.copyOf(executed);
    }

    /** The leaves these changes set in the state tree, sorted by tree key (see {@link StateKeys}). */
    public List<SparseMerkleTree.Change> treeChanges() {
        TreeMap<Digest, Digest> leaves = new TreeMap<>();
        for (Map.Entry<ByteString, Long> e : balances.entrySet()) {
            leaves.put(StateKeys.account(e.getKey()), StateKeys.balanceValue(e.getValue()));
        }
        for (Map.Entry<RecordKey, RecordValue> e : records.entrySet()) {
            leaves.put(StateKeys.record(e.getKey()), StateKeys.recordValue(e.getValue()));
        }
        List<SparseMerkleTree.Change> changes = new ArrayList<>(leaves.size());
        leaves.forEach((k, v) -> changes.add(new SparseMerkleTree.Change(k, v)));
        return changes;
    }
}
