package bftledger.sdk;

import bftledger.api.proto.GetAccountResponse;
import bftledger.api.proto.GetRecordResponse;
import bftledger.api.proto.TransactionProof;
import bftledger.crypto.BatchDigest;
import bftledger.crypto.CommitVote;
import bftledger.crypto.Digest;
import bftledger.crypto.HeaderAnchor;
import bftledger.crypto.KeyPair;
import bftledger.crypto.MerkleTree;
import bftledger.crypto.PublicKey;
import bftledger.crypto.Sha256;
import bftledger.crypto.SparseMerkleTree;
import bftledger.ledger.ChainGenesis;
import bftledger.ledger.ExecutionResult;
import bftledger.ledger.Proofs;
import bftledger.ledger.RecordValue;
import bftledger.ledger.StateKeys;
import bftledger.ledger.ValidatorSets;
import bftledger.ledger.ValidatorSets.ValidatorSet;
import bftledger.ledger.proto.BlockHeader;
import bftledger.ledger.proto.CommitCertificate;
import bftledger.ledger.proto.CommitSignature;
import bftledger.ledger.proto.HeaderCertificate;
import bftledger.ledger.proto.HeaderProof;
import bftledger.ledger.proto.Receipt;
import bftledger.ledger.proto.SignedTransaction;
import bftledger.ledger.proto.Validator;
import bftledger.ledger.proto.ValidatorApproval;
import bftledger.ledger.proto.ValidatorEpoch;
import bftledger.ledger.proto.ValidatorSetRecord;
import com.google.protobuf.ByteString;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeMap;

/**
 * Headers and header proofs for SDK tests, signed with the validators' keys the way a network
 * certifies them: block {@code h}'s header is named by the batch of block {@code h + 1}, whose
 * commit certificate {@code signers} validators of the set in force at {@code h + 1} sign. Genesis's
 * validators sign every height until {@link #withSet} names a later set.
 */
final class CertifiedChain {
    final String chainId;
    final List<KeyPair> validators;
    final Digest genesisHash;
    /** The sets after genesis's by the first height each signs. */
    private final TreeMap<Long, List<KeyPair>> later;

    CertifiedChain(String chainId, List<KeyPair> validators, Digest genesisHash) {
        this(chainId, validators, genesisHash, new TreeMap<>());
    }

    private CertifiedChain(String chainId, List<KeyPair> validators, Digest genesisHash, TreeMap<Long, List<KeyPair>> later) {
        this.chainId = chainId;
        this.validators = validators;
        this.genesisHash = genesisHash;
        this.later = later;
    }

    /** The same network, whose blocks from {@code fromHeight} on the validators {@code keys} sign. */
    CertifiedChain withSet(long fromHeight, List<KeyPair> keys) {
        TreeMap<Long, List<KeyPair>> sets = new TreeMap<>(later);
        sets.put(fromHeight, keys);
        return new CertifiedChain(chainId, validators, genesisHash, sets);
    }

    /** Who signs block {@code height}. */
    List<KeyPair> signersAt(long height) {
        var entry = later.floorEntry(height);
        return entry == null ? validators : entry.getValue();
    }

    Network network(List<String> addresses) {
        return new Network(chainId, validators.stream().map(KeyPair::publicKey).toList(), addresses, genesisHash);
    }

    /** A header at {@code height} committing to these roots (the rest of its fields filled plausibly). */
    BlockHeader header(long height, Digest txRoot, int txCount, List<Receipt> receipts, Digest stateRoot) {
        HeaderAnchor anchor = HeaderAnchor.NONE;
        Digest batch = BatchDigest.of(1000 + height, txCount, txRoot, anchor);
        return BlockHeader.newBuilder().setChainId(chainId).setHeight(height)
                .setPreviousHash(ByteString.copyFrom(Sha256.hash(("block " + (height - 1)).getBytes()).bytes()))
                .setTxRoot(bytes(txRoot)).setTxCount(txCount).setTimestampMillis(1000 + height).setBatchDigest(bytes(batch))
                .setReceiptsRoot(bytes(ExecutionResult.receiptsRoot(receipts))).setStateRoot(bytes(stateRoot))
                .setAnchorHeight(0).setAnchorHash(bytes(Digest.ZERO))
                .setValidatorSetHash(bytes(ChainGenesis.validatorSetHash(signersAt(height).stream().map(KeyPair::publicKey).toList())))
                .setBlocksRoot(bytes(Digest.ZERO)).setGenesisHash(bytes(genesisHash)).build();
    }

