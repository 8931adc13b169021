package bftledger.pbft;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import bftledger.crypto.Digest;
import bftledger.crypto.KeyPair;
import bftledger.crypto.PublicKey;
import bftledger.crypto.Sha256;
import java.nio.ByteBuffer;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.TreeMap;
import java.util.function.Function;
import java.util.function.Predicate;

/**
 * A synchronous in-memory network of replicas, in the spirit of etcd-io/raft's raft_test.go:
 * messages go into one FIFO queue and are delivered one at a time through the real codec and
 * verifier; tests drop, cut and isolate. Each replica has a toy application whose state digest
 * chains the batch digests, executed as soon as the core hands a batch out. After every step the
 * replica's invariants and the persist-before-send contract are checked.
 */
final class Cluster {
    record Envelope(int from, int to, byte[] wire) {}

    /** The application side of one node: executed batches and the digest after each. */
    static final class App {
        final List<Output.CommittedBatch> executed = new ArrayList<>();
        final Set<Digest> executedIds = new HashSet<>();
        final TreeMap<Long, Digest> digests = new TreeMap<>();
        Digest state = Digest.ZERO;
        long height;
        /** Batches handed out and not yet executed; see {@link Cluster#executeInOrder}. */
        final ArrayDeque<Output.CommittedBatch> queued = new ArrayDeque<>();
        boolean executing;

        Digest execute(Output.CommittedBatch b) {
            if (b.sequence() != height + 1) {
                fail("executed " + b.sequence() + " after " + height);
            }
            height = b.sequence();
            state = Sha256.hash(state.bytes(), b.digest().bytes(), ByteBuffer.allocate(8).putLong(height).array());
            digests.put(height, state);
            executed.add(b);
            b.requests().forEach(r -> executedIds.add(r.id()));
            return state;
        }

        /** Takes over another application's state, as a node keeps its ledger into the next epoch. */
        void adopt(App other) {
            executed.addAll(other.executed);
            executedIds.addAll(other.executedIds);
            digests.putAll(other.digests);
            state = other.state;
            height = other.height;
        }
    }

    final Config base;
    final int n;
    final List<KeyPair> keys = new ArrayList<>();
    final List<Replica> replicas = new ArrayList<>();
    final List<App> apps = new ArrayList<>();
    final List<List<Signed<?>>> sent = new ArrayList<>();
    final List<List<PersistRecord>> persisted = new ArrayList<>();
    final List<Set<String>> persistedWires = new ArrayList<>();
    final List<List<Output.Evidence>> evidence = new ArrayList<>();
    final List<List<Output.Rejection>> rejections = new ArrayList<>();
    final List<List<Output.StateTransferRequest>> transfers = new ArrayList<>();
    final MessageVerifier verifier;
    final ArrayDeque<Envelope> queue = new ArrayDeque<>();
    final Set<Integer> isolated = new HashSet<>();
    final Set<Integer> crashed = new HashSet<>();
    final Set<List<Integer>> cuts = new HashSet<>();
    Predicate<Envelope> dropIf = e -> false;
    /** Byzantine hook: rewrites what replica i is about to send (returns the envelopes to queue). */
    Function<Envelope, List<Envelope>> tamper = List::of;
    long now = 1_000;
    boolean autoExecute = true;
    boolean autoTransfer = true;
    /** Whether state transfer tells the core which request ids the fetched batches executed. */
    boolean transferReportsIds = false;
    /**
     * What the node does once replica i's application reached a sequence (executed, fetched, or
     * read back at a restart): where the ledger announces an epoch's end, it hands that in.
     */
    java.util.function.BiConsumer<Integer, Long> afterExecuted = (i, s) -> { };

    Cluster(int f) {
        this(f, c -> c);
    }

    Cluster(int f, Function<Config, Config> tune) {
        this(keys("replica-", 3 * f + 1), tune);
    }

    /** Any n >= 4, not only 3f+1. */
    static Cluster ofSize(int n, Function<Config, Config> tune) {
        return new Cluster(keys("replica-", n), tune);
    }

