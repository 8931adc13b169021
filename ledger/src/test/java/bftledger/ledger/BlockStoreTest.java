package bftledger.ledger;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import bftledger.crypto.Digest;
import bftledger.crypto.HeaderAnchor;
import bftledger.ledger.proto.Block;
import bftledger.ledger.proto.Receipt;
import com.google.protobuf.ByteString;
import java.io.RandomAccessFile;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class BlockStoreTest {
    private final TestLedger net = TestLedger.standard();

    /** A closed store in {@code dir} with {@code blocks} blocks, and those blocks (a source of untrusted imports). */
    private List<ExecutedBlock> written(Path dir, int blocks) {
        try (BlockStore store = BlockStore.open(dir, net.genesis)) {
            return fill(store, blocks);
        }
    }

    private List<ExecutedBlock> fill(BlockStore store, int blocks) {
        List<ExecutedBlock> out = new ArrayList<>();
        for (int h = 1; h <= blocks; h++) {
            out.add(net.append(store, 1000L * h, List.of(net.transfer(h % 8, (h + 1) % 8, h, h), net.put(h % 8, "key" + h, "v" + h, h))));
        }
        return out;
    }

    @Test
    void freshStoreStartsAtGenesis(@TempDir Path dir) {
        try (BlockStore store = BlockStore.open(dir, net.genesis)) {
            assertEquals(new BlockStore.Tip(0, net.genesis.hash(), net.genesis.stateRoot()), store.tip());
            assertEquals(1_000_000, store.balance(net.user(3)));
            assertTrue(store.block(1).isEmpty());
        }
    }

    @Test
    void appendAndReopenRoundTrip(@TempDir Path dir) {
        List<ExecutedBlock> written;
        VerifiedTransaction tx = net.transfer(0, 5, 77, 9_999);
        try (BlockStore store = BlockStore.open(dir, net.genesis)) {
            written = new ArrayList<>(fill(store, 5));
            written.add(net.append(store, 0, List.of()));
            written.add(net.append(store, 7_000, List.of(tx, tx)));
        }
        try (BlockStore store = BlockStore.open(dir, net.genesis)) {
            ExecutedBlock last = written.get(written.size() - 1);
            assertEquals(new BlockStore.Tip(7, last.hash(), last.execution().stateRoot()), store.tip());
            for (ExecutedBlock b : written) {
                assertArrayEquals(b.block().toByteArray(), store.block(b.height()).orElseThrow().toByteArray());
                assertEquals(b.header(), store.header(b.height()).orElseThrow());
            }
            assertEquals(0, store.header(6).orElseThrow().getTxCount(), "null batch stored as an empty block");
            BlockStore.TxRecord found = store.transaction(tx.id()).orElseThrow();
            assertEquals(7, found.height());
            assertEquals(0, found.index());
            assertEquals(Receipt.Status.SUCCESS, found.receipt().getStatus());
            assertEquals(tx.signed(), found.transaction());
            assertEquals(last.block(), found.block());
            var header = store.header(7).orElseThrow();
            assertTrue(found.txProof().verify(Digest.of(header.getTxRoot().toByteArray()), tx.id().bytes()));
            assertTrue(found.receiptProof().verify(Digest.of(header.getReceiptsRoot().toByteArray()), found.receipt().toByteArray()));
            assertFalse(found.txProof().verify(Digest.of(header.getTxRoot().toByteArray()), net.transfer(0, 1, 1, 1).id().bytes()));
            assertEquals(Receipt.Status.DUPLICATE, last.block().getReceipts(1).getStatus());
            assertEquals(ByteString.copyFromUtf8("v3"), store.record(net.user(3), "key3").orElseThrow());
            assertTrue(store.transaction(Digest.ZERO).isEmpty());

            // Execution resumes exactly where it stopped: the same as an uninterrupted memory run.
            MemoryState memory = MemoryState.genesis(net.genesis);
            for (ExecutedBlock b : written) {
                memory.apply(b.execution(), b.hash());
            }
            ExecutedBlock next = net.append(store, 8_000, List.of(tx, net.transfer(5, 0, 1_000, 1)));
            ExecutionResult expected = Executor.execute(net.genesis, memory, 8, List.of(tx, net.transfer(5, 0, 1_000, 1)));
            assertEquals(expected.receipts(), next.execution().receipts());
            assertEquals(expected.stateRoot(), next.execution().stateRoot());
            memory.apply(expected, next.hash());
            assertEquals(memory.balance(net.account(5)), store.balance(net.user(5)));
        }
    }

    @Test
    void recentBlocksAreParsedOnceAndServedIdenticallyAfterwards(@TempDir Path dir) {
        try (BlockStore store = BlockStore.open(dir, net.genesis)) {
            List<ExecutedBlock> written = fill(store, BlockStore.PARSED_RECENT_MAX + 4);
            for (ExecutedBlock b : written) {
                Block first = store.block(b.height()).orElseThrow();
                assertEquals(b.block(), first);
                assertTrue(first == store.block(b.height()).orElseThrow(), "height " + b.height() + " parsed again");
            }
            // The oldest fell out of the bounded cache and is read (and checked) from the store again.
            Block oldest = store.block(1).orElseThrow();
            for (ExecutedBlock b : written.subList(1, written.size())) {
                store.block(b.height());
            }
            Block again = store.block(1).orElseThrow();
            assertEquals(oldest, again);
            assertFalse(oldest == again, "evicted beyond " + BlockStore.PARSED_RECENT_MAX + " blocks");
        }
    }

    @Test
    void refusesBlocksThatDoNotFollowTheTip(@TempDir Path dir) {
        try (BlockStore store = BlockStore.open(dir, net.genesis)) {
            fill(store, 2);
            MemoryState memory = MemoryState.genesis(net.genesis);
            ExecutedBlock stale = net.next(memory, net.genesis.hash(), 0, List.of());
            assertThrows(IllegalStateException.class, () -> store.append(stale), "height 1 again");
            // A memory state that re-executed the store's two blocks.
            MemoryState copy = MemoryState.genesis(net.genesis);
            for (long h = 1; h <= 2; h++) {
                Block b = store.block(h).orElseThrow();
                copy.apply(BlockChecker.checkNext(net.genesis, copy, h == 1 ? net.genesis.hash() : Blocks.hash(store.block(h - 1).orElseThrow()), b)
                        .execution(), Blocks.hash(b));
            }
            Digest tip = store.tip().hash();
            ExecutedBlock wrongLink = BlockBuilder.build(net.genesis, copy, Digest.ZERO, 3, 0, HeaderAnchor.NONE, List.of(),
                    net.certify(3, 0, HeaderAnchor.NONE, List.of()));
            assertThrows(IllegalStateException.class, () -> store.append(wrongLink));
            ExecutedBlock good = BlockBuilder.build(net.genesis, copy, tip, 3, 0, HeaderAnchor.NONE, List.of(),
                    net.certify(3, 0, HeaderAnchor.NONE, List.of()));
            store.append(good);
            assertThrows(IllegalStateException.class, () -> store.append(good), "built on a state that is no longer the tip");
            assertEquals(3, store.height());
        }
    }

    @Test
    void importChecksUntrustedBlocks(@TempDir Path a, @TempDir Path b) {
        List<ExecutedBlock> source = written(a, 3);
        try (BlockStore store = BlockStore.open(b, net.genesis)) {
            assertTrue(store.append(source.get(0).block()).ok());
            Block forged = source.get(1).block().toBuilder().setCertificate(
                    source.get(1).block().getCertificate().toBuilder().removeSignatures(0)).build();
            BlockChecker.BlockCheck check = store.append(forged);
            assertFalse(check.ok());
            assertEquals(LedgerProblem.Kind.CERTIFICATE, check.problems().get(0).kind());
            assertEquals(1, store.height(), "refused block not written");
            assertFalse(store.append(source.get(2).block()).ok(), "a gap is refused");
            Block withUnknown = source.get(1).block().toBuilder().setUnknownFields(com.google.protobuf.UnknownFieldSet.newBuilder()
                    .addField(99, com.google.protobuf.UnknownFieldSet.Field.newBuilder().addVarint(1).build()).build()).build();
            assertEquals(LedgerProblem.Kind.MALFORMED_BLOCK, store.append(withUnknown).problems().get(0).kind());
            assertTrue(store.append(source.get(1).block()).ok());
            assertTrue(store.append(source.get(2).block()).ok());
            assertEquals(source.get(2).hash(), store.tip().hash());
        }
    }

    /** Import with the node's validator (its cache of verified transactions): it decides each transaction's verdict. */
    @Test
    void importTakesTransactionVerdictsFromTheGivenValidator(@TempDir Path a, @TempDir Path b) {
        List<ExecutedBlock> source = written(a, 2);
        try (BlockStore store = BlockStore.open(b, net.genesis)) {
            List<Digest> asked = new ArrayList<>();
            BlockChecker.BlockCheck ok = store.append(source.get(0).block(), tx -> {
                asked.add(Transactions.id(tx));
                return Transactions.validate(tx, net.genesis.chainId());
            });
            assertTrue(ok.ok());
            assertEquals(source.get(0).block().getTransactionsList().stream().map(Transactions::id).toList(), asked);
            BlockChecker.BlockCheck refused = store.append(source.get(1).block(),
                    tx -> new TxVerdict(TxVerdict.Reason.BAD_SIGNATURE, "refused by the validator", null));
            assertFalse(refused.ok());
            assertEquals(LedgerProblem.Kind.TRANSACTION, refused.problems().get(0).kind());
            assertEquals(1, store.height(), "refused block not written");
        }
    }

    @Test
    void truncatedStoreIsRefused(@TempDir Path dir) throws Exception {
        try (BlockStore store = BlockStore.open(dir, net.genesis)) {
            fill(store, 20);
        }
        Path data = dir.resolve("data.mdb");
        try (RandomAccessFile f = new RandomAccessFile(data.toFile(), "rw")) {
            f.setLength(f.length() / 2);
        }
        StoreCorruptedException e = assertThrows(StoreCorruptedException.class, () -> BlockStore.open(dir, net.genesis));
        assertTrue(e.getMessage().contains("truncated"), e.getMessage());
        try (RandomAccessFile f = new RandomAccessFile(data.toFile(), "rw")) {
            f.setLength(100);
        }
        e = assertThrows(StoreCorruptedException.class, () -> BlockStore.open(dir, net.genesis));
        assertTrue(e.getMessage().contains("truncated"), e.getMessage());
        try (RandomAccessFile f = new RandomAccessFile(data.toFile(), "rw")) {
            f.setLength(0);
        }
        assertThrows(StoreCorruptedException.class, () -> BlockStore.open(dir, net.genesis), "never silently re-initialized");
    }

    @Test
    void flippedByteAnywhereInTheTipBlockIsRefused(@TempDir Path dir) throws Exception {
        long seed = TestLedger.seed();
        try (BlockStore store = BlockStore.open(dir, net.genesis)) {
            fill(store, 4);
        }
        byte[] original = RawStore.block(dir, 4);
        java.util.SplittableRandom rnd = new java.util.SplittableRandom(seed);
        // A few random positions plus the first and last byte.
        List<Integer> positions = new ArrayList<>(List.of(0, original.length - 1));
        for (int i = 0; i < 6; i++) {
            positions.add(rnd.nextInt(original.length));
        }
        for (int pos : positions) {
            byte[] damaged = original.clone();
            damaged[pos] ^= (byte) (1 << rnd.nextInt(8));
            RawStore.putBlock(dir, 4, damaged);
            StoreCorruptedException e = assertThrows(StoreCorruptedException.class, () -> BlockStore.open(dir, net.genesis),
                    "flip at byte " + pos + ", seed " + seed + " (replay with -Dbftledger.seed)");
            assertTrue(e.getMessage().contains("height 4"), e.getMessage());
        }
        RawStore.putBlock(dir, 4, original);
        BlockStore.open(dir, net.genesis).close();
    }

    @Test
    void damagedMetadataAndForeignGenesisAreRefused(@TempDir Path dir) {
        try (BlockStore store = BlockStore.open(dir, net.genesis)) {
            fill(store, 3);
        }
        StoreCorruptedException e = assertThrows(StoreCorruptedException.class,
                () -> BlockStore.open(dir, new TestLedger(4, 8, 999).genesis));
        assertTrue(e.getMessage().contains("genesis"), e.getMessage());

        byte[] height = RawStore.get(dir, StoreEnv.DB_META, StoreEnv.META_HEIGHT);
        RawStore.put(dir, StoreEnv.DB_META, StoreEnv.META_HEIGHT, BlockStore.u64(2));
        e = assertThrows(StoreCorruptedException.class, () -> BlockStore.open(dir, net.genesis));
        assertTrue(e.getMessage().contains("last stored block is at height 3"), e.getMessage());
        RawStore.put(dir, StoreEnv.DB_META, StoreEnv.META_HEIGHT, height);

        byte[] tip = RawStore.get(dir, StoreEnv.DB_META, StoreEnv.META_TIP_HASH);
        RawStore.put(dir, StoreEnv.DB_META, StoreEnv.META_TIP_HASH, new byte[32]);
        e = assertThrows(StoreCorruptedException.class, () -> BlockStore.open(dir, net.genesis));
        assertTrue(e.getMessage().contains("tip_hash"), e.getMessage());
        RawStore.put(dir, StoreEnv.DB_META, StoreEnv.META_TIP_HASH, tip);

        RawStore.put(dir, StoreEnv.DB_META, StoreEnv.META_STATE_ROOT, new byte[32]);
        e = assertThrows(StoreCorruptedException.class, () -> BlockStore.open(dir, net.genesis));
        assertTrue(e.getMessage().contains("state_root"), e.getMessage());
    }

    @Test
    void aDamagedBlockIsNeverServedAndIsRepairedFromACertifiedCopy(@TempDir Path dir) throws Exception {
        List<ExecutedBlock> written;
        try (BlockStore store = BlockStore.open(dir, net.genesis)) {
            written = fill(store, 4);
        }
        Block good = written.get(1).block();
        // A flipped bit in the middle of block 2, as a disk would flip it.
        RawStore.flipBit(dir, 2, good.getSerializedSize() / 2);
        try (BlockStore store = BlockStore.open(dir, net.genesis)) {
            List<Long> reported = new ArrayList<>();
            store.onDamage(reported::add);
            DamagedBlockException e = assertThrows(DamagedBlockException.class, () -> store.block(2));
            assertEquals(2, e.height());
            assertTrue(e.getMessage().contains("checksum"), e.getMessage());
            Digest id = Transactions.id(good.getTransactions(0));
            assertThrows(DamagedBlockException.class, () -> store.transaction(id), "nothing of the block is served");
            assertEquals(List.of(2L), reported.subList(0, 1));
            assertEquals(java.util.Set.of(2L), store.damagedHeights());
            assertTrue(store.block(1).isPresent() && store.block(3).isPresent(), "its neighbours are served");

            assertTrue(store.repair(2, written.get(2).block()).isPresent(), "another height's block is refused");
            Block forged = good.toBuilder().setReceipts(0, good.getReceipts(0).toBuilder().setStatus(Receipt.Status.FAILED)).build();
            assertTrue(store.repair(2, forged).isPresent(), "a copy whose receipts differ is refused");
            assertEquals(Optional.empty(), store.repair(2, good));
            assertEquals(good, store.block(2).orElseThrow());
            assertEquals(2, store.transaction(id).orElseThrow().height());
            assertTrue(store.damagedHeights().isEmpty());
        }
        try (BlockStore store = BlockStore.open(dir, net.genesis)) {
            assertEquals(good, store.block(2).orElseThrow(), "the repair is durable");
        }
    }

    /** {@code blocks} blocks of {@code perBlock} transfers each, nonces from {@code firstNonce}: values large enough for overflow pages. */
    private List<ExecutedBlock> fillLarge(BlockStore store, int blocks, int perBlock, long firstNonce) {
        List<ExecutedBlock> out = new ArrayList<>();
        long nonce = firstNonce;
        for (int b = 0; b < blocks; b++) {
            List<VerifiedTransaction> txs = new ArrayList<>();
            for (int i = 0; i < perBlock; i++, nonce++) {
                txs.add(net.transfer((int) (nonce % 8), (int) ((nonce + 3) % 8), 1, nonce));
            }
            out.add(net.append(store, 1000L * (store.height() + 1), txs));
        }
        return out;
    }

    @Test
    void pruningKeepsHeadersProofsAndTheIndexAndFreesPages(@TempDir Path dir) throws Exception {
        List<ExecutedBlock> written;
        long fileBeforePruning;
        VerifiedTransaction old;
        try (BlockStore store = BlockStore.open(dir, net.genesis)) {
            written = fillLarge(store, 130, 60, 1);
            fileBeforePruning = java.nio.file.Files.size(dir.resolve("data.mdb"));
            old = net.transfer(1, 4, 1, 60 * 10 + 1); // executed in block 11 (nonces 601..660)
            assertEquals(1, store.prunedBelow());
            BlockStore.Pruned pruned;
            long freed = 0;
            do {
                pruned = store.prune(120);
                assertTrue(pruned.blocks() <= BlockStore.PRUNE_CHUNK_BLOCKS);
                freed += pruned.bytesFreed();
            } while (pruned.blocks() > 0);
            assertEquals(120, store.prunedBelow());
            assertTrue(freed > 100L * 60 * 120, "transactions of 119 blocks freed: " + freed);

            ExecutedBlock b11 = written.get(10);
            assertTrue(store.block(11).isEmpty(), "a pruned block is not served whole");
            assertEquals(b11.header(), store.header(11).orElseThrow(), "its header is kept");
            assertEquals(b11.hash(), store.blockHash(11).orElseThrow());
            assertEquals(b11.block().getHeader(), store.headerProof(11).orElseThrow().getHeader(), "and proven");
            assertEquals(written.get(119).block(), store.block(120).orElseThrow(), "blocks from the pruning height are whole");

            BlockStore.TxRecord record = store.transaction(old.id()).orElseThrow();
            assertTrue(record.pruned());
            assertEquals(11, record.height());
            assertEquals(b11.block().getReceipts(record.index()), record.receipt(), "the index keeps the receipt");
            assertThrows(IllegalStateException.class, record::txProof);
            ExecutedBlock replay = net.append(store, 1_000_000, List.of(old));
            assertEquals(Receipt.Status.DUPLICATE, replay.block().getReceipts(0).getStatus(),
                    "at-most-once holds for transactions of pruned blocks");
            assertTrue(store.checkAllBlocks().isEmpty(), "pruned blocks pass the integrity check as headers");
            while (store.prune(10_000).blocks() > 0) {
                // as far as it may go
            }
            assertEquals(131, store.height());
            assertEquals(129, store.prunedBelow(), "never above the state tree's last write (at 128, every "
                    + StateTreeStore.FLUSH_BLOCKS + " blocks): a reopen rebuilds the tree from the blocks above it");

            // LMDB reuses the freed pages: as many blocks again barely grow the file.
            while (store.prune(store.height() - 10).blocks() > 0) {
                // pruned down to the last blocks the tree and the index allow
            }
            fillLarge(store, 100, 60, 1_000_000);
            long after = java.nio.file.Files.size(dir.resolve("data.mdb"));
            assertTrue(after < fileBeforePruning * 13 / 10, "file grew from " + fileBeforePruning + " to " + after);
        }
        try (BlockStore store = BlockStore.open(dir, net.genesis)) {
            assertTrue(store.prunedBelow() > 120, "durable across a reopen");
            assertTrue(store.transaction(old.id()).orElseThrow().pruned());
            LedgerVerifier.Report report = LedgerVerifier.verify(store, LedgerVerifier.Progress.NONE);
            assertTrue(report.ok(), report.problems().toString());
            assertEquals(store.prunedBelow(), report.prunedBelow());
            assertEquals(store.height() - 1, report.certifiedHeight(), "headers certified through the pruned ones");
        }
    }

    @Test
    void aPrunedStoreRebuildsItsIndexFromReceiptsAndAPrunedHeightHoldingABodyIsDamage(@TempDir Path dir) throws Exception {
        List<ExecutedBlock> written;
        try (BlockStore store = BlockStore.open(dir, net.genesis)) {
            written = fill(store, 200);
            while (store.prune(150).blocks() > 0) {
                // down to 150
            }
        }
        // Its format says pruned: a release without pruning refuses it instead of taking its blocks for damaged.
        assertArrayEquals(java.nio.ByteBuffer.allocate(4).putInt(StoreEnv.FORMAT_PRUNED).array(),
                RawStore.get(dir, StoreEnv.DB_META, StoreEnv.META_FORMAT_VERSION));
        RawStore.putBlock(dir, 100, written.get(99).block().toByteArray());
        try (BlockStore store = BlockStore.open(dir, net.genesis)) {
            assertEquals(List.of(100L), store.checkAllBlocks(), "a whole block below the pruning height is not what was kept");
            assertEquals(Optional.empty(), store.repair(100, written.get(99).block()));
            assertTrue(store.checkAllBlocks().isEmpty(), "repaired in its pruned form");
        }
        assertTrue(RawStore.block(dir, 100).length < written.get(99).block().getSerializedSize());

        // The index is derived: lost (as after a machine crash), it is rebuilt from the kept receipts.
        Path index = dir.resolve(TxIndex.DIR);
        try (var files = java.nio.file.Files.walk(index)) {
            files.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        }
        Block b10 = written.get(9).block();
        Digest early = Transactions.id(b10.getTransactions(0));
        try (BlockStore store = BlockStore.open(dir, net.genesis)) {
            BlockStore.TxRecord record = store.transaction(early).orElseThrow();
            assertTrue(record.pruned());
            assertEquals(b10.getReceipts(0), record.receipt());
            LedgerVerifier.Report report = LedgerVerifier.verify(store, LedgerVerifier.Progress.NONE);
            assertTrue(report.ok(), report.problems().toString());
        }
    }

    @Test
    void aStoreOfAnEarlierFormatIsRefusedWithWhatToDo(@TempDir Path dir) {
        try (BlockStore store = BlockStore.open(dir, net.genesis)) {
            fill(store, 2);
        }
        for (int version : new int[] {1, 2}) {
            RawStore.put(dir, StoreEnv.DB_META, StoreEnv.META_FORMAT_VERSION, java.nio.ByteBuffer.allocate(4).putInt(version).array());
            StoreCorruptedException e = assertThrows(StoreCorruptedException.class, () -> BlockStore.open(dir, net.genesis));
            assertTrue(e.getMessage().contains("store format " + version) && e.getMessage().contains("bftledger init"),
                    e.getMessage());
        }
    }

    @Test
    void brokenLinkBelowTheTipIsRefused(@TempDir Path dir) throws Exception {
        try (BlockStore store = BlockStore.open(dir, net.genesis)) {
            fill(store, 3);
        }
        RawStore.editHeader(dir, 2, h -> h.setTimestampMillis(1));
        StoreCorruptedException e = assertThrows(StoreCorruptedException.class, () -> BlockStore.open(dir, net.genesis));
        // The header no longer hashes to what the chain recorded at its height (the next block links to the old one too).
        assertTrue(e.getMessage().contains("height 2") && e.getMessage().contains("not the hash the chain recorded"),
                e.getMessage());
    }

    @Test
    void openIsExclusiveWithinAProcessAndCloseIsIdempotent(@TempDir Path dir) {
        BlockStore store = BlockStore.open(dir, net.genesis);
        assertThrows(IllegalStateException.class, () -> BlockStore.open(dir.resolve(".").resolve("."), net.genesis));
        store.close();
        store.close();
        BlockStore.open(dir, net.genesis).close();
    }

    @Test
    void concurrentReadersSeeConsistentSnapshots(@TempDir Path dir) throws Exception {
        try (BlockStore store = BlockStore.open(dir, net.genesis)) {
            fill(store, 3);
            ExecutorService pool = Executors.newFixedThreadPool(2);
            try {
                List<Future<Long>> reads = new ArrayList<>();
                for (int i = 0; i < 4; i++) {
                    reads.add(pool.submit(() -> {
                        try (StoreSnapshot s = store.snapshot()) {
                            long h = s.height();
                            return s.block(h).isPresent() ? h : -1;
                        }
                    }));
                }
                fill(store, 2);
                for (Future<Long> f : reads) {
                    long h = f.get();
                    assertTrue(h >= 3 && h <= 5, "snapshot saw height " + h);
                }
            } finally {
                pool.shutdownNow();
            }
        }
    }
}
