package bftledger.node.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import bftledger.api.proto.Evidence;
import bftledger.crypto.KeyPair;
import bftledger.crypto.PublicKey;
import bftledger.crypto.Sha256;
import bftledger.pbft.Batch;
import bftledger.pbft.MessageFactory;
import bftledger.pbft.Request;
import bftledger.pbft.Signed;
import com.google.protobuf.ByteString;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class EvidenceCheckTest {
    private static final List<KeyPair> KEYS = List.of(KeyPair.deterministic("c0"), KeyPair.deterministic("c1"),
            KeyPair.deterministic("c2"), KeyPair.deterministic("c3"));
    private static final List<PublicKey> VALIDATORS = KEYS.stream().map(KeyPair::publicKey).toList();

    private static MessageFactory as(int replica) {
        return new MessageFactory(replica, KEYS.get(replica));
    }

    private static Evidence piece(int accused, String kind, long view, long seq, Signed<?> a, Signed<?> b) {
        return Evidence.newBuilder().setReplica(accused).setKind(kind).setView(view).setSequence(seq)
                .setFirst(ByteString.copyFrom(a.wire())).setSecond(ByteString.copyFrom(b.wire())).build();
    }

    private static Batch batch(int salt) {
        byte[] payload = {(byte) salt, 1, 2, 3};
        return new Batch(1_000, List.of(new Request(Sha256.hash(payload), payload)));
    }

    @Test
    void twoPrePreparesForOneSlotProveTheirSigner() {
        EvidenceCheck check = new EvidenceCheck(VALIDATORS);
        Signed<?> a = as(0).prePrepare(0, 3, batch(1));
        Signed<?> b = as(0).prePrepare(0, 3, batch(2));
        check.add(1, piece(0, "conflicting PRE_PREPARE", 0, 3, a, b));
        check.add(2, piece(0, "conflicting PRE_PREPARE", 0, 3, b, a));
        assertEquals(List.of(0), check.culprits());
        List<Object> json = check.json();
        assertEquals(1, json.size(), "the same pair from two holders, in either order, is one piece");
        @SuppressWarnings("unchecked")
        Map<String, Object> m = (Map<String, Object>) json.get(0);
        assertEquals(true, m.get("verified"));
        assertEquals(List.of(1, 2), m.get("held_by"));
        assertTrue(check.text().contains("CULPRIT: replica 0"), check.text());
    }

    @Test
    void forgedOrHarmlessPiecesAccuseNoOne() {
        EvidenceCheck check = new EvidenceCheck(VALIDATORS);
        // Signed by replica 1 but presented as evidence against replica 2.
        check.add(0, piece(2, "conflicting PREPARE", 0, 4, as(1).prepare(0, 4, Sha256.hash(new byte[] {1})),
                as(1).prepare(0, 4, Sha256.hash(new byte[] {2}))));
        // Same digest twice: no conflict.
        Signed<?> same = as(3).commit(1, 9, Sha256.hash(new byte[] {7}));
        check.add(0, piece(3, "conflicting COMMIT", 1, 9, same, as(3).commit(1, 9, Sha256.hash(new byte[] {7}))));
        // Different sequences: two honest votes.
        check.add(0, piece(3, "conflicting COMMIT", 1, 9, as(3).commit(1, 9, Sha256.hash(new byte[] {1})),
                as(3).commit(1, 10, Sha256.hash(new byte[] {2}))));
        // A signature broken after signing.
        byte[] broken = as(2).prepare(0, 5, Sha256.hash(new byte[] {1})).wire();
        broken[broken.length - 1] ^= 1;
        check.add(0, Evidence.newBuilder().setReplica(2).setKind("conflicting PREPARE").setView(0).setSequence(5)
                .setFirst(ByteString.copyFrom(broken))
                .setSecond(ByteString.copyFrom(as(2).prepare(0, 5, Sha256.hash(new byte[] {2})).wire())).build());
        // Garbage bytes.
        check.add(0, Evidence.newBuilder().setReplica(1).setKind("conflicting PREPARE").setFirst(ByteString.copyFromUtf8("x"))
                .setSecond(ByteString.copyFromUtf8("y")).build());
        // Valid pair, but the claimed slot is not the messages' slot.
        check.add(0, piece(1, "conflicting PREPARE", 0, 77, as(1).prepare(0, 4, Sha256.hash(new byte[] {1})),
                as(1).prepare(0, 4, Sha256.hash(new byte[] {2}))));
        assertEquals(List.of(), check.culprits(), check.text());
        for (Object o : check.json()) {
            @SuppressWarnings("unchecked")
            Map<String, Object> m = (Map<String, Object>) o;
            assertEquals(false, m.get("verified"), m.toString());
            assertTrue(m.get("problem") != null);
        }
        assertFalse(check.text().contains("CULPRIT"), check.text());
    }

    @Test
    void conflictingCheckpointsProveTheirSigner() {
        EvidenceCheck check = new EvidenceCheck(VALIDATORS);
        check.add(0, piece(2, "conflicting CHECKPOINT", 0, 16, as(2).checkpoint(16, Sha256.hash(new byte[] {1})),
                as(2).checkpoint(16, Sha256.hash(new byte[] {2}))));
        assertEquals(List.of(2), check.culprits());
    }

    /** Genesis's set, then from height 129 the same validators with replica 0's key rotated. */
    private static final KeyPair ROTATED = KeyPair.deterministic("c0-rotated");

    static List<bftledger.ledger.ValidatorSets.ValidatorSet> rotatingReplica0(List<PublicKey> genesis, PublicKey rotated) {
        List<PublicKey> next = new java.util.ArrayList<>(genesis);
        next.set(0, rotated);
        return List.of(set(0, 1, genesis), set(1, 129, next));
    }

    private static bftledger.ledger.ValidatorSets.ValidatorSet set(long epoch, long from, List<PublicKey> keys) {
        List<bftledger.ledger.proto.Validator> vs = new java.util.ArrayList<>();
        for (int i = 0; i < keys.size(); i++) {
            vs.add(bftledger.ledger.ChainGenesis.validator(keys.get(i), "127.0.0.1:" + (7000 + i), "node" + i));
        }
        return new bftledger.ledger.ValidatorSets.ValidatorSet(epoch, from, vs, keys,
                bftledger.ledger.ChainGenesis.validatorSetHash(keys));
    }

    @Test
    void afterAChangeEachPieceIsJudgedUnderTheSetInForceAtItsSequence() {
        var sets = rotatingReplica0(VALIDATORS, ROTATED.publicKey());
        MessageFactory rotated = new MessageFactory(0, ROTATED);
        long view = 1L << 32;
        Evidence byNewKey = piece(0, "conflicting PREPARE", view, 200, rotated.prepare(view, 200, Sha256.hash(new byte[] {1})),
                rotated.prepare(view, 200, Sha256.hash(new byte[] {2})));
        Evidence byOldKeyBefore = piece(0, "conflicting PREPARE", 0, 50, as(0).prepare(0, 50, Sha256.hash(new byte[] {1})),
                as(0).prepare(0, 50, Sha256.hash(new byte[] {2})));
        // The retired key signing in the next epoch accuses no one: replica 0 is another key there.
        Evidence byOldKeyAfter = piece(0, "conflicting PREPARE", view, 201, as(0).prepare(view, 201, Sha256.hash(new byte[] {1})),
                as(0).prepare(view, 201, Sha256.hash(new byte[] {2})));

        EvidenceCheck following = EvidenceCheck.following(sets);
        following.add(1, byNewKey);
        following.add(1, byOldKeyBefore);
        following.add(1, byOldKeyAfter);
        List<Object> json = following.json();
        @SuppressWarnings("unchecked")
        Map<String, Object> first = (Map<String, Object>) json.get(0);
        @SuppressWarnings("unchecked")
        Map<String, Object> second = (Map<String, Object>) json.get(1);
        @SuppressWarnings("unchecked")
        Map<String, Object> third = (Map<String, Object>) json.get(2);
        assertEquals(true, first.get("verified"), first.toString());
        assertEquals(ROTATED.publicKey().hex(), first.get("accused_key"));
        assertEquals(true, second.get("verified"), second.toString());
        assertEquals(VALIDATORS.get(0).hex(), second.get("accused_key"));
        assertEquals(false, third.get("verified"), third.toString());

        EvidenceCheck genesisOnly = new EvidenceCheck(VALIDATORS);
        genesisOnly.add(1, byNewKey);
        assertEquals(List.of(), genesisOnly.culprits(), "under genesis's keys the rotated key's votes prove nothing");
    }
}
