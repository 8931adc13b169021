package bftledger.sdk;

import bftledger.api.proto.GetAccountResponse;
import bftledger.api.proto.GetBlockResponse;
import bftledger.api.proto.GetCertifiedHeaderResponse;
import bftledger.api.proto.GetRecordHistoryResponse;
import bftledger.api.proto.GetRecordResponse;
import bftledger.api.proto.TransactionProof;
import bftledger.crypto.BatchDigest;
import bftledger.crypto.Digest;
import bftledger.crypto.HeaderAnchor;
import bftledger.crypto.PublicKey;
import bftledger.crypto.Sha256;
import bftledger.crypto.SparseMerkleTree;
import bftledger.ledger.ChainGenesis;
import bftledger.ledger.CommitCertificates;
import bftledger.ledger.Proofs;
import bftledger.ledger.RecordKey;
import bftledger.ledger.RecordValue;
import bftledger.ledger.StateKeys;
import bftledger.ledger.TrustRoot;
import bftledger.ledger.proto.Block;
import bftledger.ledger.proto.BlockHeader;
import bftledger.ledger.proto.HeaderCertificate;
import bftledger.ledger.proto.Receipt;
import bftledger.ledger.proto.SignedTransaction;
import bftledger.ledger.proto.TransactionBody;
import com.google.protobuf.ByteString;
import com.google.protobuf.InvalidProtocolBufferException;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.HexFormat;
import java.util.List;
import java.util.Set;

/**
 * Checks every answer a replica gives against the genesis and the validator sets followed since
 * (see api.proto): a header by its certificate, signed by the set in force at the certificate's
 * height ({@link TrustRoot#atHeight}), and naming the set in force at its own height; then what
 * the header's roots commit to — a transaction and its receipt, a balance, a record and its
 * earlier values, a block's body. A replica is never believed: an answer that does not verify is
 * rejected with the reason, and nothing in it is used. Holding only genesis's set, a header of a
 * block signed by a later set is refused; {@link Network#withValidators} gives the sets.
 */
public final class ProofVerifier {
    /** Certificate failures that signers of a set the verifier does not hold yet would cause. */
    private static final Set<CommitCertificates.Reason> SIGNERS_UNKNOWN = EnumSet.of(CommitCertificates.Reason.UNKNOWN_REPLICA,
            CommitCertificates.Reason.BAD_SIGNATURE, CommitCertificates.Reason.TOO_FEW_SIGNATURES,
            CommitCertificates.Reason.TOO_MANY_SIGNATURES);

    private final TrustRoot network;
    private final Runnable onLaterSetSuspected;

    public ProofVerifier(TrustRoot network) {
        this(network, () -> {});
    }

    /**
     * {@code onLaterSetSuspected} runs whenever a certificate fails on its signers or a proven
     * header names another validator set than the one held for its height: what a set the
     * verifier does not know yet would explain (the client then refreshes its sets).
     */
    ProofVerifier(TrustRoot network, Runnable onLaterSetSuspected) {
        this.network = network;
        this.onLaterSetSuspected = onLaterSetSuspected;
    }

    /** The header a verified answer stands on. */
    public record ProvenHeader(BlockHeader header, Digest hash) {
        public long height() {
            return header.getHeight();
        }
    }

    /** A verified header, or why not. */
    public Proofs.Checked<ProvenHeader> header(bftledger.ledger.proto.HeaderProof proof) {
        Proofs.Checked<BlockHeader> h = Proofs.verifyHeader(network, proof);
        if (!h.ok()) {
            if (signersUnknown(proof.getCertificate())) {
                onLaterSetSuspected.run();
            }
            return Proofs.Checked.fail(h.problem());
        }
        Digest inForce = ChainGenesis.validatorSetHash(network.atHeight(h.value().getHeight()).validatorKeys());
        if (!h.value().getValidatorSetHash().equals(ByteString.copyFrom(inForce.bytes()))) {
            onLaterSetSuspected.run();
            return Proofs.Checked.fail("the header at " + h.value().getHeight() + " names validator set "
                    + HexFormat.of().formatHex(h.value().getValidatorSetHash().toByteArray()) + ", the set in force there is "
                    + inForce.hex());
        }
        return Proofs.Checked.ok(new ProvenHeader(h.value(), Sha256.hash(proof.getHeader().toByteArray())));
    }

