package bftledger.ledger;

import bftledger.crypto.BatchDigest;
import bftledger.crypto.Digest;
import bftledger.crypto.HeaderAnchor;
import bftledger.crypto.HistoryTree;
import bftledger.crypto.Sha256;
import bftledger.crypto.SparseMerkleTree;
import bftledger.ledger.proto.Block;
import bftledger.ledger.proto.BlockHeader;
import bftledger.ledger.proto.HeaderCertificate;
import bftledger.ledger.proto.HeaderProof;
import bftledger.ledger.proto.InclusionProof;
import bftledger.ledger.proto.StateProof;
import com.google.protobuf.ByteString;
import com.google.protobuf.InvalidProtocolBufferException;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * The proofs a replica gives and a client checks against genesis alone: that a header is
 * certified ({@link HeaderProof}), what the state holds for a key under a certified header
 * ({@link StateProof}), and that bytes are a leaf of a header's RFC 6962 root ({@link
 * InclusionProof}). Building them needs a store; checking them needs the genesis and nothing a
 * replica says. Checks never throw on a bad proof: they say what is wrong.
 */
public final class Proofs {
    private Proofs() {}

    /** A checked value, or why the check failed. */
    public record Checked<T>(T value, String problem) {
        public static <T> Checked<T> ok(T value) {
            return new Checked<>(value, null);
        }

        public static <T> Checked<T> fail(String problem) {
            return new Checked<>(null, problem);
        }

        public boolean ok() {
            return problem == null;
        }
    }

    // ------------------------------------------------------------------------------ building

    /**
     * The proof for block {@code height}'s header: the first stored block anchoring it, or else
     * the lowest certified header above it, with this header's hash proven in that one's blocks_root.
     */
    static Optional<HeaderProof> headerProof(StoreSnapshot s, BlockHistory history, long height) {
        if (height < 1 || height > s.height()) {
            return Optional.empty();
        }
        if (history.certifyingBlock(s.txn, height).isPresent()) {
            return headerProof(s, history, height, height);
        }
        return history.certifiedAtOrAbove(s.txn, height + 1).flatMap(certified -> headerProof(s, history, height, certified));
    }

    /**
     * The proof for block {@code height}'s header against the certified header at
     * {@code certified} (at or above it): that header's certificate, and unless it is the same
     * header, this header's hash in the certified header's blocks_root. Empty when no stored block
     * certifies {@code certified}.
     */
    static Optional<HeaderProof> headerProof(StoreSnapshot s, BlockHistory history, long height, long certified) {
        if (height < 1 || certified < height || certified > s.height()) {
            return Optional.empty();
        }
        Optional<Long> certifying = history.certifyingBlock(s.txn, certified);
        if (certifying.isEmpty()) {
            return Optional.empty();
        }
        HeaderProof.Builder proof = HeaderProof.newBuilder().setHeader(s.parseBlock(height).getHeader())
                .setCertificate(certificateOf(s.parseBlock(certifying.get())));
        if (certified != height) {
            proof.setCertifiedHeader(s.parseBlock(certified).getHeader())
                    .setHistory(toProto(HistoryTree.inclusionProof(history.reader(s.txn), height, certified)));
        }
        return Optional.of(proof.build());
    }

    /** What {@code certifying}'s commit certificate signs, spelled out: its batch and the header it anchors. */
    public static HeaderCertificate certificateOf(Block certifying) {
        BlockHeader h;
        try {
            h = Blocks.header(certifying);
        } catch (InvalidProtocolBufferException e) {
            throw new StoreCorruptedException("a stored block header does not parse: " + e.getMessage(), e);
        }
        return HeaderCertificate.newBuilder().setHeight(h.getHeight()).setTimestampMillis(h.getTimestampMillis())
                .setTxCount(h.getTxCount()).setTxRoot(h.getTxRoot()).setAnchorHeight(h.getAnchorHeight())
                .setAnchorHash(h.getAnchorHash()).setCertificate(certifying.getCertificate()).build();
    }

