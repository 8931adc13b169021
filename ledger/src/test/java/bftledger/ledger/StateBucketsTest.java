package bftledger.ledger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import bftledger.crypto.Digest;
import bftledger.crypto.SparseMerkleTree;
import bftledger.ledger.proto.AccountEntry;
import bftledger.ledger.proto.RecordEntry;
import bftledger.ledger.proto.StateBucket;
import bftledger.ledger.proto.StateEntry;
import com.google.protobuf.ByteString;
import java.io.ByteArrayOutputStream;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

class StateBucketsTest {

    @Test
    void theBucketsOfRandomStatesCombineToTheStateRoot() throws Exception {
        long seed = TestLedger.seed();
        Random random = new Random(seed);
        // Small states leave most buckets empty or with one leaf; large ones fill them all.
        for (int leaves : new int[] {0, 1, 2, 3, 5, 40, 255, 256, 700, 3000}) {
            List<StateEntry> entries = new ArrayList<>();
            for (int i = 0; i < leaves; i++) {
                entries.add(random.nextInt(3) == 0 ? randomRecord(random) : randomAccount(random));
            }
            assertRootMatches(entries, "seed " + seed + ", " + leaves + " leaves");
        }
    }

    @Test
    void twoLeavesAnywhereGiveTheTreesRoot() {
        // Same bucket, sibling buckets (parting at depth 7), and the two halves of the tree (parting at the root).
        int[][] pairs = {{5, 5}, {0, 1}, {6, 7}, {0, 128}, {0, 255}, {3, 200}, {255, 255}};
        for (int[] pair : pairs) {
            List<SparseMerkleTree.Change> leaves = new ArrayList<>();
            leaves.add(leaf(pair[0], 1));
            leaves.add(leaf(pair[1], 2));
            leaves.sort(Comparator.comparing(SparseMerkleTree.Change::key));
            assertEquals(SparseMerkleTree.build(leaves).root().hash(), rootOfLeaves(leaves), pair[0] + "," + pair[1]);
        }
        List<SparseMerkleTree.Change> one = List.of(leaf(77, 1));
        assertEquals(SparseMerkleTree.leafHash(one.get(0).key(), one.get(0).valueHash()), rootOfLeaves(one),
                "a lone leaf rises to the root");
        assertEquals(SparseMerkleTree.EMPTY_HASH, rootOfLeaves(List.of()));
    }

    @Test
    void summaryCountsEntriesAndTheirDelimitedBytes() throws Exception {
        Random random = new Random(7);
        List<StateEntry> all = new ArrayList<>();
        for (int i = 0; i < 2000; i++) {
            all.add(randomRecord(random));
        }
        List<StateEntry> bucket = sorted(all).stream().filter(e -> bucketOf(e) == 9).toList();
        assertTrue(bucket.size() > 2, "2000 records leave several in bucket 9");
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (StateEntry e : bucket) {
            e.writeDelimitedTo(out);
        }
        StateBucket summary = StateBuckets.summarize(bucket);
        assertEquals(bucket.size(), summary.getEntries());
        assertEquals(out.size(), summary.getSizeBytes());
        StateBucket empty = StateBuckets.summarize(List.of());
        assertEquals(0, empty.getEntries());
        assertEquals(ByteString.copyFrom(new byte[32]), empty.getHash());

        List<StateEntry> reversed = new ArrayList<>(bucket);
        java.util.Collections.reverse(reversed);
        assertThrows(IllegalArgumentException.class, () -> StateBuckets.summarize(reversed), "out of order");
        List<StateEntry> twoBuckets = sorted(all).subList(0, 2000);
        assertThrows(IllegalArgumentException.class, () -> StateBuckets.summarize(twoBuckets), "spans buckets");
    }

