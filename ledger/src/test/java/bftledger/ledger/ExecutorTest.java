package bftledger.ledger;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import bftledger.crypto.Digest;
import bftledger.crypto.KeyPair;
import bftledger.crypto.PublicKey;
import bftledger.ledger.proto.Receipt;
import bftledger.ledger.proto.Validator;
import com.google.protobuf.ByteString;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ExecutorTest {
    private final TestLedger net = TestLedger.standard();

    private ExecutionResult run(MemoryState state, List<VerifiedTransaction> txs) {
        ExecutionResult r = Executor.execute(net.genesis, state, state.height() + 1, txs);
        // A stand-in for the block's hash: these tests execute without building blocks.
        state.apply(r, bftledger.crypto.Sha256.hash(java.nio.ByteBuffer.allocate(8).putLong(r.height()).array()));
        return r;
    }

    @Test
    void transferMovesFunds() {
        MemoryState s = MemoryState.genesis(net.genesis);
        ExecutionResult r = run(s, List.of(net.transfer(0, 1, 300, 1)));
        assertEquals(Receipt.Status.SUCCESS, r.receipts().get(0).getStatus());
        assertEquals("", r.receipts().get(0).getReason());
        assertEquals(1_000_000 - 300, s.balance(net.account(0)));
        assertEquals(1_000_000 + 300, s.balance(net.account(1)));
        KeyPair fresh = KeyPair.deterministic("fresh");
        VerifiedTransaction toNew = Transactions.signVerified(
                Transactions.transfer(TestLedger.CHAIN, net.user(0), 2, fresh.publicKey(), 7), net.users.get(0));
        run(s, List.of(toNew));
        assertEquals(7, s.balance(ByteString.copyFrom(fresh.publicKey().bytes())), "the recipient need not exist yet");
    }

    @Test
    void transferWithoutFundsFailsWithNoEffect() {
        MemoryState s = MemoryState.genesis(net.genesis);
        Digest before = s.stateRoot();
        ExecutionResult r = run(s, List.of(net.transfer(0, 1, 1_000_001, 1), net.transfer(0, 1, 1_000_000, 2)));
        assertEquals(Receipt.Status.FAILED, r.receipts().get(0).getStatus());
        assertTrue(r.receipts().get(0).getReason().startsWith("insufficient funds"), r.receipts().get(0).getReason());
        assertEquals(Receipt.Status.SUCCESS, r.receipts().get(1).getStatus(), "the whole balance can move");
        assertEquals(0, s.balance(net.account(0)));
        assertEquals(2_000_000, s.balance(net.account(1)));
        assertTrue(!before.equals(s.stateRoot()));
        // A failed transaction still executed: its id is spent.
        assertEquals(new LedgerState.TxLocation(1, 0), s.executed(r.changes().executed().get(0).txId()).orElseThrow());
    }

    @Test
    void amountsAtOrAbove2To63AreNeverCovered() {
        MemoryState s = MemoryState.genesis(net.genesis);
        ExecutionResult r = run(s, List.of(net.transfer(0, 1, Long.MIN_VALUE, 1), net.transfer(0, 1, -1L, 2)));
        for (Receipt receipt : r.receipts()) {
            assertEquals(Receipt.Status.FAILED, receipt.getStatus());
            assertTrue(receipt.getReason().contains("18446744073709551615") || receipt.getReason().contains("9223372036854775808"),
                    receipt.getReason());
        }
        assertEquals(1_000_000, s.balance(net.account(0)));
    }

    @Test
    void recipientOverflowFails() {
        KeyPair rich = KeyPair.deterministic("rich");
        KeyPair richer = KeyPair.deterministic("richer");
        TreeMap<PublicKey, Long> balances = new TreeMap<>();
        balances.put(rich.publicKey(), Long.MAX_VALUE);
        balances.put(richer.publicKey(), Long.MAX_VALUE);
        List<Validator> vs = net.genesis.genesis().getValidatorsList();
        ChainGenesis g = ChainGenesis.build(TestLedger.CHAIN, vs, balances, 0);
        MemoryState s = MemoryState.genesis(g);
        VerifiedTransaction tx = Transactions.signVerified(
                Transactions.transfer(TestLedger.CHAIN, rich.publicKey(), 1, richer.publicKey(), 1), rich);
        ExecutionResult r = run(s, List.of(tx));
        assertEquals(Receipt.Status.FAILED, r.receipts().get(0).getStatus());
        assertTrue(r.receipts().get(0).getReason().contains("overflow"), r.receipts().get(0).getReason());
        assertEquals(Long.MAX_VALUE, s.balance(ByteString.copyFrom(rich.publicKey().bytes())));
        assertEquals(Long.MAX_VALUE, s.balance(ByteString.copyFrom(richer.publicKey().bytes())));
    }

    @Test
    void sameTransactionTwiceInOneBlockExecutesOnce() {
        MemoryState s = MemoryState.genesis(net.genesis);
        VerifiedTransaction tx = net.transfer(0, 1, 10, 1);
        ExecutionResult r = run(s, List.of(tx, net.transfer(2, 3, 1, 1), tx));
        assertEquals(Receipt.Status.SUCCESS, r.receipts().get(0).getStatus());
        assertEquals(Receipt.Status.DUPLICATE, r.receipts().get(2).getStatus());
        assertEquals("already executed at height 1 index 0", r.receipts().get(2).getReason());
        assertEquals(1_000_000 - 10, s.balance(net.account(0)));
        assertEquals(2, r.changes().executed().size());
        assertEquals(new LedgerState.TxLocation(1, 0), s.executed(tx.id()).orElseThrow(), "the index keeps the first");
    }

    @Test
    void sameTransactionInALaterBlockIsDuplicate() {
        MemoryState s = MemoryState.genesis(net.genesis);
        VerifiedTransaction tx = net.transfer(0, 1, 10, 1);
        VerifiedTransaction failed = net.transfer(2, 1, 5_000_000, 1);
        run(s, List.of(net.put(4, "a", "b", 1), tx, failed));
        run(s, List.of());
        Digest rootBefore = s.stateRoot();
        ExecutionResult r = run(s, List.of(failed, tx));
        assertEquals(Receipt.Status.DUPLICATE, r.receipts().get(0).getStatus());
        assertEquals("already executed at height 1 index 2", r.receipts().get(0).getReason(), "a FAILED id is spent too");
        assertEquals("already executed at height 1 index 1", r.receipts().get(1).getReason());
        assertEquals(1_000_000 - 10, s.balance(net.account(0)));
        assertTrue(r.changes().balances().isEmpty() && r.changes().executed().isEmpty());
        assertEquals(rootBefore, s.stateRoot(), "the state root is a function of the state, which did not change");
    }

    @Test
    void recordsLiveInTheSendersNamespace() {
        MemoryState s = MemoryState.genesis(net.genesis);
        VerifiedTransaction alice = net.put(0, "name", "alice", 1);
        run(s, List.of(alice, net.put(1, "name", "bob", 1)));
        VerifiedTransaction empty = net.put(0, "name", "", 2);
        ExecutionResult second = run(s, List.of(empty));
        assertEquals(new RecordValue(empty.id(), ByteString.EMPTY), s.record(RecordKey.of(net.account(0), "name")).orElseThrow(),
                "empty overwrites, and the record names its writer");
        assertEquals(ByteString.copyFrom(alice.id().bytes()), second.receipts().get(0).getPreviousTxId(),
                "the receipt links the write before");
        assertEquals(ByteString.copyFromUtf8("bob"), s.record(RecordKey.of(net.account(1), "name")).orElseThrow().value());
        assertTrue(s.record(RecordKey.of(net.account(2), "name")).isEmpty());
    }

    @Test
    void writesToOneRecordInOneBlockLinkEachToTheOneBefore() {
        MemoryState s = MemoryState.genesis(net.genesis);
        VerifiedTransaction first = net.put(0, "k", "1", 1);
        VerifiedTransaction second = net.put(0, "k", "2", 2);
        ExecutionResult r = run(s, List.of(first, second));
        assertTrue(r.receipts().get(0).getPreviousTxId().isEmpty(), "a first write has no previous");
        assertEquals(ByteString.copyFrom(first.id().bytes()), r.receipts().get(1).getPreviousTxId());
        assertEquals(second.id(), s.record(RecordKey.of(net.account(0), "k")).orElseThrow().writer());
    }

    @Test
    void executingTheWrongHeightIsABug() {
        MemoryState s = MemoryState.genesis(net.genesis);
        assertThrows(IllegalArgumentException.class, () -> Executor.execute(net.genesis, s, 2, List.of()));
    }

    /** A seeded workload of transfers (some unfunded), records and repeats, in blocks. */
    static List<List<VerifiedTransaction>> workload(TestLedger net, long seed, int blocks) {
        SplittableRandom rnd = new SplittableRandom(seed);
        List<VerifiedTransaction> seen = new ArrayList<>();
        List<List<VerifiedTransaction>> out = new ArrayList<>();
        long nonce = 0;
        for (int b = 0; b < blocks; b++) {
            int size = rnd.nextInt(0, 12);
            List<VerifiedTransaction> block = new ArrayList<>();
            for (int i = 0; i < size; i++) {
                int kind = rnd.nextInt(10);
                VerifiedTransaction tx;
                if (kind == 0 && !seen.isEmpty()) {
                    tx = seen.get(rnd.nextInt(seen.size()));
                } else if (kind <= 2) {
                    tx = net.put(rnd.nextInt(net.users.size()), "k" + rnd.nextInt(5), "v" + rnd.nextInt(1000), nonce++);
                } else {
                    int from = rnd.nextInt(net.users.size());
                    int to = (from + 1 + rnd.nextInt(net.users.size() - 1)) % net.users.size();
                    long amount = rnd.nextInt(4) == 0 ? rnd.nextLong(1, 3_000_000) : rnd.nextLong(1, 50_000);
                    tx = net.transfer(from, to, amount, nonce++);
                }
                seen.add(tx);
                block.add(tx);
            }
            out.add(block);
        }
        return out;
    }

    private static List<ExecutedBlock> executeInMemory(TestLedger net, List<List<VerifiedTransaction>> work) {
        MemoryState s = MemoryState.genesis(net.genesis);
        Digest prev = net.genesis.hash();
        List<ExecutedBlock> out = new ArrayList<>();
        for (int h = 0; h < work.size(); h++) {
            long ts = work.get(h).isEmpty() ? 0 : 1_000L * (h + 1);
            ExecutedBlock b = net.next(s, prev, ts, work.get(h));
            prev = b.hash();
            out.add(b);
            long total = s.balances().values().stream().mapToLong(Long::longValue).sum();
            if (total != 1_000_000L * net.users.size() || s.balances().values().stream().anyMatch(v -> v < 0)) {
                throw new AssertionError("supply not conserved at height " + (h + 1) + "; replay with -Dbftledger.seed");
            }
        }
        return out;
    }

    @Test
    void executionIsDeterministicByteForByte(@TempDir Path dir) {
        long seed = TestLedger.seed();
        String replay = "seed " + seed + " (replay with -Dbftledger.seed=" + seed + ")";
        List<List<VerifiedTransaction>> work = workload(net, seed, 30);
        List<ExecutedBlock> first = executeInMemory(net, work);
        List<ExecutedBlock> second = executeInMemory(new TestLedger(4, 8, 1_000_000), workload(new TestLedger(4, 8, 1_000_000), seed, 30));
        try (BlockStore store = BlockStore.open(dir, net.genesis)) {
            for (int h = 0; h < work.size(); h++) {
                ExecutedBlock a = first.get(h);
                long ts = work.get(h).isEmpty() ? 0 : 1_000L * (h + 1);
                ExecutedBlock viaStore = net.append(store, ts, work.get(h));
                assertArrayEquals(a.block().toByteArray(), second.get(h).block().toByteArray(), "memory runs differ at " + (h + 1) + ", " + replay);
                assertArrayEquals(a.block().toByteArray(), viaStore.block().toByteArray(), "store run differs at " + (h + 1) + ", " + replay);
                assertEquals(a.execution().changes(), viaStore.execution().changes(), replay);
            }
            assertEquals(first.get(first.size() - 1).execution().stateRoot(), store.tip().stateRoot(), replay);
        }
    }
}
