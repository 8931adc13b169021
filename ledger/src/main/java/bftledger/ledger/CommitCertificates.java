package bftledger.ledger;

import bftledger.crypto.CommitVote;
import bftledger.crypto.Digest;
import bftledger.crypto.PublicKey;
import bftledger.crypto.Signature;
import bftledger.ledger.proto.CommitCertificate;
import bftledger.ledger.proto.CommitSignature;
import com.google.protobuf.ByteString;
import java.util.Map;
import java.util.SortedMap;

/**
 * Building and checking commit certificates: a quorum (up to n) of COMMIT signatures from distinct
 * genesis validators, sorted by replica index, each over
 * {@code CommitVote(view, sequence, batch_digest, replica).encode()} under domain COMMIT.
 */
public final class CommitCertificates {
    private CommitCertificates() {}

    public record Verdict(Reason reason, String detail) {
        public boolean ok() {
            return reason == Reason.OK;
        }

        @Override
        public String toString() {
            return ok() ? "OK" : reason + ": " + detail;
        }
    }

    public enum Reason {
        OK,
        MISSING,
        WRONG_DIGEST,
        WRONG_SEQUENCE,
        VIEW_OUT_OF_RANGE,
        TOO_FEW_SIGNATURES,
        TOO_MANY_SIGNATURES,
        UNKNOWN_REPLICA,
        NOT_SORTED,
        DUPLICATE_SIGNER,
        BAD_SIGNATURE
    }

    /** A certificate from signatures by replica index (a sorted map, so sorted and distinct). */
    public static CommitCertificate of(long view, long sequence, Digest batchDigest, SortedMap<Integer, byte[]> signatures) {
        CommitCertificate.Builder b = CommitCertificate.newBuilder().setView(view).setSequence(sequence)
                .setBatchDigest(ByteString.copyFrom(batchDigest.bytes()));
        for (Map.Entry<Integer, byte[]> e : signatures.entrySet()) {
            b.addSignatures(CommitSignature.newBuilder().setReplica(e.getKey()).setSignature(ByteString.copyFrom(e.getValue())));
        }
        return b.build();
    }

    /**
     * Checks {@code cert} against the validators {@code trust} puts in force at
     * {@code expectedSequence} ({@link TrustRoot#atHeight}) for the block whose batch digest is
     * {@code expectedBatchDigest} at height {@code expectedSequence}. Cheap checks first; the
     * signatures last, each verified at most once.
     */
    public static Verdict verify(CommitCertificate cert, TrustRoot trust, Digest expectedBatchDigest, long expectedSequence) {
        TrustRoot genesis = trust.atHeight(expectedSequence);
        if (cert == null) {
            return new Verdict(Reason.MISSING, "no certificate");
        }
        if (!cert.getBatchDigest().equals(ByteString.copyFrom(expectedBatchDigest.bytes()))) {
            return new Verdict(Reason.WRONG_DIGEST, "certificate signs digest " + ChainGenesis.hex(cert.getBatchDigest())
                    + ", block's batch digest is " + expectedBatchDigest.hex());
        }
        if (cert.getSequence() != expectedSequence) {
            return new Verdict(Reason.WRONG_SEQUENCE, "certificate sequence " + Long.toUnsignedString(cert.getSequence())
                    + ", block height " + expectedSequence);
        }
        if (cert.getView() < 0) {
            return new Verdict(Reason.VIEW_OUT_OF_RANGE, "view " + Long.toUnsignedString(cert.getView()) + " is 2^63 or more");
        }
        int count = cert.getSignaturesCount();
        if (count < genesis.quorum()) {
            return new Verdict(Reason.TOO_FEW_SIGNATURES, count + " signatures, quorum is " + genesis.quorum());
        }
        if (count > genesis.n()) {
            return new Verdict(Reason.TOO_MANY_SIGNATURES, count + " signatures, only " + genesis.n() + " validators");
        }
        long previous = -1;
        for (CommitSignature s : cert.getSignaturesList()) {
            long replica = Integer.toUnsignedLong(s.getReplica());
            if (replica >= genesis.n()) {
                return new Verdict(Reason.UNKNOWN_REPLICA, "replica " + replica + " is not one of the " + genesis.n() + " validators");
            }
            if (replica == previous) {
                return new Verdict(Reason.DUPLICATE_SIGNER, "replica " + replica + " signs twice");
            }
            if (replica < previous) {
                return new Verdict(Reason.NOT_SORTED, "replica " + replica + " after replica " + previous);
            }
            previous = replica;
        }
        for (CommitSignature s : cert.getSignaturesList()) {
            int replica = s.getReplica();
            PublicKey key = genesis.validatorKeys().get(replica);
            byte[] signature = s.getSignature().toByteArray();
            CommitVote vote = new CommitVote(cert.getView(), cert.getSequence(), expectedBatchDigest, replica);
            if (signature.length != Signature.LENGTH || !vote.verify(key, signature)) {
                return new Verdict(Reason.BAD_SIGNATURE, "replica " + replica + "'s signature does not verify under "
                        + key.shortHex());
            }
        }
        return new Verdict(Reason.OK, "");
    }
}
