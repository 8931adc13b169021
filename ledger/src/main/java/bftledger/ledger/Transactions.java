package bftledger.ledger;

import bftledger.crypto.Digest;
import bftledger.crypto.Domain;
import bftledger.crypto.KeyPair;
import bftledger.crypto.ParallelVerifier;
import bftledger.crypto.SignatureBatch;
import bftledger.crypto.SignatureCheck;
import bftledger.crypto.PublicKey;
import bftledger.crypto.Sha256;
import bftledger.crypto.Signature;
import bftledger.ledger.proto.PutRecord;
import bftledger.ledger.proto.SignedTransaction;
import bftledger.ledger.proto.TransactionBody;
import bftledger.ledger.proto.Transfer;
import com.google.protobuf.ByteString;
import com.google.protobuf.InvalidProtocolBufferException;
import java.util.ArrayList;
import java.util.List;

/**
 * Building, signing and validating transactions under the signing rule in ledger.proto: the body
 * is serialized once, its id is SHA-256 of those bytes, and the signature is Ed25519 under
 * {@link Domain#TRANSACTION} over the same bytes. Validation never re-serializes a body.
 */
public final class Transactions {
    /** Bound on a serialized SignedTransaction (body, signature and framing). */
    public static final int MAX_TRANSACTION_BYTES = 8 * 1024;
    /** Bound on a record key, in UTF-8 bytes (and at least 1). */
    public static final int MAX_RECORD_KEY_BYTES = 256;
    /** Bound on a record value, in bytes. */
    public static final int MAX_RECORD_VALUE_BYTES = 4096;

    private Transactions() {}

    public static TransactionBody transfer(String chainId, PublicKey sender, long nonce, PublicKey to, long amount) {
        return TransactionBody.newBuilder().setChainId(chainId).setSender(bytes(sender)).setNonce(nonce)
                .setTransfer(Transfer.newBuilder().setTo(bytes(to)).setAmount(amount)).build();
    }

    public static TransactionBody putRecord(String chainId, PublicKey sender, long nonce, String key, ByteString value) {
        return TransactionBody.newBuilder().setChainId(chainId).setSender(bytes(sender)).setNonce(nonce)
                .setPutRecord(PutRecord.newBuilder().setKey(key).setValue(value)).build();
    }

    /** Serializes {@code body} once and signs those bytes with {@code key}, the body's sender. */
    public static SignedTransaction sign(TransactionBody body, KeyPair key) {
        if (!body.getSender().equals(bytes(key.publicKey()))) {
            throw new IllegalArgumentException("the signing key is not the body's sender");
        }
        byte[] bodyBytes = body.toByteArray();
        return SignedTransaction.newBuilder()
                .setBody(ByteString.copyFrom(bodyBytes))
                .setSignature(ByteString.copyFrom(key.sign(Domain.TRANSACTION, bodyBytes)))
                .build();
    }

    /** Signs and validates in one step, for callers that build their own transactions. */
    public static VerifiedTransaction signVerified(TransactionBody body, KeyPair key) {
        TxVerdict verdict = validate(sign(body, key), body.getChainId());
        if (!verdict.ok()) {
            throw new IllegalArgumentException("cannot build a valid transaction: " + verdict);
        }
        return verdict.transaction();
    }

    /** The transaction id: SHA-256 of the body bytes as signed. */
    public static Digest id(SignedTransaction tx) {
        return Sha256.hash(tx.getBody().toByteArray());
    }

    /** Validates a transaction as received on the wire; checks the size before parsing. */
    public static TxVerdict validate(byte[] raw, String chainId) {
        Object parsed = parse(raw);
        return parsed instanceof SignedTransaction tx ? validate(tx, chainId) : (TxVerdict) parsed;
    }

    /** The parsed transaction, or the rejecting {@link TxVerdict} when it is oversized or does not parse. */
    private static Object parse(byte[] raw) {
        if (raw.length > MAX_TRANSACTION_BYTES) {
            return TxVerdict.reject(TxVerdict.Reason.OVERSIZED,
                    raw.length + " bytes, over MAX_TRANSACTION_BYTES = " + MAX_TRANSACTION_BYTES);
        }
        try {
            return SignedTransaction.parseFrom(raw);
        } catch (InvalidProtocolBufferException e) {
            return TxVerdict.reject(TxVerdict.Reason.MALFORMED, "signed transaction does not parse: " + e.getMessage());
        }
    }

