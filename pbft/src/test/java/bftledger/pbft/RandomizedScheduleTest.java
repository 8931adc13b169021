package bftledger.pbft;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.function.LongConsumer;
import org.junit.jupiter.api.Test;

/**
 * Seeded random schedules over the in-memory network: reordering, drops, duplicates, a crashed
 * and restarted replica, partitions that heal. Checked: invariants after every step (by the
 * harness), agreement always, and after healing every request executed at a quorum of replicas
 * at least, or with an epoch end, every replica at exactly that end. Replay one seed with
 * -Dbftledger.seed=N.
 */
class RandomizedScheduleTest {

    @Test
    void randomSchedulesKeepAgreementAndRecover() {
        forEachSeed(this::run);
    }

    @Test
    void oneByzantineReplicaCannotBreakAgreement() {
        forEachSeed(this::runByzantine);
    }

    @Test
    void randomSchedulesEndTheEpochExactlyWhereTheLedgerSays() {
        forEachSeed(this::runEpochEnd);
    }

    /**
     * Runs {@code schedule} for {@code bftledger.runs} consecutive seeds (12 by default) from a
     * fresh one, or once for {@code -Dbftledger.seed=N}; a failure names the seed that replays it.
     */
    private static void forEachSeed(LongConsumer schedule) {
        Long fixed = Long.getLong("bftledger.seed");
        long first = fixed != null ? fixed : new Random().nextLong();
        int runs = fixed != null ? 1 : Integer.getInteger("bftledger.runs", 12);
        for (int k = 0; k < runs; k++) {
            long seed = first + k;
            try {
                schedule.accept(seed);
            } catch (AssertionError | RuntimeException e) {
                throw new AssertionError("seed " + seed + " (replay with -Dbftledger.seed=" + seed + ")", e);
            }
        }
    }

    /**
     * One replica (often the primary) signs conflicting pre-prepares, votes for random digests,
     * drops or repeats its messages. The honest replicas must agree, record evidence of what
     * reached them, and keep ordering requests.
     */
    private void runByzantine(long seed) {
        java.util.SplittableRandom random = new java.util.SplittableRandom(seed);
        int f = 1 + random.nextInt(2);
        Cluster c = new Cluster(f, cfg -> cfg.withTimeouts(6, 6, 3).withCheckpoints(2, 6)
                .withBatching(3, 1 << 20, 1 << 16, 3).withBuffers(64, 1000, 4, 4).withStatusTicks(5));
        int byz = random.nextInt(3) == 0 ? 1 + random.nextInt(c.n - 1) : 0;
        MessageFactory evil = c.factory(byz);
        c.tamper = e -> {
            if (e.from() != byz) {
                return List.of(e);
            }
            Signed<?> m = ViewChangeTest.decode(c, e.wire());
            int dice = random.nextInt(10);
            if (dice == 0) {
                return List.of();
            }
            if (dice == 1) {
                return List.of(e, e);
            }
            if (dice < 5) {
                Signed<?> twin = null;
                if (m.payload() instanceof PrePrepare pp) {
                    twin = evil.prePrepare(pp.view(), pp.sequence(),
                            new Batch(pp.batch().timestampMillis() + 1 + random.nextInt(3), pp.batch().requests()));
                } else if (m.payload() instanceof Prepare pr) {
                    twin = evil.prepare(pr.view(), pr.sequence(), Fixtures.digest(random.nextInt(3)));
                } else if (m.payload() instanceof Commit cm) {
                    twin = evil.commit(cm.view(), cm.sequence(), Fixtures.digest(random.nextInt(3)));
                } else if (m.payload() instanceof Checkpoint cp) {
                    twin = evil.checkpoint(cp.sequence(), Fixtures.digest(random.nextInt(3)));
                }
                if (twin != null) {
                    return List.of(new Cluster.Envelope(byz, e.to(), twin.wire()));
                }
            }
            return List.of(e);
        };
        List<Request> submitted = new ArrayList<>();
        for (int round = 0; round < 30; round++) {
            if (random.nextInt(2) == 0) {
                Request r = TestRequests.signed("b" + seed + "-" + round);
                submitted.add(r);
                c.submit(r);
            }
            int budget = random.nextInt(300);
            while (budget-- > 0 && !c.queue.isEmpty()) {
                List<Cluster.Envelope> pool = new ArrayList<>(c.queue);
                c.queue.clear();
                Cluster.Envelope e = pool.remove(random.nextInt(pool.size()));
                c.queue.addAll(pool);
                c.deliver(e);
            }
            c.now += 10;
            for (int i = 0; i < c.n; i++) {
                c.step(i, new Event.Tick(c.now));
            }
        }
        for (Request r : submitted) {
            c.submit(r);
        }
        for (int round = 0; round < 300 && !enoughExecuted(c, submitted); round++) {
            c.tick(1);
        }
        c.assertAgreement();
        for (int i = 0; i < c.n; i++) {
            for (Output.Evidence e : c.evidence.get(i)) {
                assertTrue(e.replica() == byz, "evidence only against the Byzantine replica, got " + e.replica());
            }
            java.util.List<bftledger.crypto.Digest> ids = c.executedIds(i);
            if (Boolean.getBoolean("bftledger.stats") && new HashSet<>(ids).size() != ids.size()) {
                for (Output.CommittedBatch b : c.apps.get(i).executed) {
                    System.out.println("  seq " + b.sequence() + " view " + b.view() + " "
                            + b.requests().stream().map(r -> r.id().shortHex()).toList());
                }
                System.out.println("  byz=" + byz + " transfers=" + c.transfers.get(i));
            }
            assertTrue(new HashSet<>(ids).size() == ids.size(), "replica " + i + " executed a request twice");
        }
        assertTrue(enoughExecuted(c, submitted), "f=" + f + " byzantine=" + byz + ": requests not executed at a quorum");
    }