    public static InclusionProof toProto(bftledger.crypto.InclusionProof proof) {
        InclusionProof.Builder b = InclusionProof.newBuilder().setLeafIndex(proof.leafIndex()).setTreeSize(proof.treeSize());
        proof.path().forEach(d -> b.addPath(ByteString.copyFrom(d.bytes())));
        return b.build();
    }

    public static StateProof toProto(SparseMerkleTree.Proof proof) {
        StateProof.Builder b = StateProof.newBuilder();
        proof.siblings().forEach(d -> b.addSiblings(ByteString.copyFrom(d.bytes())));
        if (proof.terminal() instanceof SparseMerkleTree.Leaf leaf) {
            b.setLeafKey(ByteString.copyFrom(leaf.key().bytes())).setLeafValueHash(ByteString.copyFrom(leaf.valueHash().bytes()));
        }
        return b.build();
    }

    // ------------------------------------------------------------------------------ checking

    /**
     * The header {@code proof} proves, checked against {@code genesis}: its certificate is a quorum of
     * validators' COMMITs over a batch whose anchor names the certified header, and the proven
     * header is that one or, through the certified header's blocks_root, an earlier one.
     */
    public static Checked<BlockHeader> verifyHeader(TrustRoot genesis, HeaderProof proof) {
        Checked<BlockHeader> header = parseHeader(proof.getHeader(), genesis, "proven header");
        if (!header.ok()) {
            return header;
        }
        Checked<HeaderAnchor> certified = verifyCertificate(genesis, proof.getCertificate());
        if (!certified.ok()) {
            return Checked.fail(certified.problem());
        }
        ByteString certifiedBytes = proof.getCertifiedHeader().isEmpty() ? proof.getHeader() : proof.getCertifiedHeader();
        Checked<BlockHeader> certifiedHeader = parseHeader(certifiedBytes, genesis, "certified header");
        if (!certifiedHeader.ok()) {
            return certifiedHeader;
        }
        HeaderAnchor anchor = certified.value();
        if (anchor.height() != certifiedHeader.value().getHeight()
                || !anchor.hash().equals(Sha256.hash(certifiedBytes.toByteArray()))) {
            return Checked.fail("the certificate names header " + anchor + ", not the certified header at height "
                    + certifiedHeader.value().getHeight());
        }
        if (proof.getCertifiedHeader().isEmpty()) {
            return header;
        }
        long height = header.value().getHeight();
        long size = certifiedHeader.value().getHeight();
        if (height >= size) {
            return Checked.fail("the certified header at " + size + " is not above the proven header at " + height);
        }
        if (!verifyInclusion(certifiedHeader.value().getBlocksRoot(), height, size,
                Sha256.hash(proof.getHeader().toByteArray()).bytes(), proof.getHistory())) {
            return Checked.fail("the proven header is not block " + height + " of the certified header's blocks_root");
        }
        return header;
    }

    /** The anchor {@code c}'s commit certificate certifies, once its signatures verify against genesis. */
    public static Checked<HeaderAnchor> verifyCertificate(TrustRoot genesis, HeaderCertificate c) {
        if (c.getTxRoot().size() != Digest.LENGTH || c.getAnchorHash().size() != Digest.LENGTH || c.getAnchorHeight() <= 0
                || Long.compareUnsigned(c.getAnchorHeight(), c.getHeight()) >= 0) {
            return Checked.fail("the header certificate names no earlier header");
        }
        HeaderAnchor anchor = new HeaderAnchor(c.getAnchorHeight(), Digest.of(c.getAnchorHash().toByteArray()));
        Digest batch = BatchDigest.of(c.getTimestampMillis(), c.getTxCount(), Digest.of(c.getTxRoot().toByteArray()), anchor);
        CommitCertificates.Verdict verdict = CommitCertificates.verify(c.hasCertificate() ? c.getCertificate() : null,
                genesis, batch, c.getHeight());
        if (!verdict.ok()) {
            return Checked.fail("the commit certificate of block " + Long.toUnsignedString(c.getHeight())
                    + " does not verify: " + verdict);
        }
        return Checked.ok(anchor);
    }

