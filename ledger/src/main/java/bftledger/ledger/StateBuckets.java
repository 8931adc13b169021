package bftledger.ledger;

import bftledger.crypto.Digest;
import bftledger.crypto.SparseMerkleTree;
import bftledger.ledger.proto.AccountEntry;
import bftledger.ledger.proto.RecordEntry;
import bftledger.ledger.proto.StateBucket;
import bftledger.ledger.proto.StateEntry;
import com.google.protobuf.ByteString;
import com.google.protobuf.CodedOutputStream;
import java.util.ArrayList;
import java.util.List;

/**
 * The state split into {@value #BUCKETS} buckets by the first byte of each leaf's tree key, as a
 * state snapshot serves it (StateSnapshotManifest in ledger.proto): which bucket a leaf is in,
 * the leaf a {@link StateEntry} stands for, a bucket's summary (its subtree's hash at depth 8),
 * and the state root the 256 summaries give. Pure functions; a joining replica checks what peers
 * serve with them, so every entry is validated as untrusted input.
 */
public final class StateBuckets {
    public static final int BUCKETS = 256;
    /** The depth of a bucket's subtree: one byte of the key. */
    static final int BUCKET_DEPTH = 8;

    private StateBuckets() {}

    public static int bucketOf(Digest treeKey) {
        return treeKey.bytes()[0] & 0xff;
    }

    /**
     * The leaf {@code e} stands for (tree key and value hash, per {@link StateKeys}).
     *
     * @throws IllegalArgumentException with the reason when the entry is not one the state can hold
     */
    public static SparseMerkleTree.Change leafOf(StateEntry e) {
        return switch (e.getEntryCase()) {
            case ACCOUNT -> accountLeaf(e.getAccount());
            case RECORD -> recordLeaf(e.getRecord());
            case ENTRY_NOT_SET -> throw new IllegalArgumentException("the entry is neither an account nor a record");
        };
    }

    private static SparseMerkleTree.Change accountLeaf(AccountEntry a) {
        requireLength(a.getPublicKey(), "account public_key");
        // Balances live in [0, 2^63-1] (see ChainGenesis): a larger u64 is no balance the ledger can hold.
        if (a.getBalance() < 0) {
            throw new IllegalArgumentException("account balance " + Long.toUnsignedString(a.getBalance()) + " is above 2^63-1");
        }
        return new SparseMerkleTree.Change(StateKeys.account(a.getPublicKey()), StateKeys.balanceValue(a.getBalance()));
    }

    private static SparseMerkleTree.Change recordLeaf(RecordEntry r) {
        requireLength(r.getOwner(), "record owner");
        requireLength(r.getWriterTxId(), "record writer_tx_id");
        int keyBytes = r.getKey().size();
        if (keyBytes == 0 || keyBytes > Transactions.MAX_RECORD_KEY_BYTES) {
            throw new IllegalArgumentException("record key of " + keyBytes + " bytes, must be 1 to "
                    + Transactions.MAX_RECORD_KEY_BYTES);
        }
        if (!r.getKey().isValidUtf8()) {
            throw new IllegalArgumentException("record key is not UTF-8");
        }
        if (r.getValue().size() > Transactions.MAX_RECORD_VALUE_BYTES) {
            throw new IllegalArgumentException("record value of " + r.getValue().size() + " bytes, over "
                    + Transactions.MAX_RECORD_VALUE_BYTES);
        }
        RecordKey key = new RecordKey(r.getOwner(), r.getKey());
        RecordValue value = new RecordValue(Digest.of(r.getWriterTxId().toByteArray()), r.getValue());
        return new SparseMerkleTree.Change(StateKeys.record(key), StateKeys.recordValue(value));
    }

    private static void requireLength(ByteString b, String what) {
        if (b.size() != Digest.LENGTH) {
            throw new IllegalArgumentException(what + " is " + b.size() + " bytes, not " + Digest.LENGTH);
        }
    }

    /**
     * The manifest entry of one bucket holding {@code entriesInTreeKeyOrder}.
     *
     * @throws IllegalArgumentException when an entry is invalid, the entries span buckets, or
     *                                  their tree keys are not strictly increasing
     */
    public static StateBucket summarize(List<StateEntry> entriesInTreeKeyOrder) {
        List<SparseMerkleTree.Change> leaves = new ArrayList<>(entriesInTreeKeyOrder.size());
        for (StateEntry e : entriesInTreeKeyOrder) {
            leaves.add(leafOf(e));
        }
        long size = 0;
        for (StateEntry e : entriesInTreeKeyOrder) {
            size += delimitedSize(e);
        }
        return summary(leaves.size(), subtree(leaves), size);
    }

