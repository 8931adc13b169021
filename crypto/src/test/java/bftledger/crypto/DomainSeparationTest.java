package bftledger.crypto;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

class DomainSeparationTest {
    private final KeyPair key = KeyPair.deterministic("domain-separation");
    private final byte[] message = "same bytes, different meaning".getBytes(StandardCharsets.UTF_8);

    @Test
    void signatureVerifiesOnlyUnderItsOwnDomain() {
        for (Domain signedAs : Domain.values()) {
            byte[] signature = key.sign(signedAs, message);
            for (Domain checkedAs : Domain.values()) {
                boolean ok = key.publicKey().verify(checkedAs, message, signature);
                if (signedAs == checkedAs) {
                    assertTrue(ok, signedAs + " signature must verify as " + checkedAs);
                } else {
                    assertFalse(ok, signedAs + " signature must not verify as " + checkedAs);
                }
            }
        }
    }

    @Test
    void transactionSignatureNeverVerifiesAsCommitVote() {
        CommitVote vote = new CommitVote(3, 17, Sha256.hash(message), 2);
        byte[] asTransaction = key.sign(Domain.TRANSACTION, vote.encode());
        assertFalse(vote.verify(key.publicKey(), asTransaction));
        assertTrue(vote.verify(key.publicKey(), vote.sign(key)));
    }

    @Test
    void tamperedMessageOrSignatureFails() {
        byte[] signature = key.sign(Domain.TRANSACTION, message);
        byte[] tamperedMessage = message.clone();
        tamperedMessage[0] ^= 1;
        assertFalse(key.publicKey().verify(Domain.TRANSACTION, tamperedMessage, signature));
        byte[] tamperedSignature = signature.clone();
        tamperedSignature[10] ^= 1;
        assertFalse(key.publicKey().verify(Domain.TRANSACTION, message, tamperedSignature));
        assertFalse(KeyPair.deterministic("other").publicKey().verify(Domain.TRANSACTION, message, signature));
    }
}
