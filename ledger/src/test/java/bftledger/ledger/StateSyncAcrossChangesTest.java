package bftledger.ledger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import bftledger.crypto.KeyPair;
import bftledger.ledger.ValidatorSets.ValidatorSet;
import bftledger.ledger.proto.Block;
import bftledger.ledger.proto.HeaderProof;
import bftledger.ledger.proto.Receipt;
import bftledger.ledger.proto.StateSnapshotManifest;
import bftledger.ledger.proto.Validator;
import bftledger.ledger.proto.ValidatorApproval;
import bftledger.ledger.proto.ValidatorSetRecord;
import com.google.protobuf.ByteString;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * State sync on a network whose validator set changed before the snapshot: the certificates
 * above the handover are signed by the new set, so a joiner builds the store only with the
 * chain of sets (checked from genesis by approvals), and the state it builds must name the same
 * chain. The pruned store it ends with audits across the change.
 */
class StateSyncAcrossChangesTest {
    /** The change executes here; its set signs from ValidatorSets.firstHeight(10) = 129. */
    private static final long CHANGE = 10;
    private static final long SNAPSHOT = 192;

    private static final TestLedger net = TestLedger.standard();
    /** Genesis's validators 1..3 and a newcomer: validator 0 replaced. */
    private static final List<KeyPair> nextKeys = new ArrayList<>(net.validators.subList(1, 4));

    @TempDir
    static Path sourceDir;
    @TempDir
    static Path snapshotDir;

    private static final List<Block> blocks = new ArrayList<>();
    private static StateSnapshots snapshots;
    private static StateSnapshotManifest manifest;
    private static HeaderProof snapshotProof;
    private static ByteString record;
    private static Receipt changeReceipt;

    @BeforeAll
    static void source() throws Exception {
        nextKeys.add(KeyPair.deterministic("newcomer"));
        snapshots = new StateSnapshots(snapshotDir, 2);
        List<StoreSnapshot> views = new ArrayList<>();
        blocks.add(null);
        try (BlockStore store = BlockStore.open(sourceDir, net.genesis)) {
            store.onSnapshotHeight(SNAPSHOT, views::add);
            for (long h = 1; h <= SNAPSHOT + 2; h++) {
                List<KeyPair> signers = ValidatorSets.inForce(store.validatorSets(), h).epoch() == 0 ? net.validators : nextKeys;
                List<VerifiedTransaction> txs = new ArrayList<>();
                int from = (int) (h % 7);
                txs.add(net.transfer(from, (from + 3) % 7, h, h));
                if (h == CHANGE) {
                    txs.add(net.changeTransaction(net.change(ValidatorSets.genesisSet(net.genesis), net.validators,
                            TestLedger.described(nextKeys), 3), 1_000_000));
                }
                ExecutedBlock b = net.append(store, 1000L * h, txs, signers);
                blocks.add(b.block());
                if (h == CHANGE) {
                    changeReceipt = b.block().getReceipts(1);
                }
            }
            for (StoreSnapshot view : views) {
                try (view) {
                    snapshots.take(view);
                }
            }
            manifest = snapshots.manifest(SNAPSHOT).orElseThrow();
            snapshotProof = store.headerProof(SNAPSHOT).orElseThrow();
            record = store.validatorSetsRecord();
            assertEquals(2, store.validatorSets().size());
        }
        assertEquals(Receipt.Status.SUCCESS, changeReceipt.getStatus(), changeReceipt.getReason());
    }

    private static void putState(StateSyncBuilder builder) throws Exception {
        assertEquals(Optional.empty(), builder.useManifest(manifest));
        for (int b : builder.missingBuckets()) {
            assertEquals(Optional.empty(), builder.putBucket(b, StateSnapshotsTest.readBucket(snapshots, SNAPSHOT, b, 1 << 20)));
        }
    }

