package bftledger.ledger;

import bftledger.crypto.Digest;
import bftledger.ledger.proto.Receipt;
import com.google.protobuf.ByteString;
import java.util.Collections;
import java.util.List;
import java.util.SortedMap;

/**
 * What one block changed: final balances of the accounts it touched, final values of the records
 * it wrote (both in canonical sorted order), and the transactions it executed (SUCCESS or FAILED,
 * not DUPLICATE) in block order with their receipts. Immutable.
 */
public record StateChanges(SortedMap<ByteString, Long> balances, SortedMap<RecordKey, ByteString> records,
        List<Executed> executed) {

    /** A transaction that took its one execution in this block. */
    public record Executed(Digest txId, int index, Receipt receipt) {}

    public StateChanges {
        balances = Collections.unmodifiableSortedMap(balances);
        records = Collections.unmodifiableSortedMap(records);
        executed = List.copyOf(executed);
    }

    /** SHA-256 of the canonical encoding; see {@link StateHash}. */
    public Digest hash() {
        return StateHash.changesHash(this);
    }
}
