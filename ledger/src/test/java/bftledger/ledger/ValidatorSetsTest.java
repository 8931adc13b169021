package bftledger.ledger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import bftledger.crypto.Digest;
import bftledger.crypto.KeyPair;
import bftledger.ledger.ValidatorSets.ValidatorSet;
import bftledger.ledger.proto.Block;
import bftledger.ledger.proto.ChangeValidators;
import bftledger.ledger.proto.Receipt;
import bftledger.ledger.proto.Validator;
import com.google.protobuf.ByteString;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ValidatorSetsTest {
    private final TestLedger net = TestLedger.standard();
    @TempDir
    Path dir;

    /** validator-0..3 of genesis, then validator-1..3 and a newcomer: a replacement of validator 0. */
    private List<KeyPair> replacing0() {
        List<KeyPair> set = new ArrayList<>(net.validators.subList(1, 4));
        set.add(KeyPair.deterministic("newcomer"));
        return set;
    }

    private static List<Validator> described(List<KeyPair> keys) {
        return TestLedger.described(keys);
    }

    /** A change to {@code next} approved by the first {@code approvers} of {@code current}'s keys. */
    private ChangeValidators change(ValidatorSet current, List<KeyPair> currentKeys, List<KeyPair> next, int approvers) {
        return net.change(current, currentKeys, described(next), approvers);
    }

    private VerifiedTransaction submit(ChangeValidators change, long nonce) {
        return net.changeTransaction(change, nonce);
    }

    private final List<Block> blocks = new ArrayList<>();
    private Digest tipHash;

    /** Appends empty blocks up to {@code height}, each certified by the set {@code sets} puts in force there. */
    private void emptyUpTo(MemoryState state, long height, List<List<KeyPair>> keysByEpoch) {
        while (state.height() < height) {
            append(state, List.of(), keysByEpoch);
        }
    }

    private ExecutedBlock append(MemoryState state, List<VerifiedTransaction> txs, List<List<KeyPair>> keysByEpoch) {
        ValidatorSet inForce = ValidatorSets.inForce(net.genesis, state, state.height() + 1);
        ExecutedBlock b = net.next(state, tipHash, 1_000 + state.height(), txs, keysByEpoch.get((int) inForce.epoch()));
        tipHash = b.hash();
        blocks.add(b.block());
        return b;
    }

    @Test
    void aQuorumApprovedChangeHandsOverAtTheBoundaryAndCertificatesFollowIt() throws Exception {
        MemoryState state = MemoryState.genesis(net.genesis);
        tipHash = net.genesis.hash();
        List<List<KeyPair>> keys = List.of(net.validators, replacing0());
        emptyUpTo(state, 9, keys);
        ValidatorSet genesisSet = ValidatorSets.genesisSet(net.genesis);
        ExecutedBlock b = append(state, List.of(submit(change(genesisSet, net.validators, replacing0(), 3), 1)), keys);
        Receipt receipt = b.execution().receipts().get(0);
        assertEquals(Receipt.Status.SUCCESS, receipt.getStatus(), receipt.getReason());
        assertEquals(129, ValidatorSets.firstHeight(10));
        assertEquals(0, ValidatorSets.inForce(net.genesis, state, 128).epoch());
        ValidatorSet next = ValidatorSets.inForce(net.genesis, state, 129);
        assertEquals(1, next.epoch());
        assertEquals(KeyPair.deterministic("newcomer").publicKey(), next.keys().get(3));
        emptyUpTo(state, 140, keys);
        // The record alone lets a client that knows genesis check the chain of sets.
        ByteString value = state.record(ValidatorSets.RECORD).orElseThrow().value();
        assertEquals(ValidatorSets.all(net.genesis, state.record(ValidatorSets.RECORD)), ValidatorSets.verifyChain(net.genesis, value));
        var record = bftledger.ledger.proto.ValidatorSetRecord.parseFrom(value);
        var forgedSet = record.toBuilder().setEpochs(0, record.getEpochs(0).toBuilder()
                .setValidators(3, described(List.of(KeyPair.deterministic("intruder"))).get(0))).build();
        assertThrows(IllegalArgumentException.class, () -> ValidatorSets.verifyChain(net.genesis, forgedSet.toByteString()));
        var tooFew = record.toBuilder().setEpochs(0, record.getEpochs(0).toBuilder().removeApprovals(2)).build();
        assertThrows(IllegalArgumentException.class, () -> ValidatorSets.verifyChain(net.genesis, tooFew.toByteString()));
        // The first height follows from the change's height: a record cannot move the handover.
        var later = record.toBuilder().setEpochs(0, record.getEpochs(0).toBuilder().setFromHeight(1_000)).build();
        assertThrows(IllegalArgumentException.class, () -> ValidatorSets.verifyChain(net.genesis, later.toByteString()));
        assertEquals(ByteString.copyFrom(genesisSet.hash().bytes()), header(128).getValidatorSetHash());
        assertEquals(ByteString.copyFrom(next.hash().bytes()), header(129).getValidatorSetHash());

        // Replayed from genesis, every certificate checks against the set in force at its height.
        try (BlockStore store = BlockStore.open(dir.resolve("a"), net.genesis)) {
            for (Block block : blocks) {
                BlockChecker.BlockCheck check = store.append(block);
                assertTrue(check.ok(), check.problems().toString());
            }
            assertEquals(2, store.validatorSets().size());
        }
        LedgerVerifier.Report report = LedgerVerifier.verify(dir.resolve("a"), net.genesis, LedgerVerifier.Progress.NONE);
        assertTrue(report.ok(), report.toString());

        // Walked without executing (as the online audit does), the sets are followed from the blocks.
        List<ValidatorSet> followed = List.of(genesisSet);
        Digest previous = net.genesis.hash();
        for (int h = 1; h <= blocks.size(); h++) {
            BlockChecker.BlockCheck check = BlockChecker.checkServed(net.genesis, followed, h, previous, blocks.get(h - 1));
            assertTrue(check.ok(), h + ": " + check.problems());
            followed = ValidatorSets.follow(followed, h, blocks.get(h - 1));
            previous = check.hash();
        }
    }

    @Test
    void aRotatedOutKeySignsNothingThatCountsAfterTheBoundary() {
        MemoryState state = MemoryState.genesis(net.genesis);
        tipHash = net.genesis.hash();
        List<List<KeyPair>> keys = List.of(net.validators, replacing0());
        append(state, List.of(submit(change(ValidatorSets.genesisSet(net.genesis), net.validators, replacing0(), 4), 1)), keys);
        emptyUpTo(state, 128, keys);
        // Block 129 certified by the old set (validator-0 among them): refused.
        List<List<KeyPair>> stale = List.of(net.validators, net.validators);
        MemoryState replay = MemoryState.genesis(net.genesis);
        Digest previous = net.genesis.hash();
        for (Block block : blocks) {
            BlockChecker.BlockCheck check = BlockChecker.checkNext(net.genesis, replay, previous, block);
            assertTrue(check.ok(), check.problems().toString());
            replay.apply(check.execution(), check.hash());
            previous = check.hash();
        }
        tipHash = previous;
        blocks.clear();
        append(state, List.of(), stale);
        BlockChecker.BlockCheck check = BlockChecker.checkNext(net.genesis, replay, previous, blocks.get(0));
        assertFalse(check.ok());
        assertTrue(check.problems().stream().anyMatch(p -> p.kind() == LedgerProblem.Kind.CERTIFICATE), check.problems().toString());
        assertTrue(check.problems().stream().allMatch(p -> p.kind() == LedgerProblem.Kind.CERTIFICATE), check.problems().toString());
    }

    @Test
    void everyUnauthorisedOrMalformedChangeFailsWithItsReasonAndChangesNothing() {
        ValidatorSet current = ValidatorSets.genesisSet(net.genesis);
        ChangeValidators good = change(current, net.validators, replacing0(), 3);
        assertFailure("2 approvals, the set in force needs 3", change(current, net.validators, replacing0(), 2));
        assertFailure("epoch 2, the next epoch is 1", good.toBuilder().setEpoch(2).build());
        assertFailure("current_set_hash does not name the set in force",
                good.toBuilder().setCurrentSetHash(ByteString.copyFrom(new byte[32])).build());
        assertFailure("replica 1's approval does not verify", good.toBuilder().setApprovals(1,
                good.getApprovals(1).toBuilder().setSignature(good.getApprovals(0).getSignature())).build());
        assertFailure("distinct replicas in increasing order", good.toBuilder().setApprovals(2, good.getApprovals(1)).build());
        assertFailure("not in the set in force", good.toBuilder().setApprovals(2,
                good.getApprovals(2).toBuilder().setReplica(4)).build());
        // The approvals sign the whole new set: another address is another change.
        assertFailure("replica 0's approval does not verify", good.toBuilder().setValidators(0,
                good.getValidators(0).toBuilder().setAddress("10.0.0.9:7000")).build());
        assertEquals("a set needs 4 to 100 validators, got 3", ValidatorSets.setProblem(described(replacing0().subList(0, 3))));
        List<KeyPair> repeated = new ArrayList<>(replacing0());
        repeated.set(3, repeated.get(0));
        assertEquals("validator 3 repeats a key", ValidatorSets.setProblem(described(repeated)));
    }

    @Test
    void aChangeWaitsForTheOneBeforeAndApprovalsCannotBeReplayedLater() {
        MemoryState state = MemoryState.genesis(net.genesis);
        tipHash = net.genesis.hash();
        List<KeyPair> b = replacing0();
        List<List<KeyPair>> keys = new ArrayList<>(List.of(net.validators, b, net.validators));
        ValidatorSet genesisSet = ValidatorSets.genesisSet(net.genesis);
        ChangeValidators toB = change(genesisSet, net.validators, b, 3);
        append(state, List.of(submit(toB, 1)), keys);
        // Pending until 129: a second change fails, whoever approved it.
        ExecutedBlock early = append(state, List.of(submit(change(genesisSet, net.validators, net.validators, 3), 2)), keys);
        assertEquals(Receipt.Status.FAILED, early.execution().receipts().get(0).getStatus());
        assertTrue(early.execution().receipts().get(0).getReason().startsWith("a validator-set change is pending"));
        emptyUpTo(state, 129, keys);
        // Back to genesis's set as epoch 2 (A -> B -> A): approved by B.
        ValidatorSet setB = ValidatorSets.inForce(net.genesis, state, 130);
        ExecutedBlock back = append(state, List.of(submit(change(setB, b, net.validators, 3), 3)), keys);
        assertEquals(Receipt.Status.SUCCESS, back.execution().receipts().get(0).getStatus(),
                back.execution().receipts().get(0).getReason());
        assertFalse(back.execution().receipts().get(0).getPreviousTxId().isEmpty(), "links to the change before it");
        emptyUpTo(state, ValidatorSets.firstHeight(130), keys);
        assertEquals(2, ValidatorSets.inForce(net.genesis, state, state.height() + 1).epoch());
        // The A -> B approvals of epoch 1, replayed now, are refused: they name epoch 1.
        ExecutedBlock replayed = append(state, List.of(submit(toB, 4)), keys);
        assertEquals(Receipt.Status.FAILED, replayed.execution().receipts().get(0).getStatus());
        assertEquals("epoch 1, the next epoch is 3", replayed.execution().receipts().get(0).getReason());
    }

    private void assertFailure(String expected, ChangeValidators change) {
        MemoryState state = MemoryState.genesis(net.genesis);
        Digest root = state.stateRoot();
        String problem = ValidatorSets.problem(net.genesis, ValidatorSets.all(net.genesis, state.record(ValidatorSets.RECORD)), 1,
                change);
        assertTrue(problem != null && problem.contains(expected), problem);
        ExecutionResult r = Executor.execute(net.genesis, state, 1, List.of(submit(change, 7)));
        assertEquals(Receipt.Status.FAILED, r.receipts().get(0).getStatus());
        assertEquals(root, r.stateRoot(), "a failed change writes nothing");
    }

    private bftledger.ledger.proto.BlockHeader header(long height) {
        try {
            return Blocks.header(blocks.get((int) height - 1));
        } catch (com.google.protobuf.InvalidProtocolBufferException e) {
            throw new AssertionError(e);
        }
    }
}