    /**
     * The proof that {@code header} is certified: block height+1 anchors it, signed by the first
     * {@code signers} validators of the set in force there.
     */
    HeaderProof certify(BlockHeader header, int signers) {
        return certify(header, signersAt(header.getHeight() + 1).subList(0, signers));
    }

    /** As above, signed by {@code keys} as replicas 0, 1, ... whoever they are. */
    HeaderProof certify(BlockHeader header, List<KeyPair> keys) {
        long height = header.getHeight() + 1;
        Digest emptyRoot = MerkleTree.of(List.of()).root();
        HeaderAnchor anchor = new HeaderAnchor(header.getHeight(), Sha256.hash(header.toByteArray()));
        Digest batch = BatchDigest.of(2000, 0, emptyRoot, anchor);
        CommitCertificate.Builder cert = CommitCertificate.newBuilder().setView(0).setSequence(height).setBatchDigest(bytes(batch));
        for (int r = 0; r < keys.size(); r++) {
            cert.addSignatures(CommitSignature.newBuilder().setReplica(r)
                    .setSignature(ByteString.copyFrom(new CommitVote(0, height, batch, r).sign(keys.get(r)))));
        }
        HeaderCertificate c = HeaderCertificate.newBuilder().setHeight(height).setTimestampMillis(2000).setTxCount(0)
                .setTxRoot(bytes(emptyRoot)).setAnchorHeight(anchor.height()).setAnchorHash(bytes(anchor.hash()))
                .setCertificate(cert).build();
        return HeaderProof.newBuilder().setHeader(header.toByteString()).setCertificate(c).build();
    }

    /**
     * A one-transaction block at {@code height} holding {@code tx} with a FAILED receipt, and the
     * proof of it: the header certified by {@code signers} validators of the set in force at
     * height+1. {@code tamperRoot} puts the transaction under another tx_root; {@code claimed} is
     * the status the proof's receipt shows.
     */
    TransactionProof transactionProof(SignedTransaction tx, long height, int signers, boolean tamperRoot,
            Receipt.Status claimed) {
        Digest id = TransactionFactory.id(tx);
        Receipt stored = Receipt.newBuilder().setTxId(ByteString.copyFrom(id.bytes())).setHeight(height)
                .setStatus(Receipt.Status.FAILED).setReason("insufficient funds").build();
        Digest root = tamperRoot ? Sha256.hash(new byte[] {9}) : MerkleTree.of(List.of(id.bytes())).root();
        BlockHeader header = header(height, root, 1, List.of(stored), Digest.ZERO);
        Receipt shown = claimed == stored.getStatus() ? stored : stored.toBuilder().setStatus(claimed).clearReason().build();
        return TransactionProof.newBuilder().setTransaction(tx).setBlockHeader(header.toByteString()).setReceipt(shown)
                .setTxInclusion(inclusion(List.of(id.bytes()), 0))
                .setReceiptInclusion(inclusion(List.of(stored.toByteArray()), 0))
                .setHeaderProof(certify(header, signers)).build();
    }

    /** Validators of a set: each key at {@code addresses[i]}. */
    static List<Validator> validators(List<KeyPair> keys, List<String> addresses) {
        List<Validator> out = new ArrayList<>();
        for (int i = 0; i < keys.size(); i++) {
            out.add(Validator.newBuilder().setPublicKey(ByteString.copyFrom(keys.get(i).publicKey().bytes()))
                    .setAddress(addresses.get(i)).setName("v" + i).build());
        }
        return out;
    }

