package bftledger.ledger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import bftledger.crypto.BatchDigest;
import bftledger.crypto.CommitVote;
import bftledger.crypto.Digest;
import bftledger.crypto.KeyPair;
import bftledger.crypto.Sha256;
import bftledger.ledger.CommitCertificates.Reason;
import bftledger.ledger.proto.CommitCertificate;
import bftledger.ledger.proto.CommitSignature;
import com.google.protobuf.ByteString;
import java.util.List;
import org.junit.jupiter.api.Test;

class CommitCertificatesTest {
    private final TestLedger net = TestLedger.standard();
    private final Digest digest = BatchDigest.of(5, List.of(Sha256.hash(new byte[] {1})), bftledger.crypto.HeaderAnchor.NONE);

    private CommitSignature sig(int replica, KeyPair key) {
        return CommitSignature.newBuilder().setReplica(replica)
                .setSignature(ByteString.copyFrom(new CommitVote(2, 9, digest, replica).sign(key))).build();
    }

    private CommitCertificate cert(CommitSignature... sigs) {
        return CommitCertificate.newBuilder().setView(2).setSequence(9).setBatchDigest(ByteString.copyFrom(digest.bytes()))
                .addAllSignatures(List.of(sigs)).build();
    }

    private Reason verify(CommitCertificate c) {
        return CommitCertificates.verify(c, net.genesis, digest, 9).reason();
    }

    private CommitSignature good(int r) {
        return sig(r, net.validators.get(r));
    }

    @Test
    void quorumOfValidSignaturesIsAccepted() {
        assertEquals(Reason.OK, verify(cert(good(0), good(1), good(2))));
        assertEquals(Reason.OK, verify(cert(good(1), good(2), good(3))));
        assertEquals(Reason.OK, verify(cert(good(0), good(1), good(2), good(3))));
        assertEquals(Reason.OK, verify(net.certify(2, 9, digest)));
    }

    @Test
    void anyTwoQuorumsShareAnHonestValidatorAndTheHonestAloneMakeOne() {
        for (int n = 1; n <= ChainGenesis.MAX_VALIDATORS; n++) {
            int f = (n - 1) / 3;
            int q = TrustRoot.quorum(n);
            assertTrue(2 * q - n >= f + 1, "n=" + n);
            assertTrue(q <= n - f, "n=" + n);
            if (n % 3 == 1) {
                assertEquals(2 * f + 1, q, "n=" + n);
            }
        }
    }

    @Test
    void withFiveValidatorsThreeSignaturesAreNotAQuorum() {
        TestLedger five = new TestLedger(5, 1, 1);
        assertEquals(4, five.genesis.quorum());
        java.util.function.IntFunction<CommitSignature> sig5 = r -> sig(r, five.validators.get(r));
        assertEquals(Reason.TOO_FEW_SIGNATURES, CommitCertificates.verify(cert(sig5.apply(0), sig5.apply(2), sig5.apply(4)),
                five.genesis, digest, 9).reason());
        assertEquals(Reason.OK, CommitCertificates.verify(cert(sig5.apply(0), sig5.apply(1), sig5.apply(3), sig5.apply(4)),
                five.genesis, digest, 9).reason());
    }

    @Test
    void everyDefectHasItsReason() {
        assertEquals(Reason.TOO_FEW_SIGNATURES, verify(cert(good(0), good(1))));
        assertEquals(Reason.DUPLICATE_SIGNER, verify(cert(good(0), good(1), good(1))));
        assertEquals(Reason.NOT_SORTED, verify(cert(good(1), good(0), good(2))));
        assertEquals(Reason.UNKNOWN_REPLICA, verify(cert(good(0), good(1), sig(4, KeyPair.deterministic("validator-4")))));
        assertEquals(Reason.BAD_SIGNATURE, verify(cert(good(0), good(1), sig(2, KeyPair.deterministic("outsider")))));
        assertEquals(Reason.BAD_SIGNATURE, verify(cert(good(0), good(1), sig(2, net.validators.get(3)))), "replica 3 signing as 2");
        assertEquals(Reason.TOO_MANY_SIGNATURES, verify(cert(good(0), good(1), good(2), good(3), good(3))));
        assertEquals(Reason.WRONG_DIGEST, CommitCertificates.verify(cert(good(0), good(1), good(2)), net.genesis, Digest.ZERO, 9).reason());
        assertEquals(Reason.WRONG_SEQUENCE, CommitCertificates.verify(cert(good(0), good(1), good(2)), net.genesis, digest, 10).reason());
        assertEquals(Reason.BAD_SIGNATURE, verify(cert(good(0), good(1), good(2)).toBuilder().setView(3).build()),
                "the view is signed");
        assertEquals(Reason.MISSING, CommitCertificates.verify(null, net.genesis, digest, 9).reason());
    }
}