    @Test
    void entriesTheStateCannotHoldAreRefusedWithAReason() {
        ByteString key32 = ByteString.copyFrom(new byte[32]);
        ByteString key31 = ByteString.copyFrom(new byte[31]);
        RecordEntry good = RecordEntry.newBuilder().setOwner(key32).setKey(ByteString.copyFromUtf8("k")).setWriterTxId(key32)
                .setValue(ByteString.copyFromUtf8("v")).build();
        StateBuckets.leafOf(StateEntry.newBuilder().setRecord(good).build());
        StateBuckets.leafOf(account(key32, 0));
        assertRefused("public_key", account(key31, 5));
        assertRefused("2^63", account(key32, -1));
        assertRefused("neither", StateEntry.getDefaultInstance());
        assertRefused("owner", record(good.toBuilder().setOwner(key31)));
        assertRefused("writer_tx_id", record(good.toBuilder().setWriterTxId(ByteString.copyFrom(new byte[33]))));
        assertRefused("record key of 0", record(good.toBuilder().setKey(ByteString.EMPTY)));
        assertRefused("record key of 257", record(good.toBuilder().setKey(ByteString.copyFrom(new byte[257]))));
        assertRefused("UTF-8", record(good.toBuilder().setKey(ByteString.copyFrom(new byte[] {(byte) 0xff}))));
        assertRefused("4097", record(good.toBuilder().setValue(ByteString.copyFrom(new byte[4097]))));
        StateBuckets.leafOf(record(good.toBuilder().setKey(ByteString.copyFrom(new byte[256]))
                .setValue(ByteString.copyFrom(new byte[4096]))));
    }

    @Test
    void malformedManifestsAreRefused() {
        List<StateBucket> empty = new ArrayList<>();
        for (int b = 0; b < StateBuckets.BUCKETS; b++) {
            empty.add(StateBuckets.summarize(List.of()));
        }
        assertEquals(SparseMerkleTree.EMPTY_HASH, StateBuckets.root(empty));
        assertThrows(IllegalArgumentException.class, () -> StateBuckets.root(empty.subList(0, 255)));
        List<StateBucket> nonZero = new ArrayList<>(empty);
        nonZero.set(3, nonZero.get(3).toBuilder().setHash(ByteString.copyFrom(new byte[31]).concat(ByteString.copyFrom(new byte[] {1}))).build());
        assertThrows(IllegalArgumentException.class, () -> StateBuckets.root(nonZero), "an empty bucket with a hash");
        List<StateBucket> shortHash = new ArrayList<>(empty);
        shortHash.set(3, StateBucket.newBuilder().setEntries(2).setHash(ByteString.copyFrom(new byte[5])).build());
        assertThrows(IllegalArgumentException.class, () -> StateBuckets.root(shortHash));
    }

    @Test
    void aLoneLeafIsPlacedByItsKey() {
        // One leaf in bucket 6 beside an empty bucket 7: moved to bucket 7, it still rises to the
        // same root, so the manifest must name the leaf's key and the check must place it by that.
        SparseMerkleTree.Change lone = leaf(6, 1);
        List<StateBucket> honest = new ArrayList<>();
        for (int b = 0; b < StateBuckets.BUCKETS; b++) {
            honest.add(StateBuckets.summary(b == 6 ? 1 : 0, b == 6 ? StateBuckets.subtree(List.of(lone))
                    : SparseMerkleTree.Empty.INSTANCE, 0));
        }
        Digest root = StateBuckets.root(honest);
        assertEquals(SparseMerkleTree.leafHash(lone.key(), lone.valueHash()), root);
        List<StateBucket> moved = new ArrayList<>(honest);
        moved.set(7, honest.get(6));
        moved.set(6, honest.get(7));
        IllegalArgumentException misplaced = assertThrows(IllegalArgumentException.class, () -> StateBuckets.root(moved));
        assertTrue(misplaced.getMessage().contains("key of bucket 6"), misplaced.getMessage());
        List<StateBucket> unnamed = new ArrayList<>(honest);
        unnamed.set(6, honest.get(6).toBuilder().clearLeafKey().build());
        assertThrows(IllegalArgumentException.class, () -> StateBuckets.root(unnamed), "a lone leaf without its key");
        List<StateBucket> otherValue = new ArrayList<>(honest);
        otherValue.set(6, honest.get(6).toBuilder().setLeafValueHash(ByteString.copyFrom(new byte[32])).build());
        assertThrows(IllegalArgumentException.class, () -> StateBuckets.root(otherValue), "a key and value that are not the hash's");
    }

