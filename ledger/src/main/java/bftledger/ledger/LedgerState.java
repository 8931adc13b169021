package bftledger.ledger;

import bftledger.crypto.Digest;
import com.google.protobuf.ByteString;
import java.util.Optional;

/**
 * Read access to the ledger state after some height: the port the {@link Executor} reads through.
 * Implemented in memory ({@link MemoryState}) and over an LMDB transaction by the
 * {@link BlockStore}. Accounts are 32-byte Ed25519 public keys; an absent account has balance 0.
 */
public interface LedgerState {
    /** Height of the last executed block (0 = genesis). */
    long height();

    /** state_root after {@link #height()}; see {@link StateHash}. */
    Digest stateRoot();

    long balance(ByteString account);

    Optional<ByteString> record(RecordKey key);

    /** Where {@code txId} executed (SUCCESS or FAILED), if it ever did. */
    Optional<TxLocation> executed(Digest txId);

    /** Height and position of a transaction's first (and only effective) execution. */
    record TxLocation(long height, int index) {}
}