    private static void putBlocks(StateSyncBuilder builder) {
        for (long h = 1; h <= SNAPSHOT; h++) {
            Block b = h < SNAPSHOT ? BlockStore.prunedForm(blocks.get((int) h)) : blocks.get((int) h);
            assertEquals(Optional.empty(), builder.appendBlock(b), "block " + h);
        }
    }

    @Test
    void aJoinerThatFollowsTheChainOfSetsBuildsTheStoreAndItAuditsAcrossTheChange(@TempDir Path dir) throws Exception {
        List<ValidatorSet> sets = ValidatorSets.verifyChain(net.genesis, record);
        try (StateSyncBuilder builder = StateSyncBuilder.create(dir, net.genesis, BlockStore.DEFAULT_MAP_SIZE, sets)) {
            assertEquals(Optional.empty(), builder.certify(SNAPSHOT, snapshotProof));
            putState(builder);
            assertEquals(Optional.empty(), builder.stateSetsProblem());
            putBlocks(builder);
            builder.finish();
        }
        try (BlockStore store = BlockStore.open(dir, net.genesis)) {
            assertEquals(sets, store.validatorSets());
            for (long h = SNAPSHOT + 1; h <= SNAPSHOT + 2; h++) {
                BlockChecker.BlockCheck next = store.append(blocks.get((int) h));
                assertTrue(next.ok(), "the new set's block " + h + ": " + next.problems());
            }
            LedgerVerifier.Report report = LedgerVerifier.verify(store, LedgerVerifier.Progress.NONE);
            assertTrue(report.ok(), "a pruned store audits across the change: " + report.problems());
        }
    }

    @Test
    void genesisSetAloneCannotCertifyAHeaderTheNextSetSigned(@TempDir Path dir) {
        try (StateSyncBuilder builder = StateSyncBuilder.create(dir, net.genesis)) {
            Optional<String> problem = builder.certify(SNAPSHOT, snapshotProof);
            assertTrue(problem.isPresent() && problem.get().contains("does not verify"), problem.toString());
        }
    }

    /**
     * Genesis's validators approved a second epoch-1 set with the same keys at other addresses:
     * its chain checks and certifies the header, but the certified state names the first, so
     * nothing is built.
     */
    @Test
    void aChainTheCertifiedStateDoesNotNameBuildsNothing(@TempDir Path dir) throws Exception {
        ValidatorSetRecord r = ValidatorSetRecord.parseFrom(record);
        List<Validator> elsewhere = new ArrayList<>();
        for (Validator v : r.getEpochs(0).getValidatorsList()) {
            elsewhere.add(v.toBuilder().setAddress(v.getAddress().replace("127.0.0.1", "127.0.0.9")).build());
        }
        ValidatorSet genesisSet = ValidatorSets.genesisSet(net.genesis);
        var other = r.getEpochs(0).toBuilder().clearValidators().addAllValidators(elsewhere).clearApprovals();
        for (int i = 0; i < 3; i++) {
            other.addApprovals(ValidatorApproval.newBuilder().setReplica(i).setSignature(ByteString.copyFrom(
                    ValidatorSets.approve(net.validators.get(i), net.genesis.hash(), genesisSet, elsewhere))));
        }
        List<ValidatorSet> sets = ValidatorSets.verifyChain(net.genesis, r.toBuilder().setEpochs(0, other).build().toByteString());
        try (StateSyncBuilder builder = StateSyncBuilder.create(dir, net.genesis, BlockStore.DEFAULT_MAP_SIZE, sets)) {
            assertEquals(Optional.empty(), builder.certify(SNAPSHOT, snapshotProof), "same keys: the certificate checks");
            putState(builder);
            Optional<String> problem = builder.stateSetsProblem();
            assertTrue(problem.isPresent() && problem.get().contains("not the chain"), problem.toString());
            putBlocks(builder);
            assertThrows(IllegalStateException.class, builder::finish);
        }
        assertTrue(StateSyncBuilder.unfinished(dir) || !java.nio.file.Files.exists(dir.resolve("data.mdb")));
    }
}
