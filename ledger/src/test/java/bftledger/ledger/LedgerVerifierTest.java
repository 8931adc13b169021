package bftledger.ledger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import bftledger.crypto.BatchDigest;
import bftledger.crypto.CommitVote;
import bftledger.crypto.Digest;
import bftledger.crypto.HeaderAnchor;
import bftledger.crypto.KeyPair;
import bftledger.crypto.ParallelVerifier;
import bftledger.ledger.LedgerProblem.Kind;
import bftledger.ledger.proto.CommitCertificate;
import bftledger.ledger.proto.CommitSignature;
import bftledger.ledger.proto.SignedTransaction;
import com.google.protobuf.ByteString;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class LedgerVerifierTest {
    private static final int BLOCKS = 6;
    private final TestLedger net = TestLedger.standard();

    @TempDir
    Path dir;

    private List<VerifiedTransaction> txs(int h) {
        return List.of(net.transfer(h % 8, (h + 3) % 8, 10L * h, h), net.put((h + 1) % 8, "k" + (h % 3), "v" + h, h),
                net.transfer(h % 8, (h + 1) % 8, 5_000_000, 100 + h));
    }

    /** Builds a ledger of {@link #BLOCKS} blocks whose block {@code special} gets the certificate from {@code cert}. */
    private void build(int special, Function<Digest, CommitCertificate> cert) {
        try (BlockStore store = BlockStore.open(dir, net.genesis)) {
            for (int h = 1; h <= BLOCKS; h++) {
                List<VerifiedTransaction> txs = h == 4 ? List.of() : txs(h);
                long ts = h == 4 ? 0 : 1000L * h;
                if (h == special) {
                    BlockStore.Tip tip = store.tip();
                    HeaderAnchor anchor = TestLedger.anchorAfter(tip.height(), tip.hash());
                    store.appendBatch(ts, anchor, txs,
                            cert.apply(BatchDigest.of(ts, txs.stream().map(VerifiedTransaction::id).toList(), anchor)));
                } else {
                    net.append(store, ts, txs);
                }
            }
        }
    }

    private void buildClean() {
        build(-1, null);
    }

    private LedgerVerifier.Report verify() {
        return LedgerVerifier.verify(dir, net.genesis, LedgerVerifier.Progress.NONE);
    }

    private static void assertProblem(LedgerVerifier.Report report, long height, Kind kind) {
        assertFalse(report.ok(), report.toString());
        assertTrue(report.problems().stream().anyMatch(p -> p.height() == height && p.kind() == kind),
                "expected " + kind + " at height " + height + " in " + report.problems());
    }

    @Test
    void cleanLedgerPassesAndReportsProgress() {
        buildClean();
        List<long[]> progress = new ArrayList<>();
        LedgerVerifier.Report report = LedgerVerifier.verify(dir, net.genesis, (h, tip) -> progress.add(new long[] {h, tip}));
        assertTrue(report.ok(), report.problems().toString());
        assertEquals(BLOCKS, report.blocksChecked());
        assertEquals(3L * (BLOCKS - 1), report.transactionsChecked());
        assertEquals(BLOCKS, progress.size());
        assertEquals(BLOCKS, progress.get(BLOCKS - 1)[0]);
        assertEquals(BLOCKS, progress.get(0)[1]);
    }

    @Test
    void emptyLedgerPasses() {
        BlockStore.open(dir, net.genesis).close();
        LedgerVerifier.Report report = verify();
        assertTrue(report.ok(), report.problems().toString());
        assertEquals(0, report.blocksChecked());
    }

    private CommitCertificate certWith(Digest digest, long height, List<CommitSignature> sigs) {
        return CommitCertificate.newBuilder().setView(0).setSequence(height).setBatchDigest(ByteString.copyFrom(digest.bytes()))
                .addAllSignatures(sigs).build();
    }

    private CommitSignature sig(int replica, KeyPair key, long height, Digest digest) {
        return CommitSignature.newBuilder().setReplica(replica)
                .setSignature(ByteString.copyFrom(new CommitVote(0, height, digest, replica).sign(key))).build();
    }

    @Test
    void forgedCertificateByANonValidator() {
        KeyPair outsider = KeyPair.deterministic("outsider");
        build(3, d -> certWith(d, 3, List.of(sig(0, net.validators.get(0), 3, d), sig(1, net.validators.get(1), 3, d),
                sig(2, outsider, 3, d))));
        LedgerVerifier.Report report = verify();
        assertProblem(report, 3, Kind.CERTIFICATE);
        assertEquals(1, report.problemCount(), report.problems().toString());
        assertTrue(report.problems().get(0).message().contains("BAD_SIGNATURE"));
    }

    @Test
    void duplicatedSigner() {
        build(2, d -> certWith(d, 2, List.of(sig(0, net.validators.get(0), 2, d), sig(1, net.validators.get(1), 2, d),
                sig(1, net.validators.get(1), 2, d))));
        LedgerVerifier.Report report = verify();
        assertProblem(report, 2, Kind.CERTIFICATE);
        assertTrue(report.problems().get(0).message().contains("DUPLICATE_SIGNER"));
    }

    @Test
    void missingSignatureOnlyTwoF() {
        build(5, d -> certWith(d, 5, List.of(sig(1, net.validators.get(1), 5, d), sig(3, net.validators.get(3), 5, d))));
        LedgerVerifier.Report report = verify();
        assertProblem(report, 5, Kind.CERTIFICATE);
        assertTrue(report.problems().get(0).message().contains("TOO_FEW_SIGNATURES"));
    }

    @Test
    void badTransactionSignature() throws Exception {
        buildClean();
        RawStore.editBlock(dir, 2, b -> {
            SignedTransaction tx = b.getTransactions(1);
            byte[] sig = tx.getSignature().toByteArray();
            sig[10] ^= 0x40;
            return b.toBuilder().setTransactions(1, tx.toBuilder().setSignature(ByteString.copyFrom(sig))).build();
        });
        LedgerVerifier.Report report = verify();
        assertProblem(report, 2, Kind.TRANSACTION);
        assertEquals(1, report.problemCount(), "the signature covers no hash, so nothing else breaks: " + report.problems());
        assertTrue(report.problems().get(0).message().contains("transaction 1"), report.problems().get(0).message());
        try (ParallelVerifier verifier = new ParallelVerifier(2, 16)) {
            LedgerVerifier.Report parallel = LedgerVerifier.verify(dir, net.genesis, LedgerVerifier.Progress.NONE, verifier);
            assertEquals(report, parallel, "parallel signature checks find the same");
        }
    }

    @Test
    void brokenChainLink() throws Exception {
        buildClean();
        RawStore.editHeader(dir, 3, h -> h.setPreviousHash(ByteString.copyFrom(new byte[32])));
        LedgerVerifier.Report report = verify();
        assertProblem(report, 3, Kind.CHAIN_LINK);
        assertProblem(report, 4, Kind.CHAIN_LINK);
        // The certificate signs the batch digest, which the rewrite left alone, so only the links break.
        assertTrue(report.problems().stream().noneMatch(p -> p.kind() == Kind.CERTIFICATE), report.problems().toString());
    }

    @Test
    void tamperedTxRoot() throws Exception {
        buildClean();
        RawStore.editHeader(dir, 2, h -> h.setTxRoot(ByteString.copyFrom(new byte[32])));
        LedgerVerifier.Report report = verify();
        assertProblem(report, 2, Kind.TX_ROOT);
        assertProblem(report, 3, Kind.CHAIN_LINK);
    }

    @Test
    void tamperedStateRoot() throws Exception {
        buildClean();
        RawStore.editHeader(dir, 3, h -> h.setStateRoot(ByteString.copyFrom(new byte[32])));
        LedgerVerifier.Report report = verify();
        assertProblem(report, 3, Kind.STATE_ROOT);
        assertProblem(report, 4, Kind.CHAIN_LINK);
    }

    @Test
    void tamperedTransactionBodyAndReceipt() throws Exception {
        buildClean();
        // Swap the amount of a transfer for a re-signed one: signature valid, but the tx root no longer matches.
        VerifiedTransaction other = net.transfer(5, 0, 999, 5);
        RawStore.editBlock(dir, 5, b -> b.toBuilder().setTransactions(0, other.signed()).build());
        RawStore.editBlock(dir, 2, b -> b.toBuilder().setReceipts(0, b.getReceipts(0).toBuilder().setReason("forged")).build());
        LedgerVerifier.Report report = verify();
        assertProblem(report, 5, Kind.TX_ROOT);
        assertProblem(report, 5, Kind.BATCH_DIGEST);
        assertProblem(report, 2, Kind.RECEIPTS);
        assertProblem(report, 2, Kind.RECEIPTS_ROOT);
    }

    @Test
    void storedStateThatDiffersFromReExecution() {
        buildClean();
        RawStore.put(dir, StoreEnv.DB_ACCOUNTS, net.account(0).toByteArray(), BlockStore.u64(1));
        RawStore.put(dir, StoreEnv.DB_RECORDS, RecordKey.of(net.account(7), "planted").storeKey(),
                new RecordValue(Digest.ZERO, ByteString.copyFromUtf8("planted")).encode());
        LedgerVerifier.Report report = verify();
        assertProblem(report, BLOCKS, Kind.STATE);
        // The altered balance, the planted record, and the stored leaves that no longer hash to the tip's root.
        assertEquals(3, report.problemCount(), report.problems().toString());
        assertTrue(report.problems().stream().anyMatch(p -> p.message().contains("hash to state root")), report.problems().toString());
    }

    /** A ledger of {@code blocks} blocks whose bodies below {@code keepFrom} were pruned; the last block is empty when {@code idleTip}. */
    private void buildPruned(int blocks, long keepFrom, boolean idleTip) {
        try (BlockStore store = BlockStore.open(dir, net.genesis)) {
            for (int h = 1; h <= blocks; h++) {
                net.append(store, 1000L * h, idleTip && h == blocks ? List.of() : txs(h));
            }
            while (store.prune(keepFrom).blocks() > 0) {
                // a chunk at a time
            }
            assertEquals(keepFrom, store.prunedBelow());
        }
    }

    @Test
    void aPrunedLedgerIsCheckedFromGenesisThroughItsHeaders() {
        buildPruned(130, 100, false);
        LedgerVerifier.Report report = verify();
        assertTrue(report.ok(), report.problems().toString());
        assertEquals(100, report.prunedBelow());
        assertEquals(130, report.blocksChecked());
        assertEquals(129, report.certifiedHeight());
        assertEquals(31L * 3, report.transactionsChecked(), "transactions of the whole blocks only");
        assertFalse(report.stateProven(), "the tip changed the state and no certified header names its root");
    }

    @Test
    void aPrunedLedgerWhoseTipIsIdleHasItsStateProven() {
        // As a network leaves it when traffic stops: an empty block certifies the last one, and the state is its.
        buildPruned(131, 100, true);
        LedgerVerifier.Report report = verify();
        assertTrue(report.ok(), report.problems().toString());
        assertEquals(130, report.certifiedHeight());
        assertTrue(report.stateProven());
    }

    @Test
    void aPrunedLedgerStillShowsForgedHeadersCertificatesAndState() throws Exception {
        buildPruned(130, 100, false);
        RawStore.editHeader(dir, 40, h -> h.setStateRoot(ByteString.copyFrom(new byte[32])));
        RawStore.editBlock(dir, 60, b -> b.toBuilder().setCertificate(b.getCertificate().toBuilder()
                .setSignatures(0, b.getCertificate().getSignatures(0).toBuilder().setSignature(ByteString.copyFrom(new byte[64]))))
                .build());
        RawStore.editBlock(dir, 70, b -> b.toBuilder().setReceipts(0, b.getReceipts(0).toBuilder().setReason("forged")).build());
        RawStore.put(dir, StoreEnv.DB_ACCOUNTS, net.account(0).toByteArray(), BlockStore.u64(1));
        LedgerVerifier.Report report = verify();
        assertProblem(report, 41, Kind.CHAIN_LINK);
        assertProblem(report, 60, Kind.CERTIFICATE);
        assertProblem(report, 70, Kind.RECEIPTS_ROOT);
        assertTrue(report.problems().stream().anyMatch(p -> p.kind() == Kind.STATE && p.message().contains("hash to state root")),
                report.problems().toString());
    }

    @Test
    void damagedIndexAndMissingBlock() {
        buildClean();
        VerifiedTransaction indexed = txs(2).get(0);
        // An entry that names the wrong place but carries a valid checksum (what a bug, not the disk, would write):
        // the index is trusted at open and the verifier's cross-check against re-execution finds it.
        RawStore.put(dir.resolve(TxIndex.DIR), TxIndex.DB_ENTRIES, indexed.id().bytes(), TxIndex.storedValue(indexed.id(),
                bftledger.ledger.proto.TxIndexEntry.newBuilder().setHeight(5).build()));
        RawStore.delete(dir, StoreEnv.DB_BLOCKS, BlockStore.u64(3));
        LedgerVerifier.Report report = verify();
        assertProblem(report, 2, Kind.STATE);
        assertProblem(report, 3, Kind.MISSING_BLOCK);
        assertEquals(BLOCKS - 1, report.blocksChecked());
    }

    @Test
    void everyProblemIsCollectedNotJustTheFirst() throws Exception {
        buildClean();
        RawStore.editBlock(dir, 1, b -> b.toBuilder().setCertificate(b.getCertificate().toBuilder().removeSignatures(2)).build());
        RawStore.editBlock(dir, 3, b -> b.toBuilder().setCertificate(b.getCertificate().toBuilder().removeSignatures(0)).build());
        RawStore.editBlock(dir, 4, b -> b.toBuilder().setCertificate(b.getCertificate().toBuilder().setSequence(9)).build());
        LedgerVerifier.Report report = verify();
        assertProblem(report, 1, Kind.CERTIFICATE);
        assertProblem(report, 3, Kind.CERTIFICATE);
        assertProblem(report, 4, Kind.CERTIFICATE);
        assertEquals(3, report.problemCount(), report.problems().toString());
    }

    @Test
    void corruptedStoreIsReportedNotThrown() throws Exception {
        buildClean();
        byte[] tip = RawStore.block(dir, BLOCKS);
        tip[tip.length / 2] ^= 1;
        RawStore.putBlock(dir, BLOCKS, tip);
        LedgerVerifier.Report report = verify();
        assertFalse(report.ok());
        assertEquals(Kind.STORE, report.problems().get(0).kind());
        assertTrue(report.problems().get(0).message().contains("height " + BLOCKS), report.problems().get(0).message());
    }
}