    static List<KeyPair> keys(String prefix, int n) {
        List<KeyPair> keys = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            keys.add(KeyPair.deterministic(prefix + i));
        }
        return keys;
    }

    Cluster(List<KeyPair> validatorKeys, Function<Config, Config> tune) {
        n = validatorKeys.size();
        List<PublicKey> publicKeys = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            keys.add(validatorKeys.get(i));
            publicKeys.add(keys.get(i).publicKey());
        }
        base = tune.apply(Config.of(publicKeys, 0, keys.get(0)));
        verifier = new MessageVerifier(base, TestRequests.VALIDATOR);
        for (int i = 0; i < n; i++) {
            App app = new App();
            replicas.add(new Replica(base.withReplica(i, keys.get(i)), id -> app.executedIds.contains(id), app.digests::get));
            apps.add(app);
            sent.add(new ArrayList<>());
            persisted.add(new ArrayList<>());
            persistedWires.add(new HashSet<>());
            evidence.add(new ArrayList<>());
            rejections.add(new ArrayList<>());
            transfers.add(new ArrayList<>());
        }
    }

    Replica replica(int i) {
        return replicas.get(i);
    }

    MessageFactory factory(int i) {
        return new MessageFactory(i, keys.get(i));
    }

    /** Steps replica i and carries out its output: persist, send, execute, transfer. */
    void step(int i, Event event) {
        if (crashed.contains(i)) {
            return;
        }
        Output out = replicas.get(i).step(event);
        replicas.get(i).checkInvariants();
        handle(i, out);
    }

    void handle(int i, Output out) {
        for (PersistRecord r : out.persist()) {
            persisted.get(i).add(r);
            if (r instanceof PersistRecord.OwnMessage om) {
                persistedWires.get(i).add(java.util.HexFormat.of().formatHex(om.message().wire()));
            }
        }
        for (Output.Outbound o : out.messages()) {
            Signed<?> m = o.message();
            if (m.signer() == i && m.type() != MessageType.STATUS && !persistedWires.get(i).contains(java.util.HexFormat.of().formatHex(m.wire()))) {
                fail("replica " + i + " sent " + m + " that it had not persisted");
            }
            sent.get(i).add(m);
            for (int to = 0; to < n; to++) {
                if (to != i && (o.broadcast() || o.to() == to)) {
                    for (Envelope e : tamper.apply(new Envelope(i, to, m.wire()))) {
                        queue.add(e);
                    }
                }
            }
        }
        evidence.get(i).addAll(out.evidence());
        rejections.get(i).addAll(out.rejections());
        transfers.get(i).addAll(out.stateTransfer());
        if (autoExecute) {
            executeInOrder(i, out.execute());
        }
        if (autoTransfer) {
            for (Output.StateTransferRequest t : out.stateTransfer()) {
                transfer(i, t);
            }
        }
    }

    /**
     * Executes batches in the order the replica handed them out, as the node's core loop does
     * (it queues events). Reporting one batch executed can make the replica hand out the next
     * (an anchor it waited for is now executed, so a held PREPARE goes out and its slot may
     * commit); that step runs inside this one, so its batches wait behind the ones already
     * handed out instead of running first.
     */
    private void executeInOrder(int i, List<Output.CommittedBatch> batches) {
        App app = apps.get(i);
        app.queued.addAll(batches);
        if (app.executing) {
            return;
        }
        app.executing = true;
        try {
            while (!app.queued.isEmpty()) {
                Output.CommittedBatch b = app.queued.poll();
                Digest d = app.execute(b);
                step(i, new Event.Executed(b.sequence(), d));
                if (!crashed.contains(i)) {
                    afterExecuted.accept(i, b.sequence());
                }
            }
        } finally {
            app.executing = false;
        }
    }

    /** Copies the application prefix up to t.sequence() from a replica that has it with the right digest. */
    void transfer(int i, Output.StateTransferRequest t) {
        for (int j = 0; j < n; j++) {
            App src = apps.get(j);
            if (j != i && t.digest().equals(src.digests.get(t.sequence()))) {
                App dst = apps.get(i);
                if (dst.height >= t.sequence()) {
                    return;
                }
                dst.executed.clear();
                dst.digests.clear();
                dst.executedIds.clear();
                for (Output.CommittedBatch b : src.executed) {
                    if (b.sequence() <= t.sequence()) {
                        dst.executed.add(b);
                        b.requests().forEach(r -> dst.executedIds.add(r.id()));
                        dst.digests.put(b.sequence(), src.digests.get(b.sequence()));
                    }
                }
                dst.height = t.sequence();
                dst.state = t.digest();
                List<Digest> ids = new ArrayList<>();
                dst.executed.forEach(b -> b.requests().forEach(r -> ids.add(r.id())));
                step(i, transferReportsIds ? new Event.StateTransferred(t.sequence(), t.digest(), ids)
                        : new Event.StateTransferred(t.sequence(), t.digest()));
                afterExecuted.accept(i, t.sequence());
                return;
            }
        }
    }

    void request(int i, Request r) {
        Verdict<Request> v = verifier.verifyRequest(r);
        assertTrue(v.accepted(), () -> "request rejected: " + v);
        step(i, new Event.ClientRequest(r));
    }

    /** A client sends the request to every replica, as the SDK does. */
    void submit(Request r) {
        for (int i = 0; i < n; i++) {
            request(i, r);
        }
    }

    boolean blocked(Envelope e) {
        return isolated.contains(e.from) || isolated.contains(e.to) || crashed.contains(e.to)
                || cuts.contains(List.of(e.from, e.to)) || dropIf.test(e);
    }

    /** Delivers queued messages until none are left; returns how many were delivered. */
    int deliverAll() {
        int delivered = 0;
        while (!queue.isEmpty()) {
            Envelope e = queue.poll();
            if (blocked(e)) {
                continue;
            }
            deliver(e);
            if (++delivered > 2_000_000) {
                fail("message storm");
            }
        }
        return delivered;
    }

    void deliver(Envelope e) {
        Verdict<Signed<?>> v = verifier.verify(e.wire());
        if (v instanceof Verdict.Rejected<Signed<?>> r) {
            rejections.get(e.to).add(new Output.Rejection(r.reason(), r.detail(), e.from));
            return;
        }
        step(e.to, new Event.PeerMessage(v.value()));
    }

    /** Every live replica ticks once per round, delivering between rounds. */
    void tick(int rounds) {
        for (int k = 0; k < rounds; k++) {
            now += 10;
            for (int i = 0; i < n; i++) {
                step(i, new Event.Tick(now));
            }
            deliverAll();
        }
    }

    void crash(int i) {
        crashed.add(i);
    }

    /** Delivers queued messages in a seeded random order until none are left. */
    int deliverAllShuffled(java.util.Random random) {
        int delivered = 0;
        List<Envelope> pool = new ArrayList<>();
        while (!queue.isEmpty() || !pool.isEmpty()) {
            pool.addAll(queue);
            queue.clear();
            Envelope e = pool.remove(random.nextInt(pool.size()));
            if (!blocked(e)) {
                deliver(e);
                delivered++;
            }
        }
        return delivered;
    }

    void isolate(int i) {
        isolated.add(i);
    }

    void cut(int a, int b) {
        cuts.add(List.of(a, b));
        cuts.add(List.of(b, a));
    }

    void heal() {
        isolated.clear();
        cuts.clear();
        dropIf = e -> false;
    }

    /** Replaces replica i with one rebuilt from its persisted records, as after a crash. */
    void restart(int i) {
        crashed.remove(i);
        // Through the WAL byte layout, as the node would read the records back.
        PersistCodec codec = new PersistCodec(base);
        List<PersistRecord> records = new ArrayList<>();
        for (PersistRecord p : persisted.get(i)) {
            try {
                records.add(codec.decode(PersistCodec.encode(p)));
            } catch (MalformedMessageException e) {
                throw new AssertionError("own WAL record does not decode", e);
            }
        }
        App app = apps.get(i);
        Replica r = Replica.restore(base.withReplica(i, keys.get(i)), id -> app.executedIds.contains(id), app.digests::get,
                records, app.height, SigningFloor.NONE);
        replicas.set(i, r);
        r.checkInvariants();
        handle(i, r.resume());
        afterExecuted.accept(i, app.height);
    }

    /**
     * Replaces replica i with one that lost every record it persisted (its WAL) but kept its
     * application state, restored under {@code floor}, as a node started non-voting would be.
     */
    void restartWithoutWal(int i, SigningFloor floor) {
        crashed.remove(i);
        persisted.get(i).clear();
        persistedWires.get(i).clear();
        App app = apps.get(i);
        Replica r = Replica.restore(base.withReplica(i, keys.get(i)), id -> app.executedIds.contains(id), app.digests::get,
                List.of(), app.height, floor);
        replicas.set(i, r);
        r.checkInvariants();
        handle(i, r.resume());
        afterExecuted.accept(i, app.height);
    }

    List<Digest> executedIds(int i) {
        List<Digest> ids = new ArrayList<>();
        for (Output.CommittedBatch b : apps.get(i).executed) {
            b.requests().forEach(r -> ids.add(r.id()));
        }
        return ids;
    }

    /** Agreement: every two replicas' executed batches agree on the common prefix. */
    void assertAgreement() {
        for (int i = 0; i < n; i++) {
            for (int j = i + 1; j < n; j++) {
                for (var e : apps.get(i).digests.entrySet()) {
                    Digest other = apps.get(j).digests.get(e.getKey());
                    if (other != null) {
                        assertEquals(e.getValue(), other, "replicas " + i + " and " + j + " diverge at " + e.getKey());
                    }
                }
            }
        }
    }

    /** The commit certificate of every batch this epoch executed verifies under the ledger's rule. */
    void assertCertificates(int i) {
        for (Output.CommittedBatch b : apps.get(i).executed) {
            if (b.sequence() <= base.startSequence()) {
                continue; // the previous validator set signed those
            }
            Set<Integer> signers = new HashSet<>();
            for (Output.CommitSignature s : b.certificate()) {
                assertTrue(new bftledger.crypto.CommitVote(b.view(), b.sequence(), b.digest(), s.replica())
                        .verify(keys.get(s.replica()).publicKey(), s.signature()), "certificate signature");
                signers.add(s.replica());
            }
            assertTrue(signers.size() >= base.quorum(), "certificate of " + b.sequence() + " has " + signers.size());
            assertEquals(bftledger.crypto.BatchDigest.of(b.timestampMillis(),
                    b.requests().stream().map(Request::id).toList(), b.anchor()), b.digest());
        }
    }

    long sentCount(int i, MessageType type) {
        return sent.get(i).stream().filter(m -> m.type() == type).count();
    }
}