    /** A bucket's manifest entry: its leaf count, the hash of what stands at depth 8 ({@link #subtree}), its served bytes. */
    static StateBucket summary(long entries, SparseMerkleTree.Node subtree, long sizeBytes) {
        StateBucket.Builder b = StateBucket.newBuilder().setEntries(entries).setHash(ByteString.copyFrom(subtree.hash().bytes()))
                .setSizeBytes(sizeBytes);
        if (subtree instanceof SparseMerkleTree.Leaf leaf) {
            b.setLeafKey(ByteString.copyFrom(leaf.key().bytes())).setLeafValueHash(ByteString.copyFrom(leaf.valueHash().bytes()));
        }
        return b.build();
    }

    /** The bytes {@code e} takes written with writeDelimitedTo (a snapshot's chunk offsets count these). */
    public static int delimitedSize(StateEntry e) {
        int n = e.getSerializedSize();
        return CodedOutputStream.computeUInt32SizeNoTag(n) + n;
    }

    /**
     * What stands at depth 8 on the path of one bucket holding exactly {@code leaves}: empty, the
     * one leaf, or an interior node whose children (the subtree's nodes) are held in memory.
     *
     * @throws IllegalArgumentException when the leaves span buckets or their keys are not strictly increasing
     */
    static SparseMerkleTree.Node subtree(List<SparseMerkleTree.Change> leaves) {
        return subtree(leaves, null);
    }

    /** As {@link #subtree(List)}, handing {@code sink} (unless null) each interior node of the bucket's subtree with its position. */
    static SparseMerkleTree.Node subtree(List<SparseMerkleTree.Change> leaves, SparseMerkleTree.NodeSink sink) {
        if (leaves.isEmpty()) {
            return SparseMerkleTree.Empty.INSTANCE;
        }
        int bucket = bucketOf(leaves.get(0).key());
        for (int i = 0; i < leaves.size(); i++) {
            Digest key = leaves.get(i).key();
            if (bucketOf(key) != bucket) {
                throw new IllegalArgumentException("entry " + i + " is in bucket " + bucketOf(key) + ", the first in " + bucket);
            }
            if (i > 0 && leaves.get(i - 1).key().compareTo(key) >= 0) {
                throw new IllegalArgumentException("entry " + i + " does not follow entry " + (i - 1) + " in tree-key order");
            }
        }
        SparseMerkleTree.Node node = SparseMerkleTree.build(leaves).root();
        if (leaves.size() == 1) {
            return node;
        }
        if (sink != null) {
            // Nodes at depths 0..7 of this build hold this bucket alone, not the state: combine makes those.
            SparseMerkleTree.forEachUnstored(node, (position, children) -> {
                if (position.depth() >= BUCKET_DEPTH) {
                    sink.put(position, children);
                }
            });
        }
        // All keys share the bucket's byte: the built tree descends through one interior node per bit to the bucket's.
        Digest prefix = leaves.get(0).key();
        for (int depth = 0; depth < BUCKET_DEPTH; depth++) {
            node = ((SparseMerkleTree.Interior) node).heldChildren().side(SparseMerkleTree.bit(prefix, depth));
        }
        return node;
    }

    /**
     * The state root the {@value #BUCKETS} bucket summaries give, combining them pairwise up eight
     * levels by the STATE rule: two empty subtrees stay empty, an empty one beside a single leaf
     * lets the leaf rise, anything else is an interior node. Whether a bucket is a single leaf is
     * its entry count; the hashes are taken as given (a bucket's own hash is checked against its
     * entries by whoever holds them).
     *
     * @throws IllegalArgumentException when there are not {@value #BUCKETS} buckets, a hash is not
     *                                  32 bytes, an empty bucket's hash is not zero, or a one-leaf
     *                                  bucket's hash is not that of the leaf it names in its bucket
     *                                  (StateBucketsTest#aLoneLeafIsPlacedByItsKey)
     */
    public static Digest root(List<StateBucket> buckets) {
        if (buckets.size() != BUCKETS) {
            throw new IllegalArgumentException(buckets.size() + " buckets, not " + BUCKETS);
        }
        List<Top> level = new ArrayList<>(BUCKETS);
        for (int b = 0; b < BUCKETS; b++) {
            level.add(topOf(b, buckets.get(b)));
        }
        return combine(level, (depth, index, children) -> {}).hash();
    }