    /**
     * Checks, cheapest first and the signature last: size, parse, chain id, sender key, exactly one
     * operation and its bounds, then the signature.
     */
    public static TxVerdict validate(SignedTransaction tx, String chainId) {
        Object checked = checkAllButSignature(tx, chainId);
        if (checked instanceof TxVerdict rejected) {
            return rejected;
        }
        Unsigned u = (Unsigned) checked;
        return finish(u, u.signatureCheck().verify());
    }

    /**
     * Validates many transactions with their signatures checked in parallel on {@code verifier};
     * the verdicts are in input order and identical to calling {@link #validate} on each.
     */
    public static List<TxVerdict> validateAll(List<SignedTransaction> txs, String chainId, ParallelVerifier verifier) {
        List<Object> checked = new ArrayList<>(txs.size());
        for (SignedTransaction tx : txs) {
            checked.add(checkAllButSignature(tx, chainId));
        }
        return finishAll(checked, verifier::verifyAll);
    }

    /**
     * Validates transactions as received on the wire, their signatures verified together on the
     * calling thread ({@link SignatureBatch}: much cheaper per signature than one at a time); the
     * verdicts are in input order and identical to calling {@link #validate(byte[], String)} on each.
     */
    public static List<TxVerdict> validateBatch(List<byte[]> raws, String chainId) {
        List<Object> checked = new ArrayList<>(raws.size());
        for (byte[] raw : raws) {
            Object parsed = parse(raw);
            checked.add(parsed instanceof SignedTransaction tx ? checkAllButSignature(tx, chainId) : parsed);
        }
        return finishAll(checked, SignatureBatch::verify);
    }

    private static List<TxVerdict> finishAll(List<Object> checked,
                                             java.util.function.Function<List<SignatureCheck>, boolean[]> verifyAll) {
        List<SignatureCheck> checks = new ArrayList<>();
        for (Object c : checked) {
            if (c instanceof Unsigned u) {
                checks.add(u.signatureCheck());
            }
        }
        boolean[] valid = checks.isEmpty() ? new boolean[0] : verifyAll.apply(checks);
        List<TxVerdict> verdicts = new ArrayList<>(checked.size());
        int next = 0;
        for (Object c : checked) {
            verdicts.add(c instanceof Unsigned u ? finish(u, valid[next++]) : (TxVerdict) c);
        }
        return verdicts;
    }

    /** A transaction that passed every check except its signature. */
    private record Unsigned(SignedTransaction tx, TransactionBody body, byte[] bodyBytes, PublicKey sender, byte[] signature) {
        SignatureCheck signatureCheck() {
            return new SignatureCheck(sender, Domain.TRANSACTION, bodyBytes, signature);
        }
    }

    private static TxVerdict finish(Unsigned u, boolean signatureValid) {
        if (u.signature().length != Signature.LENGTH || !signatureValid) {
            return TxVerdict.reject(TxVerdict.Reason.BAD_SIGNATURE,
                    "signature (" + u.signature().length + " bytes) does not verify under sender " + u.sender().shortHex());
        }
        return TxVerdict.ok(new VerifiedTransaction(Sha256.hash(u.bodyBytes()), u.body(), u.tx(), u.sender()));
    }