    /**
     * A VALIDATORS record value naming {@code next} as epoch 1 from {@code fromHeight}, approved
     * by {@code approvers} as genesis's replicas 0, 1, ... (a forgery when they are not genesis's).
     */
    ByteString validatorRecord(long fromHeight, List<Validator> next, List<KeyPair> approvers) {
        ValidatorSet genesisSet = network(List.of("a:1", "b:1", "c:1", "d:1")).validators().sets().get(0);
        ValidatorEpoch.Builder epoch = ValidatorEpoch.newBuilder().setEpoch(1).setFromHeight(fromHeight).addAllValidators(next)
                .setChangeTxId(bytes(Sha256.hash("change".getBytes()))).setChangeHeight(fromHeight - 128)
                .setCurrentSetHash(bytes(genesisSet.hash()));
        for (int r = 0; r < approvers.size(); r++) {
            epoch.addApprovals(ValidatorApproval.newBuilder().setReplica(r).setSignature(
                    ByteString.copyFrom(ValidatorSets.approve(approvers.get(r), genesisHash, genesisSet, next))));
        }
        return ValidatorSetRecord.newBuilder().addEpochs(epoch).build().toByteString();
    }

    /**
     * A replica's answer to a read of the VALIDATORS record: {@code value} (null: never written)
     * proven under the header at {@code height}, certified by {@code signers} of the set in force
     * at height+1.
     */
    GetRecordResponse validatorRecordAnswer(ByteString value, long height, int signers) {
        Digest key = StateKeys.record(ValidatorSets.RECORD);
        Digest writer = Sha256.hash("change".getBytes());
        List<SparseMerkleTree.Change> leaves = new ArrayList<>();
        leaves.add(new SparseMerkleTree.Change(Sha256.hash("another leaf".getBytes()), Sha256.hash(new byte[] {1})));
        if (value != null) {
            leaves.add(new SparseMerkleTree.Change(key, StateKeys.recordValue(new RecordValue(writer, value))));
        }
        leaves.sort(java.util.Comparator.comparing(SparseMerkleTree.Change::key));
        SparseMerkleTree.Update tree = SparseMerkleTree.build(leaves);
        BlockHeader header = header(height, Digest.ZERO, 0, List.of(), tree.root().hash());
        GetRecordResponse.Builder answer = GetRecordResponse.newBuilder().setFound(value != null).setHeight(height)
                .setStateProof(Proofs.toProto(SparseMerkleTree.prove(tree.written()::get, tree.root(), key)))
                .setHeaderProof(certify(header, signers)).setAtMinHeight(true);
        if (value != null) {
            answer.setValue(value).setWriterTxId(bytes(writer));
        }
        return answer.build();
    }

    /** A replica's answer to a read of {@code account}: {@code balance} proven under the header at {@code height}. */
    GetAccountResponse accountAnswer(PublicKey account, long balance, long height, int signers) {
        Digest key = StateKeys.account(ByteString.copyFrom(account.bytes()));
        SparseMerkleTree.Update tree = SparseMerkleTree.build(List.of(
                new SparseMerkleTree.Change(key, StateKeys.balanceValue(balance))));
        BlockHeader header = header(height, Digest.ZERO, 0, List.of(), tree.root().hash());
        return GetAccountResponse.newBuilder().setAccount(ByteString.copyFrom(account.bytes())).setBalance(balance)
                .setExists(true).setHeight(height).setBlockHash(bytes(Sha256.hash(header.toByteArray())))
                .setStateProof(Proofs.toProto(SparseMerkleTree.prove(tree.written()::get, tree.root(), key)))
                .setHeaderProof(certify(header, signers)).setAtMinHeight(true).build();
    }

    static ByteString bytes(Digest d) {
        return ByteString.copyFrom(d.bytes());
    }

    static bftledger.ledger.proto.InclusionProof inclusion(List<byte[]> leaves, int index) {
        return Proofs.toProto(MerkleTree.of(leaves).inclusionProof(index));
    }
}
