package bftledger.sdk;

import bftledger.api.proto.InclusionProof;
import bftledger.api.proto.TransactionProof;
import bftledger.crypto.BatchDigest;
import bftledger.crypto.CommitVote;
import bftledger.crypto.Digest;
import bftledger.crypto.MerkleTree;
import bftledger.ledger.proto.BlockHeader;
import bftledger.ledger.proto.CommitCertificate;
import bftledger.ledger.proto.CommitSignature;
import com.google.protobuf.ByteString;
import com.google.protobuf.InvalidProtocolBufferException;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * Checks, against genesis alone, that a transaction is in a block a quorum committed: the
 * header is on this chain, its batch digest follows from its fields, 2f+1 distinct validators
 * signed COMMIT for that digest at that height, and the transaction id is in the header's
 * transaction root. It does not check that the block extends the caller's view of the chain;
 * two blocks at one height with valid certificates would mean more than f faulty replicas.
 */
public final class ProofVerifier {
    private final Network network;

    public ProofVerifier(Network network) {
        this.network = network;
    }

    public Verdict verify(TransactionProof proof) {
        BlockHeader header;
        try {
            header = BlockHeader.parseFrom(proof.getBlockHeader());
        } catch (InvalidProtocolBufferException e) {
            return Verdict.reject("block header does not parse: " + e.getMessage());
        }
        if (!network.chainId().equals(header.getChainId())) {
            return Verdict.reject("block header is for chain '" + header.getChainId() + "'");
        }
        Verdict cert = verifyCertificate(header, proof.getCertificate());
        if (!cert.ok()) {
            return cert;
        }
        Digest txId = TransactionFactory.id(proof.getTransaction());
        if (!proof.getReceipt().getTxId().equals(ByteString.copyFrom(txId.bytes()))) {
            return Verdict.reject("receipt is for another transaction");
        }
        if (proof.getReceipt().getHeight() != header.getHeight()) {
            return Verdict.reject("receipt height " + proof.getReceipt().getHeight() + " is not the block's "
                    + header.getHeight());
        }
        InclusionProof inclusion = proof.getTxInclusion();
        if (inclusion.getTreeSize() != header.getTxCount() || inclusion.getLeafIndex() != proof.getReceipt().getIndex()) {
            return Verdict.reject("inclusion proof position does not match the receipt and header");
        }
        List<Digest> path = new ArrayList<>();
        for (ByteString p : inclusion.getPathList()) {
            if (p.size() != Digest.LENGTH) {
                return Verdict.reject("inclusion proof holds a " + p.size() + "-byte hash");
            }
            path.add(Digest.of(p.toByteArray()));
        }
        if (header.getTxRoot().size() != Digest.LENGTH) {
            return Verdict.reject("block header has no transaction root");
        }
        if (!new bftledger.crypto.InclusionProof(inclusion.getLeafIndex(), inclusion.getTreeSize(), path)
                .verifyLeafHash(Digest.of(header.getTxRoot().toByteArray()), MerkleTree.leafHash(txId.bytes()))) {
            return Verdict.reject("inclusion proof does not lead to the block's transaction root");
        }
        return Verdict.OK;
    }

    /** A commit certificate for this header: 2f+1 distinct validator COMMITs over its batch digest. */
    public Verdict verifyCertificate(BlockHeader header, CommitCertificate cert) {
        if (header.getBatchDigest().size() != Digest.LENGTH || header.getTxRoot().size() != Digest.LENGTH) {
            return Verdict.reject("block header lacks a batch digest or transaction root");
        }
        Digest batch = Digest.of(header.getBatchDigest().toByteArray());
        Digest recomputed = BatchDigest.of(header.getTimestampMillis(), header.getTxCount(),
                Digest.of(header.getTxRoot().toByteArray()));
        if (!batch.equals(recomputed)) {
            return Verdict.reject("block header's batch digest does not follow from its fields");
        }
        if (cert.getSequence() != header.getHeight()) {
            return Verdict.reject("certificate is for sequence " + cert.getSequence() + ", block is height "
                    + header.getHeight());
        }
        if (!cert.getBatchDigest().equals(header.getBatchDigest())) {
            return Verdict.reject("certificate signs another batch digest");
        }
        Set<Integer> signers = new HashSet<>();
        for (CommitSignature s : cert.getSignaturesList()) {
            int replica = s.getReplica();
            if (replica < 0 || replica >= network.n()) {
                return Verdict.reject("certificate signature by unknown replica " + replica);
            }
            if (!signers.add(replica)) {
                return Verdict.reject("certificate lists replica " + replica + " twice");
            }
            CommitVote vote = new CommitVote(cert.getView(), cert.getSequence(), batch, replica);
            if (!vote.verify(network.validatorKeys().get(replica), s.getSignature().toByteArray())) {
                return Verdict.reject("certificate signature of replica " + replica + " does not verify");
            }
        }
        if (signers.size() < network.commitQuorum()) {
            return Verdict.reject("certificate has " + signers.size() + " signatures; " + network.commitQuorum()
                    + " are needed");
        }
        return Verdict.OK;
    }
}