    /**
     * What {@code proof} shows for state key {@code key} under {@code header}'s state_root:
     * {@link SparseMerkleTree.Verdict.Kind#PRESENT} with the value hash, or ABSENT; a proof that
     * does not lead to the root is a failure.
     */
    public static Checked<SparseMerkleTree.Verdict> verifyState(BlockHeader header, Digest key, StateProof proof) {
        if (header.getStateRoot().size() != Digest.LENGTH) {
            return Checked.fail("the header has no state root");
        }
        if (proof.getSiblingsCount() > SparseMerkleTree.KEY_BITS) {
            return Checked.fail("the state proof passes more than " + SparseMerkleTree.KEY_BITS + " nodes");
        }
        List<Digest> siblings = new ArrayList<>(proof.getSiblingsCount());
        for (ByteString s : proof.getSiblingsList()) {
            if (s.size() != Digest.LENGTH) {
                return Checked.fail("the state proof holds a " + s.size() + "-byte hash");
            }
            siblings.add(Digest.of(s.toByteArray()));
        }
        SparseMerkleTree.Node terminal;
        if (proof.getLeafKey().isEmpty() && proof.getLeafValueHash().isEmpty()) {
            terminal = SparseMerkleTree.Empty.INSTANCE;
        } else if (proof.getLeafKey().size() == Digest.LENGTH && proof.getLeafValueHash().size() == Digest.LENGTH) {
            terminal = new SparseMerkleTree.Leaf(Digest.of(proof.getLeafKey().toByteArray()),
                    Digest.of(proof.getLeafValueHash().toByteArray()));
        } else {
            return Checked.fail("the state proof's leaf is not a 32-byte key and value hash");
        }
        SparseMerkleTree.Verdict verdict = new SparseMerkleTree.Proof(siblings, terminal)
                .verify(Digest.of(header.getStateRoot().toByteArray()), key);
        if (verdict.kind() == SparseMerkleTree.Verdict.Kind.INVALID) {
            return Checked.fail("the state proof does not lead to the header's state root");
        }
        return Checked.ok(verdict);
    }

    /** Whether {@code leaf} is leaf {@code index} of the RFC 6962 tree of {@code size} leaves whose root is {@code root}. */
    public static boolean verifyInclusion(ByteString root, long index, long size, byte[] leaf, InclusionProof proof) {
        if (root.size() != Digest.LENGTH || proof.getLeafIndex() != index || proof.getTreeSize() != size || index < 0
                || size < 0 || proof.getPathCount() > bftledger.crypto.InclusionProof.MAX_PATH_LENGTH) {
            return false;
        }
        List<Digest> path = new ArrayList<>(proof.getPathCount());
        for (ByteString p : proof.getPathList()) {
            if (p.size() != Digest.LENGTH) {
                return false;
            }
            path.add(Digest.of(p.toByteArray()));
        }
        return new bftledger.crypto.InclusionProof(index, size, path).verify(Digest.of(root.toByteArray()), leaf);
    }

    /** A header's bytes, parsed strictly and checked to be of this chain. */
    public static Checked<BlockHeader> parseHeader(ByteString bytes, TrustRoot genesis, String what) {
        BlockHeader header;
        try {
            header = BlockHeader.parseFrom(bytes);
        } catch (InvalidProtocolBufferException e) {
            return Checked.fail(what + " does not parse: " + e.getMessage());
        }
        if (!header.toByteString().equals(bytes) || Blocks.hasUnknownFields(header)) {
            return Checked.fail(what + " is not in canonical encoding");
        }
        if (!header.getChainId().equals(genesis.chainId())) {
            return Checked.fail(what + " is for chain '" + header.getChainId() + "'");
        }
        if (!header.getGenesisHash().equals(ByteString.copyFrom(genesis.genesisHash().bytes()))) {
            return Checked.fail(what + " belongs to the network of genesis " + ChainGenesis.hex(header.getGenesisHash()));
        }
        return Checked.ok(header);
    }
}
