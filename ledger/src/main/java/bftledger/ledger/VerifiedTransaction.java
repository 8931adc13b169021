package bftledger.ledger;

import bftledger.crypto.Digest;
import bftledger.crypto.PublicKey;
import bftledger.ledger.proto.SignedTransaction;
import bftledger.ledger.proto.TransactionBody;

/**
 * A transaction that passed {@link Transactions#validate}: parsed, within bounds, for the chain it
 * was validated against, and correctly signed. Only {@link Transactions} creates one, so holding
 * one means the signature was checked once and need not be checked again.
 */
public final class VerifiedTransaction {
    private final Digest id;
    private final TransactionBody body;
    private final SignedTransaction signed;
    private final PublicKey sender;

    VerifiedTransaction(Digest id, TransactionBody body, SignedTransaction signed, PublicKey sender) {
        this.id = id;
        this.body = body;
        this.signed = signed;
        this.sender = sender;
    }

    /** SHA-256 of the body bytes as signed. */
    public Digest id() {
        return id;
    }

    public TransactionBody body() {
        return body;
    }

    /** The transaction exactly as received (body bytes and signature). */
    public SignedTransaction signed() {
        return signed;
    }

    public PublicKey sender() {
        return sender;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof VerifiedTransaction t && t.id.equals(id) && t.signed.equals(signed);
    }

    @Override
    public int hashCode() {
        return id.hashCode();
    }

    @Override
    public String toString() {
        return "tx " + id.shortHex();
    }
}