    private void run(long seed) {
        java.util.SplittableRandom random = new java.util.SplittableRandom(seed);
        int f = 1 + random.nextInt(2);
        Cluster c = new Cluster(f, cfg -> cfg.withTimeouts(6, 6, 3).withCheckpoints(2, 6)
                .withBatching(3, 1 << 20, 1 << 16, 3).withBuffers(64, 1000, 4, 4).withStatusTicks(5));
        double dropRate = random.nextDouble() * 0.15;
        c.dropIf = e -> random.nextDouble() < dropRate;
        int victim = random.nextInt(c.n);
        int crashAt = 3 + random.nextInt(12);
        List<Request> submitted = new ArrayList<>();
        for (int round = 0; round < 40; round++) {
            if (random.nextInt(3) == 0) {
                Request r = TestRequests.signed("s" + seed + "-" + round);
                submitted.add(r);
                c.submit(r);
            }
            if (round == crashAt || round == crashAt + 17) {
                c.crash(victim);
            }
            if (round == crashAt + 8 || round == crashAt + 20) {
                c.restart(victim);
            }
            if (round == 25) {
                c.isolate(random.nextInt(c.n));
            }
            // Deliver a random part of the queue in random order, sometimes duplicating.
            int budget = random.nextInt(200);
            while (budget-- > 0 && !c.queue.isEmpty()) {
                List<Cluster.Envelope> pool = new ArrayList<>(c.queue);
                c.queue.clear();
                Cluster.Envelope e = pool.remove(random.nextInt(pool.size()));
                c.queue.addAll(pool);
                if (random.nextInt(20) == 0) {
                    c.queue.add(e);
                }
                if (!c.blocked(e)) {
                    c.deliver(e);
                }
            }
            c.now += 10;
            for (int i = 0; i < c.n; i++) {
                c.step(i, new Event.Tick(c.now));
            }
        }
        c.heal();
        // Clients retry: every request goes to every replica again (duplicates are refused).
        for (Request r : submitted) {
            c.submit(r);
        }
        for (int round = 0; round < 200; round++) {
            c.tick(1);
            if (enoughExecuted(c, submitted)) {
                break;
            }
        }
        if (Boolean.getBoolean("bftledger.stats")) {
            long views = c.replicas.stream().mapToLong(Replica::view).max().orElse(0);
            long transfers = c.transfers.stream().mapToLong(List::size).sum();
            long height = c.apps.stream().mapToLong(a -> a.height).max().orElse(0);
            System.out.println("seed " + seed + " f=" + f + " drop=" + String.format("%.2f", dropRate) + " requests="
                    + submitted.size() + " height=" + height + " maxView=" + views + " transfers=" + transfers);
            for (int i = 0; i < c.n; i++) {
                Replica r = c.replica(i);
                System.out.println("  replica " + i + " view=" + r.view() + (r.viewActive() ? "" : "*") + " h=" + r.lowWatermark()
                        + " exec=" + r.lastExecuted() + " deliv=" + r.lastDelivered() + " pending=" + r.pendingRequests()
                        + " log=" + r.logSize() + " buffered=" + r.futureBuffered() + " failedVC=" + r.failedViewChanges()
                        + " transferTarget=" + r.stateTransferTarget() + " app=" + c.apps.get(i).height);
            }
        }
        c.assertAgreement();
        assertTrue(enoughExecuted(c, submitted), "f=" + f + ": not every request executed at a quorum");
    }