    /** Whether {@code c}, well formed, fails only on who signed it (the verdict {@link Proofs#verifyCertificate} flattens). */
    private boolean signersUnknown(HeaderCertificate c) {
        if (!c.hasCertificate() || c.getTxRoot().size() != Digest.LENGTH || c.getAnchorHash().size() != Digest.LENGTH
                || c.getAnchorHeight() <= 0 || Long.compareUnsigned(c.getAnchorHeight(), c.getHeight()) >= 0) {
            return false;
        }
        HeaderAnchor anchor = new HeaderAnchor(c.getAnchorHeight(), Digest.of(c.getAnchorHash().toByteArray()));
        Digest batch = BatchDigest.of(c.getTimestampMillis(), c.getTxCount(), Digest.of(c.getTxRoot().toByteArray()), anchor);
        return SIGNERS_UNKNOWN.contains(CommitCertificates.verify(c.getCertificate(), network, batch, c.getHeight()).reason());
    }

    /**
     * A transaction and its receipt are in the ledger: the header is certified, the transaction
     * id is under its tx_root and the receipt's bytes under its receipts_root at the receipt's
     * position, and the receipt names this transaction at this height.
     */
    public Verdict verify(TransactionProof proof) {
        if (!proof.hasHeaderProof()) {
            return Verdict.reject("no header proof: the block is not certified yet");
        }
        if (!proof.getHeaderProof().getHeader().equals(proof.getBlockHeader())) {
            return Verdict.reject("the header proof is for another header than the block's");
        }
        Proofs.Checked<ProvenHeader> header = header(proof.getHeaderProof());
        if (!header.ok()) {
            return Verdict.reject(header.problem());
        }
        return verifyIn(header.value().header(), proof);
    }

    private Verdict verifyIn(BlockHeader header, TransactionProof proof) {
        Digest txId = TransactionFactory.id(proof.getTransaction());
        Receipt receipt = proof.getReceipt();
        if (!receipt.getTxId().equals(ByteString.copyFrom(txId.bytes()))) {
            return Verdict.reject("the receipt is for another transaction");
        }
        if (receipt.getHeight() != header.getHeight()) {
            return Verdict.reject("the receipt's height " + receipt.getHeight() + " is not the block's " + header.getHeight());
        }
        long index = Integer.toUnsignedLong(receipt.getIndex());
        long count = Integer.toUnsignedLong(header.getTxCount());
        if (!Proofs.verifyInclusion(header.getTxRoot(), index, count, txId.bytes(), proof.getTxInclusion())) {
            return Verdict.reject("the transaction is not at the receipt's position under the block's tx_root");
        }
        if (!Proofs.verifyInclusion(header.getReceiptsRoot(), index, count, receipt.toByteArray(), proof.getReceiptInclusion())) {
            return Verdict.reject("the receipt is not the one under the block's receipts_root");
        }
        return Verdict.OK;
    }

    /**
     * A block's own commit certificate: a quorum of validators' COMMITs over the batch digest its
     * header's batch fields give. It proves the block's order and transactions, not its receipts
     * or state (those need the header certified, {@link #header}).
     */
    public Verdict verifyCommitCertificate(BlockHeader header, bftledger.ledger.proto.CommitCertificate cert) {
        if (header.getTxRoot().size() != Digest.LENGTH || header.getAnchorHash().size() != Digest.LENGTH) {
            return Verdict.reject("the header lacks a transaction root or anchor");
        }
        HeaderAnchor anchor;
        try {
            anchor = header.getAnchorHeight() == 0 ? HeaderAnchor.NONE
                    : new HeaderAnchor(header.getAnchorHeight(), Digest.of(header.getAnchorHash().toByteArray()));
        } catch (IllegalArgumentException e) {
            return Verdict.reject("the header's anchor is malformed");
        }
        Digest batch = BatchDigest.of(header.getTimestampMillis(), header.getTxCount(), Digest.of(header.getTxRoot().toByteArray()),
                anchor);
        if (!header.getBatchDigest().equals(ByteString.copyFrom(batch.bytes()))) {
            return Verdict.reject("the header's batch digest does not follow from its fields");
        }
        CommitCertificates.Verdict v = CommitCertificates.verify(cert, network, batch, header.getHeight());
        if (SIGNERS_UNKNOWN.contains(v.reason())) {
            onLaterSetSuspected.run();
        }
        return v.ok() ? Verdict.OK : Verdict.reject(v.toString());
    }

