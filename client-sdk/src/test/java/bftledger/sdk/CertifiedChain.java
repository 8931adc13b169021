package bftledger.sdk;

import bftledger.crypto.BatchDigest;
import bftledger.crypto.CommitVote;
import bftledger.crypto.Digest;
import bftledger.crypto.HeaderAnchor;
import bftledger.crypto.KeyPair;
import bftledger.crypto.MerkleTree;
import bftledger.crypto.Sha256;
import bftledger.ledger.ChainGenesis;
import bftledger.ledger.ExecutionResult;
import bftledger.ledger.Proofs;
import bftledger.ledger.proto.BlockHeader;
import bftledger.ledger.proto.CommitCertificate;
import bftledger.ledger.proto.CommitSignature;
import bftledger.ledger.proto.HeaderCertificate;
import bftledger.ledger.proto.HeaderProof;
import bftledger.ledger.proto.Receipt;
import com.google.protobuf.ByteString;
import java.util.List;

/**
 * Headers and header proofs for SDK tests, signed with the validators' keys the way a network
 * certifies them: block {@code h}'s header is named by the batch of block {@code h + 1}, whose
 * commit certificate {@code signers} validators sign.
 */
final class CertifiedChain {
    final String chainId;
    final List<KeyPair> validators;
    final Digest genesisHash;

    CertifiedChain(String chainId, List<KeyPair> validators, Digest genesisHash) {
        this.chainId = chainId;
        this.validators = validators;
        this.genesisHash = genesisHash;
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
                .setValidatorSetHash(bytes(ChainGenesis.validatorSetHash(validators.stream().map(KeyPair::publicKey).toList())))
                .setBlocksRoot(bytes(Digest.ZERO)).setGenesisHash(bytes(genesisHash)).build();
    }

    /** The proof that {@code header} is certified: block height+1 anchors it, signed by the first {@code signers} validators. */
    HeaderProof certify(BlockHeader header, int signers) {
        long height = header.getHeight() + 1;
        Digest emptyRoot = MerkleTree.of(List.of()).root();
        HeaderAnchor anchor = new HeaderAnchor(header.getHeight(), Sha256.hash(header.toByteArray()));
        Digest batch = BatchDigest.of(2000, 0, emptyRoot, anchor);
        CommitCertificate.Builder cert = CommitCertificate.newBuilder().setView(0).setSequence(height).setBatchDigest(bytes(batch));
        for (int r = 0; r < signers; r++) {
            cert.addSignatures(CommitSignature.newBuilder().setReplica(r)
                    .setSignature(ByteString.copyFrom(new CommitVote(0, height, batch, r).sign(validators.get(r)))));
        }
        HeaderCertificate c = HeaderCertificate.newBuilder().setHeight(height).setTimestampMillis(2000).setTxCount(0)
                .setTxRoot(bytes(emptyRoot)).setAnchorHeight(anchor.height()).setAnchorHash(bytes(anchor.hash()))
                .setCertificate(cert).build();
        return HeaderProof.newBuilder().setHeader(header.toByteString()).setCertificate(c).build();
    }

    static ByteString bytes(Digest d) {
        return ByteString.copyFrom(d.bytes());
    }

    static bftledger.ledger.proto.InclusionProof inclusion(List<byte[]> leaves, int index) {
        return Proofs.toProto(MerkleTree.of(leaves).inclusionProof(index));
    }
}