    /** Returns a rejecting {@link TxVerdict} or an {@link Unsigned} awaiting its signature check. */
    private static Object checkAllButSignature(SignedTransaction tx, String chainId) {
        int size = tx.getSerializedSize();
        if (size > MAX_TRANSACTION_BYTES) {
            return TxVerdict.reject(TxVerdict.Reason.OVERSIZED,
                    size + " bytes, over MAX_TRANSACTION_BYTES = " + MAX_TRANSACTION_BYTES);
        }
        if (!tx.getUnknownFields().asMap().isEmpty()) {
            return TxVerdict.reject(TxVerdict.Reason.MALFORMED, "signed transaction has unknown fields");
        }
        if (tx.getBody().isEmpty()) {
            return TxVerdict.reject(TxVerdict.Reason.MALFORMED, "empty body");
        }
        byte[] bodyBytes = tx.getBody().toByteArray();
        TransactionBody body;
        try {
            body = TransactionBody.parseFrom(bodyBytes);
        } catch (InvalidProtocolBufferException e) {
            return TxVerdict.reject(TxVerdict.Reason.MALFORMED, "body does not parse: " + e.getMessage());
        }
        if (hasUnknownFields(body)) {
            return TxVerdict.reject(TxVerdict.Reason.MALFORMED, "body has unknown fields");
        }
        if (!body.getChainId().equals(chainId)) {
            return TxVerdict.reject(TxVerdict.Reason.WRONG_CHAIN_ID,
                    "chain id '" + abbreviate(body.getChainId()) + "', expected '" + chainId + "'");
        }
        PublicKey sender;
        try {
            sender = PublicKey.of(body.getSender().toByteArray());
        } catch (IllegalArgumentException e) {
            return TxVerdict.reject(TxVerdict.Reason.BAD_SENDER_KEY, e.getMessage());
        }
        TxVerdict opVerdict = checkOperation(body);
        if (opVerdict != null) {
            return opVerdict;
        }
        return new Unsigned(tx, body, bodyBytes, sender, tx.getSignature().toByteArray());
    }

    private static TxVerdict checkOperation(TransactionBody body) {
        switch (body.getOperationCase()) {
            case TRANSFER -> {
                Transfer t = body.getTransfer();
                if (t.getAmount() == 0) {
                    return TxVerdict.reject(TxVerdict.Reason.ZERO_AMOUNT, "transfer of 0");
                }
                try {
                    PublicKey.of(t.getTo().toByteArray());
                } catch (IllegalArgumentException e) {
                    return TxVerdict.reject(TxVerdict.Reason.BAD_RECIPIENT, e.getMessage());
                }
                if (t.getTo().equals(body.getSender())) {
                    return TxVerdict.reject(TxVerdict.Reason.SELF_TRANSFER, "transfer to the sender's own account");
                }
                return null;
            }
            case PUT_RECORD -> {
                PutRecord r = body.getPutRecord();
                int keyBytes = r.getKeyBytes().size();
                if (keyBytes == 0 || keyBytes > MAX_RECORD_KEY_BYTES) {
                    return TxVerdict.reject(TxVerdict.Reason.BAD_RECORD_KEY,
                            "record key of " + keyBytes + " bytes, must be 1 to MAX_RECORD_KEY_BYTES = " + MAX_RECORD_KEY_BYTES);
                }
                if (r.getValue().size() > MAX_RECORD_VALUE_BYTES) {
                    return TxVerdict.reject(TxVerdict.Reason.RECORD_VALUE_TOO_LARGE,
                            "record value of " + r.getValue().size() + " bytes, over MAX_RECORD_VALUE_BYTES = " + MAX_RECORD_VALUE_BYTES);
                }
                return null;
            }
            case CHANGE_VALIDATORS -> {
                // The approvals are checked when it executes, against the set in force then.
                String problem = ValidatorSets.setProblem(body.getChangeValidators().getValidatorsList());
                return problem == null ? null : TxVerdict.reject(TxVerdict.Reason.BAD_VALIDATOR_SET, problem);
            }
            default -> {
                return TxVerdict.reject(TxVerdict.Reason.NO_OPERATION, "no operation set");
            }
        }
    }

    /**
     * Same answer as {@link Blocks#hasUnknownFields} for a body, written out for the common
     * operations: this runs for every transaction at every replica, and the generic walk goes
     * through protobuf reflection (kept for the rare validator-set change).
     */
    private static boolean hasUnknownFields(TransactionBody body) {
        if (!body.getUnknownFields().asMap().isEmpty()) {
            return true;
        }
        return switch (body.getOperationCase()) {
            case TRANSFER -> !body.getTransfer().getUnknownFields().asMap().isEmpty();
            case PUT_RECORD -> !body.getPutRecord().getUnknownFields().asMap().isEmpty();
            case CHANGE_VALIDATORS -> Blocks.hasUnknownFields(body.getChangeValidators());
            case OPERATION_NOT_SET -> false;
        };
    }

    private static String abbreviate(String s) {
        return s.length() <= 80 ? s : s.substring(0, 80) + "...";
    }

    static ByteString bytes(PublicKey key) {
        return ByteString.copyFrom(key.bytes());
    }
}
