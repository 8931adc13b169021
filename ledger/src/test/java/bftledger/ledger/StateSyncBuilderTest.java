package bftledger.ledger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import bftledger.crypto.Digest;
import bftledger.crypto.KeyPair;
import bftledger.ledger.proto.AccountEntry;
import bftledger.ledger.proto.Block;
import bftledger.ledger.proto.CommitCertificate;
import bftledger.ledger.proto.HeaderProof;
import bftledger.ledger.proto.Receipt;
import bftledger.ledger.proto.StateBucket;
import bftledger.ledger.proto.StateEntry;
import bftledger.ledger.proto.StateSnapshotManifest;
import com.google.protobuf.ByteString;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.TreeMap;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class StateSyncBuilderTest {
    /** The snapshot height; the source goes two blocks beyond it (the first certifies it). */
    private static final long SNAPSHOT = 240;
    private static final long EARLIER_SNAPSHOT = 120;

    private static final TestLedger net = TestLedger.standard();
    private static final KeyPair fresh = KeyPair.deterministic("fresh-account");

    @TempDir
    static Path sourceDir;
    @TempDir
    static Path snapshotDir;

    /** The source's blocks, whole, by height (index 0 unused). */
    private static final List<Block> blocks = new ArrayList<>();
    private static HeaderProof tipProof;
    private static StateSnapshots snapshots;
    private static StateSnapshotManifest manifest;
    private static VerifiedTransaction early;
    private static TreeMap<ByteString, Long> sourceAccounts;
    private static TreeMap<RecordKey, RecordValue> sourceRecords;

    @BeforeAll
    static void source() throws Exception {
        snapshots = new StateSnapshots(snapshotDir, 4);
        List<StoreSnapshot> views = new ArrayList<>();
        blocks.add(null);
        try (BlockStore store = BlockStore.open(sourceDir, net.genesis)) {
            store.onSnapshotHeight(EARLIER_SNAPSHOT, views::add);
            for (long h = 1; h <= SNAPSHOT + 2; h++) {
                ExecutedBlock b = net.append(store, 1000L * h, transactions(store, h));
                blocks.add(b.block());
            }
            for (StoreSnapshot view : views) {
                try (view) {
                    snapshots.take(view);
                }
            }
            manifest = snapshots.manifest(SNAPSHOT).orElseThrow();
            tipProof = store.headerProof(SNAPSHOT).orElseThrow();
        }
        // The state at SNAPSHOT, read back from the source's snapshot view of it.
        try (BlockStore store = BlockStore.open(sourceDir, net.genesis)) {
            sourceAccounts = new TreeMap<>(ByteString.unsignedLexicographicalComparator());
            sourceRecords = new TreeMap<>();
            for (int b = 0; b < StateBuckets.BUCKETS; b++) {
                for (StateEntry e : StateSnapshotsTest.readBucket(snapshots, SNAPSHOT, b, 1 << 20)) {
                    if (e.hasAccount()) {
                        sourceAccounts.put(e.getAccount().getPublicKey(), e.getAccount().getBalance());
                    } else {
                        sourceRecords.put(new RecordKey(e.getRecord().getOwner(), e.getRecord().getKey()),
                                new RecordValue(Digest.of(e.getRecord().getWriterTxId().toByteArray()), e.getRecord().getValue()));
                    }
                }
            }
        }
    }

    /**
     * Transfers among users 0..6 and record puts; user 7 is drained to 0 at block 50, a fresh
     * account (not in genesis) is credited at 60, and block 70 replays block 10's transfer.
     */
    private static List<VerifiedTransaction> transactions(BlockStore store, long h) {
        List<VerifiedTransaction> txs = new ArrayList<>();
        int from = (int) (h % 7);
        txs.add(net.transfer(from, (from + 2) % 7, h, h));
        txs.add(net.put(from, "key" + (h % 25), "value at " + h, 1_000_000 + h));
        if (h == 10) {
            early = txs.get(0);
        }
        if (h == 50) {
            txs.add(net.transfer(7, 0, store.balance(net.user(7)), 50));
        }
        if (h == 60) {
            txs.add(Transactions.signVerified(Transactions.transfer(TestLedger.CHAIN, net.user(1), 60_000, fresh.publicKey(), 500),
                    net.users.get(1)));
        }
        if (h == 70) {
            txs.add(early);
        }
        return txs;
    }

    /** A build to the snapshot's certified header with blocks 1..{@code tip} (pruned below it). */
    private static StateSyncBuilder withBlocks(Path dir, long tip) {
        StateSyncBuilder builder = StateSyncBuilder.create(dir, net.genesis);
        assertEquals(Optional.empty(), builder.certify(SNAPSHOT, tipProof));
        for (long h = 1; h <= tip; h++) {
            Block b = h < tip ? BlockStore.prunedForm(blocks.get((int) h)) : blocks.get((int) h);
            assertEquals(Optional.empty(), builder.appendBlock(b), "block " + h);
        }
        return builder;
    }

    private static List<StateEntry> bucket(int b) throws Exception {
        return StateSnapshotsTest.readBucket(snapshots, SNAPSHOT, b, 300);
    }

    private static void putAll(StateSyncBuilder builder) throws Exception {
        for (int b : builder.missingBuckets()) {
            assertEquals(Optional.empty(), builder.putBucket(b, bucket(b)), "bucket " + b);
        }
    }

    @Test
    void aStoreBuiltFromASnapshotIsTheSourceStoreAtItsHeight(@TempDir Path dir) throws Exception {
        try (StateSyncBuilder builder = withBlocks(dir, SNAPSHOT)) {
            assertEquals(SNAPSHOT, builder.height());
            assertEquals(Optional.empty(), builder.useManifest(manifest));
            putAll(builder);
            assertEquals(List.of(), builder.missingBuckets());
            builder.finish();
        }
        assertFalse(StateSyncBuilder.unfinished(dir));
        assertThrows(IllegalArgumentException.class, () -> StateSyncBuilder.create(dir, net.genesis), "not empty");
        try (BlockStore store = BlockStore.open(dir, net.genesis)) {
            BlockStore.Tip tip = store.tip();
            assertEquals(SNAPSHOT, tip.height());
            assertEquals(Blocks.hash(blocks.get((int) SNAPSHOT)), tip.hash());
            assertEquals(Digest.of(manifest.getStateRoot().toByteArray()), tip.stateRoot());
            assertEquals(SNAPSHOT, store.prunedBelow());
            assertEquals(blocks.get((int) SNAPSHOT), store.block(SNAPSHOT).orElseThrow(), "the tip is whole");
            assertTrue(store.block(SNAPSHOT - 1).isEmpty(), "below it, pruned");
            assertEquals(blocks.get(100).getHeader(), store.header(100).orElseThrow().toByteString());

            assertEquals(0, store.balance(net.user(7)), "drained to zero");
            assertEquals(500, store.balance(fresh.publicKey()), "an account genesis did not hold");
            try (StoreSnapshot view = store.snapshot()) {
                TreeMap<ByteString, Long> accounts = new TreeMap<>(ByteString.unsignedLexicographicalComparator());
                view.forEachAccount(accounts::put);
                TreeMap<RecordKey, RecordValue> records = new TreeMap<>();
                view.forEachRecord(records::put);
                assertEquals(sourceAccounts, accounts, "exactly the snapshot's accounts");
                assertEquals(sourceRecords, records, "exactly the snapshot's records");
                assertEquals(sourceAccounts.get(net.account(7)), Long.valueOf(0));
            }
            assertEquals(ByteString.copyFromUtf8("value at " + SNAPSHOT), store.record(net.user((int) (SNAPSHOT % 7)),
                    "key" + (SNAPSHOT % 25)).orElseThrow());
            BlockStore.StateRead<Long> proven = store.accountProof(net.account(3));
            assertEquals(sourceAccounts.get(net.account(3)), proven.value().orElseThrow());

            BlockStore.TxRecord executed = store.transaction(early.id()).orElseThrow();
            assertEquals(10, executed.height(), "a transaction of a pruned block is known executed");
            assertTrue(executed.pruned());
            assertTrue(store.containsTransaction(early.id()));

            for (long h = SNAPSHOT + 1; h <= SNAPSHOT + 2; h++) {
                BlockChecker.BlockCheck next = store.append(blocks.get((int) h));
                assertTrue(next.ok(), "the source's next block " + h + ": " + next.problems());
            }
            ExecutedBlock replay = net.append(store, 9_999_000, List.of(early));
            assertEquals(Receipt.Status.DUPLICATE, replay.block().getReceipts(0).getStatus(), "at-most-once holds");

            LedgerVerifier.Report report = LedgerVerifier.verify(store, LedgerVerifier.Progress.NONE);
            assertTrue(report.ok(), report.problems().toString());
            assertEquals(SNAPSHOT, report.prunedBelow());
        }
    }

    @Test
    void forgedAndUnlinkedBlocksAreRefusedAndNothingIsWritten(@TempDir Path dir, @TempDir Path forkDir) {
        try (StateSyncBuilder builder = withBlocks(dir, 20)) {
            Block next = BlockStore.prunedForm(blocks.get(21));
            Receipt altered = next.getReceipts(0).toBuilder().setStatus(Receipt.Status.FAILED).setReason("no funds").build();
            assertRefused(builder.appendBlock(next.toBuilder().setReceipts(0, altered).build()), "receipts");
            CommitCertificate cert = next.getCertificate();
            CommitCertificate shortCert = cert.toBuilder().removeSignatures(cert.getSignaturesCount() - 1).build();
            assertRefused(builder.appendBlock(next.toBuilder().setCertificate(shortCert).build()), "CERTIFICATE");
            assertRefused(builder.appendBlock(BlockStore.prunedForm(blocks.get(22))), "height");
            Block wholeForged = blocks.get(21).toBuilder().setTransactions(0, blocks.get(21).getTransactions(1)).build();
            assertRefused(builder.appendBlock(wholeForged), "tx_root");

            // A block of another history at the same height: certified, but it does not link.
            try (BlockStore fork = BlockStore.open(forkDir, net.genesis)) {
                for (long h = 1; h <= 21; h++) {
                    net.append(fork, 1000L * h, List.of(net.transfer(0, 1, 1, 5_000_000 + h)));
                }
                assertRefused(builder.appendBlock(BlockStore.prunedForm(fork.stored(21).orElseThrow())), "previous_hash");
            }
            assertEquals(20, builder.height(), "nothing written");
            assertEquals(Optional.empty(), builder.appendBlock(next), "the genuine block still follows");
            assertEquals(Optional.empty(), builder.useManifest(manifest), "the state may come before the blocks");
        }
    }

    @Test
    void manifestsThatDoNotMatchTheCertifiedTipAreRefused(@TempDir Path dir) {
        try (StateSyncBuilder builder = withBlocks(dir, SNAPSHOT)) {
            StateBucket first = manifest.getBuckets(StateSnapshotsTest.fullestBucket(manifest));
            byte[] flipped = first.getHash().toByteArray();
            flipped[0] ^= 1;
            StateSnapshotManifest forged = manifest.toBuilder().setBuckets(StateSnapshotsTest.fullestBucket(manifest),
                    first.toBuilder().setHash(ByteString.copyFrom(flipped))).build();
            assertRefused(builder.useManifest(forged), "combine");
            StateSnapshotManifest earlier = snapshots.manifest(EARLIER_SNAPSHOT).orElseThrow();
            assertRefused(builder.useManifest(earlier), "height " + EARLIER_SNAPSHOT);
            assertRefused(builder.useManifest(manifest.toBuilder().removeBuckets(3).build()), "255");
            assertRefused(builder.putBucket(0, List.of()), "no manifest");
            assertThrows(IllegalStateException.class, builder::finish);
            assertEquals(Optional.empty(), builder.useManifest(manifest));
        }
    }

    @Test
    void bucketsThatDoNotMatchTheManifestAreRefused(@TempDir Path dir) throws Exception {
        try (StateSyncBuilder builder = withBlocks(dir, SNAPSHOT)) {
            assertEquals(Optional.empty(), builder.useManifest(manifest));
            int full = StateSnapshotsTest.fullestBucket(manifest);
            List<StateEntry> entries = bucket(full);
            assertTrue(entries.size() >= 2);
            int accountAt = indexOfAccount(entries);
            if (accountAt >= 0) {
                List<StateEntry> richer = new ArrayList<>(entries);
                AccountEntry a = entries.get(accountAt).getAccount();
                richer.set(accountAt, StateEntry.newBuilder().setAccount(a.toBuilder().setBalance(a.getBalance() + 1)).build());
                assertRefused(builder.putBucket(full, richer), "hash");
            }
            List<StateEntry> alteredValue = new ArrayList<>(entries);
            int recordAt = accountAt == 0 ? 1 : 0;
            StateEntry r = entries.get(recordAt);
            alteredValue.set(recordAt, r.hasRecord()
                    ? StateEntry.newBuilder().setRecord(r.getRecord().toBuilder().setValue(ByteString.copyFromUtf8("forged"))).build()
                    : StateEntry.newBuilder().setAccount(r.getAccount().toBuilder().setBalance(r.getAccount().getBalance() + 7)).build());
            assertRefused(builder.putBucket(full, alteredValue), "hash");
            List<StateEntry> wrongBucket = new ArrayList<>(entries);
            StateEntry stranger = firstEntryNotIn(full);
            wrongBucket.set(0, stranger);
            assertRefused(builder.putBucket(full, wrongBucket), "belongs in bucket");
            List<StateEntry> swapped = new ArrayList<>(entries);
            swapped.set(0, entries.get(1));
            swapped.set(1, entries.get(0));
            assertRefused(builder.putBucket(full, swapped), "tree-key order");
            assertRefused(builder.putBucket(full, entries.subList(1, entries.size())), "hash");
            assertRefused(builder.putBucket(256, List.of()), "outside");
            assertTrue(builder.missingBuckets().contains(full), "nothing was put");

            assertEquals(Optional.empty(), builder.putBucket(full, entries));
            assertRefused(builder.putBucket(full, entries), "already put");
            assertRefused(builder.useManifest(manifest), "already put");
            IllegalStateException early = assertThrows(IllegalStateException.class, builder::finish);
            assertTrue(early.getMessage().contains("not put yet"), early.getMessage());
            assertEquals(StateBuckets.BUCKETS - 1, builder.missingBuckets().size());
        }
        try (var left = Files.list(dir)) {
            assertEquals(0, left.count(), "an unfinished build is deleted when closed");
        }
    }

    @Test
    void theHeaderIsCertifiedFirstAndTheTipComesWhole(@TempDir Path dir, @TempDir Path copy) throws Exception {
        try (StateSyncBuilder builder = StateSyncBuilder.create(dir, net.genesis)) {
            assertRefused(builder.appendBlock(BlockStore.prunedForm(blocks.get(1))), "certif");
            assertRefused(builder.useManifest(manifest), "certif");
            assertRefused(builder.certify(SNAPSHOT, tipProof.toBuilder().setHeader(otherProof().getHeader()).build()), "does not check");
            assertRefused(builder.certify(SNAPSHOT + 1, tipProof), "not " + (SNAPSHOT + 1));
            assertEquals(Optional.empty(), builder.certify(SNAPSHOT, tipProof));
            assertRefused(builder.certify(SNAPSHOT, tipProof), "in use");
            for (long h = 1; h < SNAPSHOT; h++) {
                assertEquals(Optional.empty(), builder.appendBlock(BlockStore.prunedForm(blocks.get((int) h))));
            }
            assertRefused(builder.appendBlock(BlockStore.prunedForm(blocks.get((int) SNAPSHOT))), "pruned form");
            assertEquals(Optional.empty(), builder.useManifest(manifest));
            putAll(builder);
            IllegalStateException short1 = assertThrows(IllegalStateException.class, builder::finish);
            assertTrue(short1.getMessage().contains("not the certified height"), short1.getMessage());

            // A copy of an unfinished build (as a crash leaves it) is refused at open.
            for (String f : new String[] {"data.mdb", StateSyncBuilder.UNFINISHED_FILE}) {
                Files.copy(dir.resolve(f), copy.resolve(f));
            }
            StoreCorruptedException refused = assertThrows(StoreCorruptedException.class, () -> BlockStore.open(copy, net.genesis));
            assertTrue(refused.getMessage().contains("never finished"), refused.getMessage());

            assertEquals(Optional.empty(), builder.appendBlock(blocks.get((int) SNAPSHOT)));
            assertRefused(builder.appendBlock(blocks.get((int) SNAPSHOT + 1)), "above the certified height");
            builder.finish();
        }
        try (BlockStore store = BlockStore.open(dir, net.genesis)) {
            assertEquals(SNAPSHOT, store.height());
        }
    }

    // ------------------------------------------------------------------------------ helpers

    /** A valid proof of another header than the snapshot's: block 100's. */
    private static HeaderProof otherProof() {
        try (BlockStore store = BlockStore.open(sourceDir, net.genesis)) {
            return store.headerProof(100).orElseThrow();
        }
    }

    private static int indexOfAccount(List<StateEntry> entries) {
        for (int i = 0; i < entries.size(); i++) {
            if (entries.get(i).hasAccount()) {
                return i;
            }
        }
        return -1;
    }

    private static StateEntry firstEntryNotIn(int bucket) throws Exception {
        for (int b = 0; b < StateBuckets.BUCKETS; b++) {
            if (b != bucket && manifest.getBuckets(b).getEntries() > 0) {
                return bucket(b).get(0);
            }
        }
        throw new AssertionError("the state has one bucket");
    }

    private static void assertRefused(Optional<String> problem, String reason) {
        assertTrue(problem.isPresent(), "expected a refusal mentioning '" + reason + "'");
        assertTrue(problem.get().contains(reason), problem.get());
    }
}
