package bftledger.sdk;

import bftledger.crypto.Digest;
import bftledger.crypto.Domain;
import bftledger.crypto.KeyPair;
import bftledger.crypto.PublicKey;
import bftledger.crypto.Sha256;
import bftledger.ledger.proto.PutRecord;
import bftledger.ledger.proto.SignedTransaction;
import bftledger.ledger.proto.Transfer;
import bftledger.ledger.proto.TransactionBody;
import com.google.protobuf.ByteString;
import java.security.SecureRandom;

/**
 * Builds and signs transactions by the public signing rule of ledger.proto: the serialized body
 * bytes are signed under {@link Domain#TRANSACTION} and never re-serialized; the id is
 * SHA-256 of those bytes. Nonces are random 63-bit values so two identical transfers stay
 * distinct; a retry must reuse the SignedTransaction, not build a new one.
 */
public final class TransactionFactory {
    private final String chainId;
    private final SecureRandom random;

    public TransactionFactory(String chainId) {
        this(chainId, new SecureRandom());
    }

    public TransactionFactory(String chainId, SecureRandom random) {
        this.chainId = chainId;
        this.random = random;
    }

    public SignedTransaction transfer(KeyPair sender, PublicKey to, long amount) {
        return transfer(sender, to, amount, nextNonce());
    }

    public SignedTransaction transfer(KeyPair sender, PublicKey to, long amount, long nonce) {
        return sign(sender, body(sender, nonce)
                .setTransfer(Transfer.newBuilder().setTo(ByteString.copyFrom(to.bytes())).setAmount(amount)));
    }

    public SignedTransaction put(KeyPair sender, String key, byte[] value) {
        return sign(sender, body(sender, nextNonce())
                .setPutRecord(PutRecord.newBuilder().setKey(key).setValue(ByteString.copyFrom(value))));
    }

    public static SignedTransaction sign(KeyPair sender, TransactionBody.Builder body) {
        byte[] bytes = body.build().toByteArray();
        return SignedTransaction.newBuilder()
                .setBody(ByteString.copyFrom(bytes))
                .setSignature(ByteString.copyFrom(sender.sign(Domain.TRANSACTION, bytes)))
                .build();
    }

    public static Digest id(SignedTransaction tx) {
        return Sha256.hash(tx.getBody().toByteArray());
    }

    private TransactionBody.Builder body(KeyPair sender, long nonce) {
        return TransactionBody.newBuilder()
                .setChainId(chainId)
                .setSender(ByteString.copyFrom(sender.publicKey().bytes()))
                .setNonce(nonce);
    }

    private long nextNonce() {
        return random.nextLong() & Long.MAX_VALUE;
    }
}