    /**
     * Any n from 4 to 7, with drops, duplicates, a crash and restart and a partition; the ledger
     * reveals the epoch's end E when sequence r executes (E at least L+2 above r, as the node
     * chooses it), and each replica is told on executing r, on a state transfer past it or on a
     * restart past it. Every replica ends at exactly E, none votes above it.
     */
    private void runEpochEnd(long seed) {
        java.util.SplittableRandom random = new java.util.SplittableRandom(seed);
        int n = 4 + random.nextInt(4);
        Cluster c = Cluster.ofSize(n, cfg -> cfg.withTimeouts(6, 6, 3).withCheckpoints(2, 6)
                .withBatching(3, 1 << 20, 1 << 16, 3).withBuffers(64, 1000, 4, 4).withStatusTicks(5));
        long revealedAt = 2 + random.nextInt(6);
        long end = revealedAt + 8 + (revealedAt % 2) + 2L * random.nextInt(4);
        c.afterExecuted = (i, s) -> {
            if (s >= revealedAt) {
                c.step(i, new Event.EpochEnds(end));
            }
        };
        double dropRate = random.nextDouble() * 0.15;
        c.dropIf = e -> random.nextDouble() < dropRate;
        int victim = random.nextInt(n);
        int crashAt = 3 + random.nextInt(12);
        for (int round = 0; round < 40; round++) {
            if (random.nextInt(3) == 0) {
                c.submit(TestRequests.signed("e" + seed + "-" + round));
            }
            if (round == crashAt) {
                c.crash(victim);
            }
            if (round == crashAt + 8) {
                c.restart(victim);
            }
            if (round == 25) {
                c.isolate(random.nextInt(n));
            }
            int budget = random.nextInt(200);
            while (budget-- > 0 && !c.queue.isEmpty()) {
                List<Cluster.Envelope> pool = new ArrayList<>(c.queue);
                c.queue.clear();
                Cluster.Envelope e = pool.remove(random.nextInt(pool.size()));
                c.queue.addAll(pool);
                if (random.nextInt(20) == 0) {
                    c.queue.add(e);
                }
                if (!c.blocked(e)) {
                    c.deliver(e);
                }
            }
            c.now += 10;
            for (int i = 0; i < n; i++) {
                c.step(i, new Event.Tick(c.now));
            }
        }
        c.heal();
        for (int round = 0; round < 300 && !c.replicas.stream().allMatch(Replica::epochFinished); round++) {
            c.tick(1);
        }
        c.assertAgreement();
        String where = "n=" + n + " revealed at " + revealedAt + ", end " + end;
        for (int i = 0; i < n; i++) {
            assertTrue(c.replica(i).epochFinished(), where + ": replica " + i + " did not finish");
            assertTrue(c.apps.get(i).height == end, where + ": replica " + i + " at " + c.apps.get(i).height);
            for (Signed<?> m : c.sent.get(i)) {
                long sequence = m.payload() instanceof PrePrepare pp ? pp.sequence()
                        : m.payload() instanceof Prepare p ? p.sequence()
                        : m.payload() instanceof Commit cm ? cm.sequence()
                        : m.payload() instanceof Checkpoint cp ? cp.sequence() : 0;
                assertTrue(sequence <= end, where + ": replica " + i + " sent " + m.type() + " for " + sequence);
            }
            List<bftledger.crypto.Digest> ids = c.executedIds(i);
            assertTrue(new HashSet<>(ids).size() == ids.size(), where + ": replica " + i + " executed a request twice");
        }
    }

    private static boolean enoughExecuted(Cluster c, List<Request> submitted) {
        for (Request r : submitted) {
            int have = 0;
            for (int i = 0; i < c.n; i++) {
                Set<Object> ids = new HashSet<>(c.executedIds(i));
                if (ids.contains(r.id())) {
                    have++;
                }
            }
            if (have < c.base.quorum()) {
                return false;
            }
        }
        return true;
    }
}