    /** An account's balance under a certified header: the state proof shows the balance's leaf, or the account's absence with 0. */
    public Proofs.Checked<ProvenHeader> verifyAccount(PublicKey account, GetAccountResponse r) {
        if (!r.getAccount().equals(ByteString.copyFrom(account.bytes()))) {
            return Proofs.Checked.fail("the answer is about another account");
        }
        return verifyState(r.getHeaderProof(), r.getHeight(), r.getBlockHash(), StateKeys.account(r.getAccount()),
                r.getStateProof(), r.getExists(), r.getExists() ? StateKeys.balanceValue(r.getBalance()) : null,
                r.getExists() || r.getBalance() == 0);
    }

    /** A record's value and writer under a certified header, or its absence. */
    public Proofs.Checked<ProvenHeader> verifyRecord(PublicKey owner, String key, GetRecordResponse r) {
        return verifyRecord(RecordKey.of(ByteString.copyFrom(owner.bytes()), key), r);
    }

    /** As above for any owner, the VALIDATORS record's included (its owner is no key). */
    Proofs.Checked<ProvenHeader> verifyRecord(RecordKey recordKey, GetRecordResponse r) {
        Digest valueHash = null;
        if (r.getFound()) {
            if (r.getWriterTxId().size() != Digest.LENGTH) {
                return Proofs.Checked.fail("the record's writer is not a transaction id");
            }
            valueHash = StateKeys.recordValue(new RecordValue(Digest.of(r.getWriterTxId().toByteArray()), r.getValue()));
        }
        return verifyState(r.getHeaderProof(), r.getHeight(), null, StateKeys.record(recordKey), r.getStateProof(),
                r.getFound(), valueHash, r.getFound() || (r.getValue().isEmpty() && r.getWriterTxId().isEmpty()));
    }

    private Proofs.Checked<ProvenHeader> verifyState(bftledger.ledger.proto.HeaderProof headerProof, long height,
            ByteString blockHash, Digest key, bftledger.ledger.proto.StateProof proof, boolean present, Digest valueHash,
            boolean consistent) {
        if (!consistent) {
            return Proofs.Checked.fail("the answer states a value for something it says is absent");
        }
        Proofs.Checked<ProvenHeader> header = header(headerProof);
        if (!header.ok()) {
            return header;
        }
        if (header.value().height() != height) {
            return Proofs.Checked.fail("the answer's height " + height + " is not its proven header's " + header.value().height());
        }
        if (blockHash != null && !blockHash.equals(ByteString.copyFrom(header.value().hash().bytes()))) {
            return Proofs.Checked.fail("the answer's block hash is not its proven header's");
        }
        Proofs.Checked<SparseMerkleTree.Verdict> verdict = Proofs.verifyState(header.value().header(), key, proof);
        if (!verdict.ok()) {
            return Proofs.Checked.fail(verdict.problem());
        }
        boolean provenPresent = verdict.value().kind() == SparseMerkleTree.Verdict.Kind.PRESENT;
        if (provenPresent != present) {
            return Proofs.Checked.fail("the state proof shows the key " + (provenPresent ? "present" : "absent")
                    + ", the answer says " + (present ? "present" : "absent"));
        }
        if (present && !verdict.value().valueHash().equals(valueHash)) {
            return Proofs.Checked.fail("the stated value is not the one under the header's state root");
        }
        return header;
    }

