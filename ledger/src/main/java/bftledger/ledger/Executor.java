package bftledger.ledger;

import bftledger.crypto.Digest;
import bftledger.crypto.SparseMerkleTree;
import bftledger.ledger.proto.PutRecord;
import bftledger.ledger.proto.Receipt;
import bftledger.ledger.proto.TransactionBody;
import bftledger.ledger.proto.Transfer;
import com.google.protobuf.ByteString;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;

/**
 * Deterministic execution of one block. Reads the state before the block through
 * {@link LedgerState}, writes nothing: the changes come back as a value for the caller to apply
 * (to memory or, in the same LMDB transaction as the block, to the store). No wall clock, no
 * floating point, and nothing that affects the result depends on hash-map iteration order (the
 * overlay maps are sorted; the per-block id map is only looked up).
 *
 * <p>Rules: a transaction id executes at most once ever; a repeat (in this block or after an
 * earlier one) gets a DUPLICATE receipt and no effect. A transfer moves funds only if the sender's
 * balance covers it and the recipient's balance stays at most 2^63-1; otherwise FAILED with a
 * reason and no effect. Amounts are u64 on the wire; one of 2^63 or more can never be covered. A
 * record put names the record's previous writer in its receipt (previous_tx_id). A validator-set
 * change that passes {@link ValidatorSets#problem} appends the new set to the VALIDATORS record
 * (naming the record's previous writer the same way); it never touches a balance. The new state
 * root comes from the state tree update the changes make ({@link StateChanges#treeChanges()}).
 */
public final class Executor {
    private Executor() {}

    public static ExecutionResult execute(ChainGenesis genesis, LedgerState base, long height, List<VerifiedTransaction> txs) {
        List<Digest> ids = new ArrayList<>(txs.size());
        List<TransactionBody> bodies = new ArrayList<>(txs.size());
        for (VerifiedTransaction tx : txs) {
            ids.add(tx.id());
            bodies.add(tx.body());
        }
        return executeBodies(genesis, base, height, ids, bodies);
    }

    /**
     * Executes parsed bodies whose ids are given. Package-private: the verifier uses it to
     * re-execute a stored block even when a signature in it is bad, so one bad signature does not
     * turn into a cascade of state mismatches; everyone else goes through validated transactions.
     */
    static ExecutionResult executeBodies(ChainGenesis genesis, LedgerState base, long height, List<Digest> ids,
            List<TransactionBody> bodies) {
        if (height != base.height() + 1) {
            throw new IllegalArgumentException("executing height " + height + " on state at height " + base.height());
        }
        Overlay overlay = new Overlay(base);
        List<Receipt> receipts = new ArrayList<>(ids.size());
        List<StateChanges.Executed> executed = new ArrayList<>();
        Map<Digest, Integer> firstInBlock = new HashMap<>();
        for (int i = 0; i < ids.size(); i++) {
            Digest id = ids.get(i);
            Receipt.Builder receipt = Receipt.newBuilder().setTxId(ByteString.copyFrom(id.bytes())).setHeight(height).setIndex(i);
            Optional<LedgerState.TxLocation> earlier = base.executed(id);
            Integer sameBlock = firstInBlock.get(id);
            if (earlier.isPresent()) {
                receipt.setStatus(Receipt.Status.DUPLICATE).setReason(
                        "already executed at height " + earlier.get().height() + " index " + earlier.get().index());
            } else if (sameBlock != null) {
                receipt.setStatus(Receipt.Status.DUPLICATE).setReason(
                        "already executed at height " + height + " index " + sameBlock);
            } else {
                firstInBlock.put(id, i);
                String failure = apply(genesis, overlay, height, bodies.get(i), id, receipt);
                if (failure == null) {
                    receipt.setStatus(Receipt.Status.SUCCESS);
                } else {
                    receipt.setStatus(Receipt.Status.FAILED).setReason(failure);
                }
            }
            Receipt built = receipt.build();
            receipts.add(built);
            if (built.getStatus() != Receipt.Status.DUPLICATE) {
                executed.add(new StateChanges.Executed(id, i, built));
            }
        }
        StateChanges changes = new StateChanges(overlay.balances, overlay.records, executed);
        SparseMerkleTree.Update update = SparseMerkleTree.apply(base.stateNodes(), base.stateTree(), changes.treeChanges());
        return new ExecutionResult(height, base.stateRoot(), receipts, changes, update);
    }

    /** Applies one operation to the overlay; returns null on success or the failure reason. */
    private static String apply(ChainGenesis genesis, Overlay state, long height, TransactionBody body, Digest txId,
            Receipt.Builder receipt) {
        switch (body.getOperationCase()) {
            case TRANSFER -> {
                Transfer t = body.getTransfer();
                long amount = t.getAmount();
                ByteString from = body.getSender();
                ByteString to = t.getTo();
                long fromBalance = state.balance(from);
                // amount < 0 is a u64 of 2^63 or more: more than any balance can hold.
                if (amount < 0 || amount > fromBalance) {
                    return "insufficient funds: balance " + fromBalance + ", amount " + Long.toUnsignedString(amount);
                }
                long toBalance = from.equals(to) ? fromBalance - amount : state.balance(to);
                long credited;
                try {
                    credited = Math.addExact(toBalance, amount);
                } catch (ArithmeticException e) {
                    return "recipient balance would overflow: balance " + toBalance + ", amount " + amount;
                }
                state.setBalance(from, fromBalance - amount);
                state.setBalance(to, credited);
                return null;
            }
            case PUT_RECORD -> {
                PutRecord r = body.getPutRecord();
                RecordKey key = new RecordKey(body.getSender(), r.getKeyBytes());
                state.record(key).ifPresent(previous -> receipt.setPreviousTxId(ByteString.copyFrom(previous.writer().bytes())));
                state.records.put(key, new RecordValue(txId, r.getValue()));
                return null;
            }
            case CHANGE_VALIDATORS -> {
                Optional<RecordValue> before = state.record(ValidatorSets.RECORD);
                String problem = ValidatorSets.problem(genesis, ValidatorSets.all(genesis, before), height,
                        body.getChangeValidators());
                if (problem != null) {
                    return problem;
                }
                before.ifPresent(previous -> receipt.setPreviousTxId(ByteString.copyFrom(previous.writer().bytes())));
                state.records.put(ValidatorSets.RECORD, new RecordValue(txId,
                        ValidatorSets.recordAfter(before, body.getChangeValidators(), txId, height)));
                return null;
            }
            default -> {
                return "no operation";
            }
        }
    }

    /** The block's writes over the base state, in sorted maps (canonical order for hashing). */
    private static final class Overlay {
        final LedgerState base;
        final TreeMap<ByteString, Long> balances = new TreeMap<>(ByteString.unsignedLexicographicalComparator());
        final TreeMap<RecordKey, RecordValue> records = new TreeMap<>();

        Overlay(LedgerState base) {
            this.base = base;
        }

        long balance(ByteString account) {
            Long written = balances.get(account);
            return written != null ? written : base.balance(account);
        }

        Optional<RecordValue> record(RecordKey key) {
            RecordValue written = records.get(key);
            return written != null ? Optional.of(written) : base.record(key);
        }

        void setBalance(ByteString account, long balance) {
            if (balance < 0) {
                throw new IllegalStateException("negative balance " + balance + ": an execution bug");
            }
            balances.put(account, balance);
        }
    }
}
