package bftledger.pbft;

import bftledger.crypto.Digest;
import bftledger.crypto.KeyPair;
import bftledger.crypto.PublicKey;
import bftledger.crypto.Sha256;
import java.util.ArrayList;
import java.util.List;

/** Keys, config and well-formed messages for unit tests of the message layer (n = 4, f = 1). */
final class Fixtures {
    final List<KeyPair> keys = new ArrayList<>();
    final Config config;
    final MessageVerifier verifier;
    final MessageCodec codec;

    Fixtures() {
        List<PublicKey> pub = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            keys.add(KeyPair.deterministic("replica-" + i));
            pub.add(keys.get(i).publicKey());
        }
        config = Config.of(pub, 0, keys.get(0)).withCheckpoints(4, 8).withBatching(4, 1000, 600, 4);
        verifier = new MessageVerifier(config, TestRequests.VALIDATOR);
        codec = new MessageCodec(config);
    }

    MessageFactory as(int i) {
        return new MessageFactory(i, keys.get(i));
    }

    static Digest digest(int k) {
        return Sha256.hash(new byte[] {(byte) k});
    }

    Batch batch(String... bodies) {
        List<Request> rs = new ArrayList<>();
        for (String b : bodies) {
            rs.add(TestRequests.signed(b));
        }
        return new Batch(1234, rs);
    }

    List<Signed<Checkpoint>> checkpointProof(long sequence, Digest d, int... replicas) {
        List<Signed<Checkpoint>> proof = new ArrayList<>();
        for (int r : replicas) {
            proof.add(as(r).checkpoint(sequence, d));
        }
        return proof;
    }

    /** A prepared certificate for (view, sequence) with prepares from the given backups. */
    PreparedCertificate certificate(long view, long sequence, Batch batch, int... preparers) {
        Signed<PrePrepare> pp = as(config.primary(view)).prePrepare(view, sequence, batch);
        List<Signed<Prepare>> prepares = new ArrayList<>();
        for (int r : preparers) {
            prepares.add(as(r).prepare(view, sequence, batch.digest()));
        }
        return new PreparedCertificate(pp, prepares);
    }
}