    // ------------------------------------------------------------------------------ helpers

    private static void assertRootMatches(List<StateEntry> entries, String what) {
        List<StateEntry> ordered = sorted(entries);
        List<SparseMerkleTree.Change> leaves = ordered.stream().map(StateBuckets::leafOf).toList();
        Digest expected = SparseMerkleTree.build(leaves).root().hash();
        List<StateBucket> buckets = new ArrayList<>();
        for (int b = 0; b < StateBuckets.BUCKETS; b++) {
            int bucket = b;
            buckets.add(StateBuckets.summarize(ordered.stream().filter(e -> bucketOf(e) == bucket).toList()));
        }
        assertEquals(entries.size(), buckets.stream().mapToLong(StateBucket::getEntries).sum(), what);
        assertEquals(expected, StateBuckets.root(buckets), what);
    }

    private static Digest rootOfLeaves(List<SparseMerkleTree.Change> leaves) {
        List<StateBucket> buckets = new ArrayList<>();
        for (int b = 0; b < StateBuckets.BUCKETS; b++) {
            int bucket = b;
            List<SparseMerkleTree.Change> in = leaves.stream().filter(l -> StateBuckets.bucketOf(l.key()) == bucket).toList();
            buckets.add(StateBuckets.summary(in.size(), StateBuckets.subtree(in), 0));
        }
        return StateBuckets.root(buckets);
    }

    /** A leaf in bucket {@code bucket}, its other key bytes from {@code salt}. */
    private static SparseMerkleTree.Change leaf(int bucket, int salt) {
        byte[] key = new byte[32];
        new Random(salt * 31L + bucket).nextBytes(key);
        key[0] = (byte) bucket;
        return new SparseMerkleTree.Change(Digest.of(key), bftledger.crypto.Sha256.hash(new byte[] {(byte) salt}));
    }

    private static List<StateEntry> sorted(List<StateEntry> entries) {
        List<StateEntry> out = new ArrayList<>(entries);
        out.sort(Comparator.comparing(e -> StateBuckets.leafOf(e).key()));
        return out;
    }

    private static int bucketOf(StateEntry e) {
        return StateBuckets.bucketOf(StateBuckets.leafOf(e).key());
    }

    private static StateEntry randomAccount(Random random) {
        return account(ByteString.copyFrom(bytes(random, 32)), random.nextLong() & Long.MAX_VALUE);
    }

    private static StateEntry randomRecord(Random random) {
        String key = "key-" + random.nextInt(1_000_000);
        return record(RecordEntry.newBuilder().setOwner(ByteString.copyFrom(bytes(random, 32))).setKey(ByteString.copyFromUtf8(key))
                .setWriterTxId(ByteString.copyFrom(bytes(random, 32))).setValue(ByteString.copyFrom(bytes(random, random.nextInt(64)))));
    }

    private static StateEntry account(ByteString key, long balance) {
        return StateEntry.newBuilder().setAccount(AccountEntry.newBuilder().setPublicKey(key).setBalance(balance)).build();
    }

    private static StateEntry record(RecordEntry.Builder r) {
        return StateEntry.newBuilder().setRecord(r).build();
    }

    private static byte[] bytes(Random random, int n) {
        byte[] b = new byte[n];
        random.nextBytes(b);
        return b;
    }

    private static void assertRefused(String reason, StateEntry e) {
        IllegalArgumentException thrown = assertThrows(IllegalArgumentException.class, () -> StateBuckets.leafOf(e));
        assertTrue(thrown.getMessage().contains(reason), thrown.getMessage());
    }
}
