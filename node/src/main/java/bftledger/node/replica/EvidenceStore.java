package bftledger.node.replica;

import bftledger.ledger.StoreCorruptedException;
import bftledger.pbft.MalformedMessageException;
import bftledger.pbft.MessageCodec;
import bftledger.pbft.MessageType;
import bftledger.pbft.Output;
import bftledger.pbft.Signed;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.lmdbjava.ByteArrayProxy;
import org.lmdbjava.CursorIterable;
import org.lmdbjava.Dbi;
import org.lmdbjava.DbiFlags;
import org.lmdbjava.Env;
import org.lmdbjava.EnvFlags;
import org.lmdbjava.KeyRange;
import org.lmdbjava.Txn;

/**
 * The evidence a replica holds: pairs of conflicting signed messages its core reported. Kept in
 * its own small LMDB environment ({@code data/evidence}) so a restart does not forget who was
 * proven faulty, and mirrored in memory for the API.
 *
 * <p>Deduplicated by slot: one pair per (accused replica, message type, view, sequence) is proof
 * enough, and an equivocator re-sending the same contradiction must not fill the store. Bounded
 * by {@code max}: when full, a new pair against a replica that is already proven is dropped, and
 * a pair against a replica not yet proven evicts the oldest pair of the replica with the most,
 * so every replica the store has ever proven faulty stays proven while fewer than {@code max}
 * replicas are accused.
 *
 * <p>Layout: key = accused u32 | type u8 | view u64 | sequence u64; value = insertion counter u64
 * | len u32 | first wire | len u32 | second wire (the messages exactly as received).
 */
public final class EvidenceStore implements AutoCloseable {
    private record Key(int replica, MessageType type, long view, long sequence) {}

    private final Env<byte[]> env;
    private final Dbi<byte[]> dbi;
    private final int max;
    private final LinkedHashMap<Key, Output.Evidence> held = new LinkedHashMap<>();
    private long counter;

    private EvidenceStore(Env<byte[]> env, Dbi<byte[]> dbi, int max) {
        this.env = env;
        this.dbi = dbi;
        this.max = max;
    }

    /** An in-memory store (tests and tools that have no data directory). */
    public static EvidenceStore inMemory(int max) {
        return new EvidenceStore(null, null, max);
    }

    /** Opens (creating) {@code dir} and loads what it holds; {@code codec} parses the stored messages. */
    public static EvidenceStore open(Path dir, MessageCodec codec, int max, long mapSizeBytes) {
        try {
            Files.createDirectories(dir);
        } catch (IOException e) {
            throw new StoreCorruptedException("cannot create the evidence directory " + dir + ": " + e.getMessage(), e);
        }
        Path dataFile = dir.resolve("data.mdb");
        if (Files.exists(dataFile)) {
            // Before LMDB maps it: a truncated or damaged file is refused here, not followed out of the map.
            bftledger.ledger.LmdbFileCheck.checkPages(dataFile, null);
        }
        Env<byte[]> env = Env.create(ByteArrayProxy.PROXY_BA).setMapSize(mapSizeBytes).setMaxDbs(1).setMaxReaders(8)
                .open(dir.toFile(), EnvFlags.MDB_NOTLS);
        Dbi<byte[]> dbi = env.openDbi("evidence", DbiFlags.MDB_CREATE);
        EvidenceStore store = new EvidenceStore(env, dbi, max);
        try {
            store.load(codec, dir);
        } catch (RuntimeException e) {
            env.close();
            throw e;
        }
        return store;
    }

    private void load(MessageCodec codec, Path dir) {
        List<Map.Entry<Long, Output.Evidence>> loaded = new ArrayList<>();
        try (Txn<byte[]> txn = env.txnRead(); CursorIterable<byte[]> it = dbi.iterate(txn, KeyRange.all())) {
            for (CursorIterable.KeyVal<byte[]> kv : it) {
                try {
                    ByteBuffer k = ByteBuffer.wrap(kv.key());
                    int replica = k.getInt();
                    k.get();
                    long view = k.getLong();
                    long sequence = k.getLong();
                    ByteBuffer v = ByteBuffer.wrap(kv.val());
                    long order = v.getLong();
                    Signed<?> first = codec.decode(bytes(v));
                    Signed<?> second = codec.decode(bytes(v));
                    loaded.add(Map.entry(order, new Output.Evidence(replica, second.type(), view, sequence, first, second)));
                } catch (MalformedMessageException | RuntimeException e) {
                    throw new StoreCorruptedException("evidence store " + dir + ": a record does not decode ("
                            + e.getMessage() + ")", e);
                }
            }
        }
        loaded.sort(Map.Entry.comparingByKey());
        for (Map.Entry<Long, Output.Evidence> e : loaded) {
            held.put(key(e.getValue()), e.getValue());
            counter = Math.max(counter, e.getKey() + 1);
        }
    }

    private static byte[] bytes(ByteBuffer v) {
        int len = v.getInt();
        if (len < 0 || len > v.remaining()) {
            throw new IllegalArgumentException("length " + len + " with " + v.remaining() + " bytes left");
        }
        byte[] out = new byte[len];
        v.get(out);
        return out;
    }

    private static Key key(Output.Evidence e) {
        return new Key(e.replica(), e.type(), e.view(), e.sequence());
    }

    /** Records {@code e} durably unless it is a duplicate or the bound says drop; true when kept. */
    public synchronized boolean add(Output.Evidence e) {
        Key key = key(e);
        if (held.containsKey(key)) {
            return false;
        }
        Key evict = null;
        if (held.size() >= max) {
            Map<Integer, Integer> perReplica = new HashMap<>();
            for (Key k : held.keySet()) {
                perReplica.merge(k.replica(), 1, Integer::sum);
            }
            if (perReplica.containsKey(e.replica())) {
                return false;
            }
            int most = perReplica.entrySet().stream().max(Map.Entry.<Integer, Integer>comparingByValue()
                    .thenComparing(Map.Entry.comparingByKey(Comparator.reverseOrder()))).orElseThrow().getKey();
            evict = held.keySet().stream().filter(k -> k.replica() == most).findFirst().orElseThrow();
        }
        if (env != null) {
            byte[] first = e.first().wire();
            byte[] second = e.second().wire();
            byte[] value = ByteBuffer.allocate(8 + 4 + first.length + 4 + second.length).putLong(counter)
                    .putInt(first.length).put(first).putInt(second.length).put(second).array();
            try (Txn<byte[]> txn = env.txnWrite()) {
                if (evict != null) {
                    dbi.delete(txn, encode(evict));
                }
                dbi.put(txn, encode(key), value);
                txn.commit();
            }
        }
        counter++;
        if (evict != null) {
            held.remove(evict);
        }
        held.put(key, e);
        return true;
    }

    private static byte[] encode(Key k) {
        return ByteBuffer.allocate(4 + 1 + 8 + 8).putInt(k.replica()).put((byte) k.type().code()).putLong(k.view())
                .putLong(k.sequence()).array();
    }

    /** Everything held, oldest first. */
    public synchronized List<Output.Evidence> all() {
        return List.copyOf(held.values());
    }

    public synchronized int size() {
        return held.size();
    }

    /**
     * Copies the store's environment, compacted, into the empty directory {@code target} (a
     * backup); false for an in-memory store, which has nothing to copy.
     */
    public synchronized boolean copyTo(Path target) {
        if (env == null) {
            return false;
        }
        env.copy(target.toFile(), org.lmdbjava.CopyFlags.MDB_CP_COMPACT);
        return true;
    }

    @Override
    public synchronized void close() {
        if (env != null) {
            env.close();
        }
    }
}