    /**
     * A record's history: each write a PutRecord by the owner on the key with a SUCCESS receipt,
     * proven in the ledger, linked newest to oldest by the receipts' previous_tx_id, starting at
     * {@code newest} (the current writer, or the write before the one a page continued from).
     */
    public Verdict verifyHistory(PublicKey owner, String key, Digest newest, GetRecordHistoryResponse r) {
        Digest expected = newest;
        for (TransactionProof write : r.getWritesList()) {
            Verdict v = verify(write);
            if (!v.ok()) {
                return v;
            }
            Digest id = TransactionFactory.id(write.getTransaction());
            if (!id.equals(expected)) {
                return Verdict.reject("the history skips or reorders writes: expected " + expected.shortHex() + ", got "
                        + id.shortHex());
            }
            TransactionBody body;
            try {
                body = TransactionBody.parseFrom(write.getTransaction().getBody());
            } catch (InvalidProtocolBufferException e) {
                return Verdict.reject("a write's body does not parse");
            }
            if (!body.hasPutRecord() || !body.getSender().equals(ByteString.copyFrom(owner.bytes()))
                    || !body.getPutRecord().getKey().equals(key) || write.getReceipt().getStatus() != Receipt.Status.SUCCESS) {
                return Verdict.reject("a write in the history is not a successful put of this record");
            }
            ByteString previous = write.getReceipt().getPreviousTxId();
            if (previous.isEmpty()) {
                expected = null;
                continue;
            }
            if (previous.size() != Digest.LENGTH) {
                return Verdict.reject("a receipt names a previous write that is not a transaction id");
            }
            expected = Digest.of(previous.toByteArray());
        }
        if (r.getComplete() != (expected == null)) {
            return Verdict.reject(r.getComplete() ? "the history claims to be complete but the last write has a predecessor"
                    : "the history claims more writes but the last write is the record's first");
        }
        return Verdict.OK;
    }

    /** A block under a certified header: its transactions and receipts are exactly what the header's roots commit to. */
    public Proofs.Checked<ProvenHeader> verifyBlock(GetBlockResponse r) {
        if (!r.hasHeaderProof()) {
            return Proofs.Checked.fail("no header proof: the block is not certified yet");
        }
        Block block = r.getBlock();
        if (!r.getHeaderProof().getHeader().equals(block.getHeader())) {
            return Proofs.Checked.fail("the header proof is for another header than the block's");
        }
        Proofs.Checked<ProvenHeader> header = header(r.getHeaderProof());
        if (!header.ok()) {
            return header;
        }
        BlockHeader h = header.value().header();
        if (Integer.toUnsignedLong(h.getTxCount()) != block.getTransactionsCount()
                || block.getReceiptsCount() != block.getTransactionsCount()) {
            return Proofs.Checked.fail("the block's transactions or receipts are not as many as its header counts");
        }
        List<Digest> ids = new ArrayList<>();
        for (SignedTransaction tx : block.getTransactionsList()) {
            ids.add(TransactionFactory.id(tx));
        }
        if (!h.getTxRoot().equals(ByteString.copyFrom(BatchDigest.requestRoot(ids).bytes()))) {
            return Proofs.Checked.fail("the block's transactions are not the ones its header's tx_root commits to");
        }
        if (!h.getReceiptsRoot().equals(ByteString.copyFrom(bftledger.ledger.ExecutionResult
                .receiptsRoot(block.getReceiptsList()).bytes()))) {
            return Proofs.Checked.fail("the block's receipts are not the ones its header's receipts_root commits to");
        }
        if (!r.getBlockHash().isEmpty() && !r.getBlockHash().equals(ByteString.copyFrom(header.value().hash().bytes()))) {
            return Proofs.Checked.fail("the answer's block hash is not its proven header's");
        }
        return header;
    }

    /** The latest certified header, and, when asked, that it extends the block at {@code extendsHeight}. */
    public Proofs.Checked<ProvenHeader> verifyCertifiedHeader(GetCertifiedHeaderResponse r, long extendsHeight) {
        if (!r.getFound() || !r.getLatest().getCertifiedHeader().isEmpty()) {
            return Proofs.Checked.fail("no certified header");
        }
        Proofs.Checked<ProvenHeader> latest = header(r.getLatest());
        if (!latest.ok() || extendsHeight <= 0) {
            return latest;
        }
        if (latest.value().height() == extendsHeight && r.getExtends().equals(r.getLatest())) {
            return latest; // asked about the latest itself: the replica repeats its proof
        }
        if (!r.getExtends().getCertifiedHeader().equals(r.getLatest().getHeader())) {
            return Proofs.Checked.fail("the extension proof is not against the latest certified header");
        }
        Proofs.Checked<ProvenHeader> earlier = header(r.getExtends());
        if (!earlier.ok()) {
            return earlier;
        }
        if (earlier.value().height() != extendsHeight) {
            return Proofs.Checked.fail("the extension proof is for height " + earlier.value().height());
        }
        return latest;
    }
}