    /** A bucket's summary as what stands at depth 8 (a single leaf is known by its hash alone). */
    private static Top topOf(int b, StateBucket bucket) {
        if (bucket.getHash().size() != Digest.LENGTH) {
            throw new IllegalArgumentException("bucket " + b + " hash is " + bucket.getHash().size() + " bytes");
        }
        Digest hash = Digest.of(bucket.getHash().toByteArray());
        if (bucket.getEntries() == 0) {
            if (!hash.equals(SparseMerkleTree.EMPTY_HASH)) {
                throw new IllegalArgumentException("bucket " + b + " holds no entries but its hash is not zero");
            }
            return Top.EMPTY;
        }
        if (bucket.getEntries() == 1) {
            // A lone leaf rises past empty neighbours, so the root alone does not place it: its key does.
            if (bucket.getLeafKey().size() != Digest.LENGTH || bucket.getLeafValueHash().size() != Digest.LENGTH) {
                throw new IllegalArgumentException("bucket " + b + " holds one entry but names no 32-byte leaf key and value hash");
            }
            Digest key = Digest.of(bucket.getLeafKey().toByteArray());
            if (bucketOf(key) != b) {
                throw new IllegalArgumentException("bucket " + b + "'s one leaf has a key of bucket " + bucketOf(key));
            }
            if (!SparseMerkleTree.leafHash(key, Digest.of(bucket.getLeafValueHash().toByteArray())).equals(hash)) {
                throw new IllegalArgumentException("bucket " + b + "'s hash is not the leaf hash of the key and value hash it names");
            }
        }
        return new Top(hash, bucket.getEntries() == 1, null);
    }

    /**
     * What stands at a position above the buckets: its hash, whether it is a single leaf (which
     * rises past an empty sibling), and the node to store in its parent's entry (null when only
     * hashes are combined, by {@link #root}).
     */
    record Top(Digest hash, boolean leaf, SparseMerkleTree.Node node) {
        static final Top EMPTY = new Top(SparseMerkleTree.EMPTY_HASH, false, SparseMerkleTree.Empty.INSTANCE);

        static Top of(SparseMerkleTree.Node node) {
            return node instanceof SparseMerkleTree.Empty ? EMPTY
                    : new Top(node.hash(), node instanceof SparseMerkleTree.Leaf, node);
        }

        /** Only {@link #EMPTY} is empty: a bucket claiming entries with a zero hash is an interior node of that hash. */
        boolean empty() {
            return this == EMPTY;
        }
    }

    /** Where {@link #combine} puts each interior node it makes above the buckets: its depth, index at that depth, children. */
    @FunctionalInterface
    interface TopSink {
        void put(int depth, int index, SparseMerkleTree.Children children);
    }

    /**
     * Combines the 256 subtrees standing at depth 8 up to the root, handing {@code sink} each
     * interior node made (when the tops carry their nodes).
     */
    static Top combine(List<Top> bucketTops, TopSink sink) {
        List<Top> level = bucketTops;
        for (int depth = BUCKET_DEPTH - 1; depth >= 0; depth--) {
            List<Top> up = new ArrayList<>(level.size() / 2);
            for (int i = 0; i < level.size(); i += 2) {
                Top left = level.get(i);
                Top right = level.get(i + 1);
                if (left.empty() && (right.empty() || right.leaf())) {
                    up.add(right);
                } else if (right.empty() && left.leaf()) {
                    up.add(left);
                } else if (left.node() != null && right.node() != null) {
                    SparseMerkleTree.Children children = new SparseMerkleTree.Children(left.node(), right.node());
                    sink.put(depth, i / 2, children);
                    up.add(new Top(children.hash(), false, new SparseMerkleTree.Interior(children.hash())));
                } else {
                    up.add(new Top(SparseMerkleTree.nodeHash(left.hash(), right.hash()), false, null));
                }
            }
            level = up;
        }
        return level.get(0);
    }
}
