package bftledger.sim;

import bftledger.crypto.Digest;
import bftledger.crypto.KeyPair;
import bftledger.crypto.PublicKey;
import bftledger.crypto.Sha256;
import bftledger.pbft.Checkpoint;
import bftledger.pbft.Commit;
import bftledger.pbft.Config;
import bftledger.pbft.Event;
import bftledger.pbft.MessageType;
import bftledger.pbft.MessageVerifier;
import bftledger.pbft.Output;
import bftledger.pbft.MalformedMessageException;
import bftledger.pbft.MessageCodec;
import bftledger.pbft.PersistCodec;
import bftledger.pbft.PersistRecord;
import bftledger.pbft.PrePrepare;
import bftledger.pbft.Prepare;
import bftledger.pbft.Replica;
import bftledger.pbft.Request;
import bftledger.pbft.RequestValidator;
import bftledger.pbft.Signed;
import bftledger.pbft.Verdict;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * A deterministic simulation of n PBFT cores, in the spirit of TigerBeetle's VOPR: virtual time
 * in ticks, one seeded generator for every choice, a {@link Network} that drops, delays,
 * duplicates, reorders and partitions, clients that sign requests and resubmit until f+1
 * replicas executed them, crashes and restarts from exactly what a replica persisted, state
 * transfer by copying a verified prefix, and Byzantine strategies between some cores and the
 * wire. Every message goes through its bytes and pbft's {@link MessageVerifier} before a core
 * sees it, as in the node; each distinct wire message is verified once and the verdict cached.
 * After every step the core's invariants are checked; after the run, the {@link Checkers}.
 * One instance runs once, on one thread.
 */
public final class Simulation {
    /** Deliveries after which a run counts as a message storm (a bug: cores must be quiet when idle). */
    static final long DELIVERIES_MAX = 3_000_000;
    private static final long BASE_MILLIS = 1_700_000_000_000L;
    private static final List<KeyPair> REPLICA_KEYS = new ArrayList<>();
    private static final List<KeyPair> CLIENT_KEYS = new ArrayList<>();

    /** One core and what survives its crashes: the WAL and the application. */
    private static final class Node {
        final int index;
        final int id;
        final Config config;
        final ByzantineStrategy strategy;
        final App app;
        /** The consensus WAL and the signing mark, as the node keeps them (see {@link SimWal}). */
        final SimWal wal;
        final Set<ByteBuffer> persisted = new HashSet<>();
        final List<Output.StateTransferRequest> transfers = new ArrayList<>();
        Replica core;
        int incarnation;
        boolean dead;
        long seenHeight;
        long progressTick;
        long syncTick = -1;
        /** Crash right after the next output's records are durable, before any of its messages leave. */
        boolean crashAfterNextPersist;
        /**
         * Executed events not yet stepped. The core may hand out further batches while it is told
         * about earlier ones (Output's contract: executions continue the previous outputs), so,
         * like the node's core loop, every batch handed out is executed before the core hears
         * about the next one, and the Executed events reach it in sequence order.
         */
        final java.util.ArrayDeque<Event> executedToStep = new java.util.ArrayDeque<>();
        boolean steppingExecuted;

        Node(int index, int id, Config config, ByzantineStrategy strategy) {
            this.index = index;
            this.id = id;
            this.config = config;
            this.strategy = strategy;
            this.app = new App(config.genesisDigest());
            this.core = new Replica(config, app::executed, app::stateAt);
            this.wal = new SimWal(index);
        }

        boolean honest() {
            return strategy == null;
        }

        boolean live() {
            return core != null && !dead;
        }

        String name() {
            return honest() ? "r" + id : "r" + id + "*" + (strategy instanceof Twins ? "#" + index : "");
        }
    }

    private record ClientRequest(Request request, int client, int submitTick) {}

    private record SeenKey(int node, MessageType type, long view, long sequence, int signer) {}

    private record Seen(Digest digest, long coreView, long lowWatermark, int incarnation) {}

    private final Scenario scenario;
    private final SplittableRandom random;
    private final int n;
    private final int f;
    private final Config base;
    private final RequestValidator validator;
    private final MessageVerifier verifier;
    private final MessageCodec codec;
    private final Map<ByteBuffer, Verdict<Signed<?>>> verdicts = new HashMap<>();
    private final Network<Object> network;
    private final List<Node> nodes = new ArrayList<>();
    private final List<List<Node>> byId = new ArrayList<>();
    private final List<ClientRequest> requests = new ArrayList<>();
    private final Map<Digest, Long> lastSent = new HashMap<>();
    private final Set<Digest> submitted = new LinkedHashSet<>();
    private final StringBuilder trace;
    private final List<Violation> violations = new ArrayList<>();
    private final Map<SeenKey, Seen> seen = new HashMap<>();
    private final List<Checkers.Equivocation> equivocations = new ArrayList<>();
    private final Set<Checkers.EvidenceKey> recorded = new HashSet<>();
    private final Set<Integer> byzantineIds;
    /** Replicas whose WAL is damaged at their next restart, with how. */
    private final Map<Integer, Scenario.StorageFault.Kind> storageFaultsDue = new HashMap<>();
    private final SecondVotes secondVotes = new SecondVotes();
    /**
     * Whether executions reach a core later than the batch is handed out, with messages stepped
     * in between, as {@link Output}'s contract allows (an application executing on a thread of
     * its own would). Drawn from the seed, so half the runs interleave and half report at once,
     * as the node does.
     */
    private final boolean laggedExecution;
    private boolean fatal;
    private long tick;
    private long deliveries;
    private int viewChanges;

    public Simulation(Scenario scenario, boolean traced) {
        this.scenario = scenario;
        this.random = new SplittableRandom(scenario.seed()).split();
        this.n = scenario.n();
        this.f = scenario.f();
        this.trace = traced ? new StringBuilder() : null;
        this.laggedExecution = new SplittableRandom(~scenario.seed()).nextBoolean();
        this.byzantineIds = Set.copyOf(scenario.byzantine());
        scenario.storageFaults().forEach(s -> storageFaultsDue.put(s.replica(), s.kind()));
        List<PublicKey> validators = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            validators.add(replicaKey(i).publicKey());
        }
        this.base = Config.of(validators, 0, replicaKey(0))
                .withCheckpoints(scenario.checkpointInterval(), scenario.watermarkWindow())
                .withBatching(scenario.batchCountMax(), 4096, 512, Math.min(scenario.pipelineDepthMax(), scenario.watermarkWindow()))
                .withTimeouts(scenario.requestTimeoutTicks(), scenario.viewChangeTimeoutTicks(), scenario.timeoutDoublingsMax())
                .withBuffers(16, 256, 4, 2)
                .withStatusTicks(scenario.statusTicks());
        this.validator = SimRequests.caching(SimRequests.VALIDATOR);
        this.verifier = new MessageVerifier(base, validator);
        this.codec = new MessageCodec(base);
        this.network = new Network<>(random.split());
        List<PublicKey> clients = new ArrayList<>();
        for (int c = 0; c < scenario.clients(); c++) {
            clients.add(clientKey(c).publicKey());
        }
        Collusion collusion = scenario.strategy().equals(Collusion.NAME) ? new Collusion(collusionSideB()) : null;
        for (int i = 0; i < n; i++) {
            byId.add(new ArrayList<>());
            Config config = base.withReplica(i, replicaKey(i));
            if (!scenario.byzantine().contains(i)) {
                addNode(i, config, null);
                continue;
            }
            StrategyContext context = StrategyContext.of(config, random.split());
            if (collusion != null) {
                addNode(i, config, collusion.member(context));
            } else {
                String name = scenario.strategy();
                if (name.equals(Scenario.MIXED)) {
                    List<String> names = Strategies.names();
                    name = names.get(random.nextInt(names.size()));
                }
                ByzantineStrategy strategy = Strategies.create(name, context, clients);
                addNode(i, config, strategy);
                if (strategy instanceof Twins twin) {
                    addNode(i, config, twin.other());
                }
            }
        }
        for (int k = 0; k < scenario.requests(); k++) {
            int client = random.nextInt(scenario.clients());
            Request r = SimRequests.signed(clientKey(client), "client-" + client + " request-" + k + " seed-" + scenario.seed());
            requests.add(new ClientRequest(r, client, random.nextInt(scenario.submitWindowTicks() + 1)));
        }
    }

    public static SimResult run(Scenario scenario, boolean traced) {
        return new Simulation(scenario, traced).run();
    }

    private static synchronized KeyPair replicaKey(int i) {
        while (REPLICA_KEYS.size() <= i) {
            REPLICA_KEYS.add(KeyPair.deterministic("sim-replica-" + REPLICA_KEYS.size()));
        }
        return REPLICA_KEYS.get(i);
    }

    private static synchronized KeyPair clientKey(int i) {
        while (CLIENT_KEYS.size() <= i) {
            CLIENT_KEYS.add(KeyPair.deterministic("sim-client-" + CLIENT_KEYS.size()));
        }
        return CLIENT_KEYS.get(i);
    }

    /** Colluders show the alternate batches to the upper half of the honest replicas. */
    private Set<Integer> collusionSideB() {
        List<Integer> honest = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            if (!scenario.byzantine().contains(i)) {
                honest.add(i);
            }
        }
        return new TreeSet<>(honest.subList(honest.size() / 2, honest.size()));
    }

    private void addNode(int id, Config config, ByzantineStrategy strategy) {
        Node node = new Node(nodes.size(), id, config, strategy);
        nodes.add(node);
        byId.get(id).add(node);
    }

    // ------------------------------------------------------------------------------ main loop

    public SimResult run() {
        note("scenario seed=" + scenario.seed() + " " + scenario.describe());
        for (Node node : nodes) {
            if (!node.honest()) {
                note("r" + node.id + " is Byzantine: " + node.strategy.name()
                        + (node.strategy instanceof Twins t ? " side " + new TreeSet<>(t.side()) : ""));
            }
        }
        note("executions reach the cores " + (laggedExecution ? "once per tick, after the deliveries" : "at once"));
        network.setFaults(scenario.dropProbability(), scenario.duplicateProbability(), 1, scenario.delayMaxTicks());
        long deadline = scenario.deadlineTick();
        for (tick = 0; !fatal; tick++) {
            applyFaults();
            clients();
            deliver();
            if (laggedExecution) {
                for (Node node : nodes) {
                    stepExecuted(node);
                }
            }
            for (Node node : nodes) {
                if (fatal) {
                    break;
                }
                if (node.live()) {
                    step(node, new Event.Tick(BASE_MILLIS + tick * 10));
                }
            }
            retryTransfers();
            syncLagging();
            if (tick >= scenario.faultEndTick() && allExecuted()) {
                break;
            }
            if (tick >= deadline) {
                String states = replicaStates();
                note("t=" + tick + " deadline: " + states);
                for (Violation v : Checkers.liveness(honestHistories(), submittedOrAll(), deadline)) {
                    violations.add(new Violation(v.check(), v.replicas(), v.detail() + "; replicas: " + states));
                }
                break;
            }
        }
        finalChecks();
        return new SimResult(scenario, violations, tick, deliveries, network.sent(), viewChanges,
                equivocations.size(), recorded.size(), fingerprint(),
                trace == null ? "" : trace.toString());
    }

    /** Each core's view, whether it is changing view, h and what it executed: why a run is stuck. */
    private String replicaStates() {
        StringBuilder b = new StringBuilder();
        for (Node node : nodes) {
            b.append(b.length() == 0 ? "" : ", ").append(node.name());
            if (!node.live()) {
                b.append(node.dead ? " stopped" : " down");
                continue;
            }
            b.append(" v").append(node.core.view()).append(node.core.viewActive() ? "" : " changing").append(" h=")
                    .append(node.core.lowWatermark()).append(" exec=").append(node.app.height());
        }
        return b.toString();
    }

    private void applyFaults() {
        for (Scenario.Partition p : scenario.partitions()) {
            if (tick == p.startTick()) {
                Set<Integer> rest = new TreeSet<>();
                for (int i = 0; i < n; i++) {
                    if (!p.sideA().contains(i)) {
                        rest.add(i);
                    }
                }
                network.partition(List.of(p.sideA(), rest));
                note("t=" + tick + " network partitioned " + new TreeSet<>(p.sideA()) + " | " + rest);
            }
            if (tick == p.endTick() && tick < scenario.faultEndTick()) {
                network.heal();
                note("t=" + tick + " partition healed");
            }
        }
        for (Scenario.Crash c : scenario.crashes()) {
            if (tick == c.crashTick()) {
                // Half the crashes land between persisting an output and sending it: the worst
                // moment for the WAL contract, since peers never see what the replica promised.
                boolean midOutput = random.nextBoolean();
                for (Node node : byId.get(c.replica())) {
                    if (midOutput) {
                        node.crashAfterNextPersist = true;
                    } else {
                        crash(node);
                    }
                }
            }
            if (tick == c.restartTick() && tick < scenario.faultEndTick()) {
                for (Node node : byId.get(c.replica())) {
                    node.crashAfterNextPersist = false;
                    restart(node);
                }
            }
        }
        if (tick == scenario.faultEndTick()) {
            network.heal();
            network.setFaults(0, 0, 1, scenario.delayMaxTicks());
            note("t=" + tick + " faults end: network healed, no more loss or duplication");
            for (Node node : nodes) {
                node.crashAfterNextPersist = false;
                if (node.core == null) {
                    restart(node);
                }
            }
        }
    }

    private void clients() {
        for (ClientRequest c : requests) {
            Digest id = c.request().id();
            Long last = lastSent.get(id);
            boolean due = last == null ? tick == c.submitTick()
                    : tick - last >= scenario.resubmitTicks() && executedBy(id) < f + 1;
            if (!due) {
                continue;
            }
            lastSent.put(id, tick);
            submitted.add(id);
            note("t=" + tick + " client " + c.client() + (last == null ? " submits " : " resubmits ") + id.shortHex());
            for (int i = 0; i < n; i++) {
                network.send(n + c.client(), i, c.request(), tick, 0);
            }
        }
    }

    private int executedBy(Digest id) {
        int count = 0;
        for (List<Node> replicas : byId) {
            for (Node node : replicas) {
                if (node.app.executed(id)) {
                    count++;
                    break;
                }
            }
        }
        return count;
    }

    private void deliver() {
        for (Network.Packet<Object> p : network.due(tick)) {
            if (fatal) {
                return;
            }
            if (++deliveries > DELIVERIES_MAX) {
                fail("storm", List.of(), "more than " + DELIVERIES_MAX + " deliveries by tick " + tick);
                return;
            }
            if (p.payload() instanceof Request r) {
                deliverRequest(p.to(), r);
            } else {
                deliverPeer(p.from(), p.to(), (byte[]) p.payload());
            }
        }
    }

    private void deliverRequest(int to, Request request) {
        Verdict<Request> verdict = verifier.verifyRequest(request);
        for (Node node : byId.get(to)) {
            if (!node.live() || !verdict.accepted()) {
                continue;
            }
            if (node.strategy != null && !node.strategy.admitRequest(request)) {
                continue;
            }
            step(node, new Event.ClientRequest(request));
        }
    }

    private void deliverPeer(int from, int to, byte[] wire) {
        Verdict<Signed<?>> verdict;
        ByteBuffer key = ByteBuffer.wrap(wire);
        verdict = verdicts.get(key);
        if (verdict == null) {
            try {
                verdict = verifier.verify(wire);
            } catch (RuntimeException e) {
                fail("verifier-crash", List.of(to, from), "MessageVerifier threw on " + wire.length + " bytes from "
                        + from + ": " + e);
                return;
            }
            verdicts.put(key, verdict);
        }
        for (Node node : byId.get(to)) {
            if (!node.live() || (node.strategy != null && !node.strategy.hears(from))) {
                continue;
            }
            if (verdict instanceof Verdict.Rejected<Signed<?>> rejected) {
                if (trace != null) {
                    note("t=" + tick + " " + node.name() + " <- " + from + " " + wire.length + "B refused by verifier: "
                            + rejected.reason() + " (" + rejected.detail() + ")");
                }
                continue;
            }
            Signed<?> m = verdict.value();
            if (node.honest()) {
                watchForEquivocation(node, m);
            }
            step(node, new Event.PeerMessage(m));
        }
    }

    // ------------------------------------------------------------------------------ one core

    private void step(Node node, Event event) {
        if (fatal || !node.live()) {
            return;
        }
        Output out;
        long viewBefore = node.core.view();
        try {
            out = node.core.step(event);
            node.core.checkInvariants();
        } catch (RuntimeException e) {
            coreFailed(node, "on " + describe(event), e);
            return;
        }
        if (node.core.view() > viewBefore && node.honest()) {
            viewChanges++;
        }
        if (node.honest()) {
            List<Violation> bound = Checkers.logBound(node.id, node.core.logSize(), node.config.watermarkWindow(), tick);
            if (!bound.isEmpty()) {
                violations.addAll(bound);
                fatal = true;
                return;
            }
        }
        if (trace != null && !(event instanceof Event.Tick && out.isEmpty())) {
            note("t=" + tick + " " + node.name() + " " + describe(event) + " (view " + node.core.view()
                    + (node.core.viewActive() ? "" : " changing") + ", h=" + node.core.lowWatermark() + ", executed "
                    + node.core.lastExecuted() + ")" + Describe.output(out));
        }
        handle(node, out);
    }

    private void coreFailed(Node node, String when, RuntimeException e) {
        if (node.honest()) {
            fail("core-crash", List.of(node.id), "honest core threw " + when + ": " + e);
        } else {
            // A Byzantine replica's core may be driven into states no honest core reaches (twins
            // hearing their own signatures); it just stops, like a crashed Byzantine node.
            node.dead = true;
            note("t=" + tick + " " + node.name() + " (Byzantine) core stopped " + when + ": " + e);
        }
    }

    private void handle(Node node, Output out) {
        node.wal.append(out.persist(), node.config.watermarkWindow());
        for (PersistRecord r : out.persist()) {
            if (r instanceof PersistRecord.OwnMessage own) {
                node.persisted.add(ByteBuffer.wrap(own.message().wire()));
            }
        }
        if (node.crashAfterNextPersist && !out.persist().isEmpty()) {
            node.crashAfterNextPersist = false;
            note("t=" + tick + " " + node.name() + " crashes after persisting, before sending " + out.messages().size()
                    + " messages and executing " + out.execute().size() + " batches");
            crash(node);
            return;
        }
        if (node.honest()) {
            for (Output.Evidence e : out.evidence()) {
                recorded.add(new Checkers.EvidenceKey(e.replica(), e.type(), e.view(), e.sequence()));
                List<Violation> framed = Checkers.falseEvidence(node.id, e, byzantineIds, verifier);
                if (!framed.isEmpty()) {
                    violations.addAll(framed);
                    fatal = true;
                    return;
                }
            }
        }
        for (Output.Outbound o : out.messages()) {
            Signed<?> m = o.message();
            byte[] wire = m.wire();
            // A STATUS carries no vote (pbft's Status says so): the only message exempt from the WAL.
            if (node.honest() && m.signer() == node.id && m.type() != MessageType.STATUS
                    && !node.persisted.contains(ByteBuffer.wrap(wire))) {
                fail("persist-before-send", List.of(node.id), "sent " + Describe.message(m) + " before persisting it");
                return;
            }
            if (node.honest() && m.signer() == node.id) {
                secondVotes.sent(node.id, m, tick);
            }
            for (int to = 0; to < n; to++) {
                if (to == node.id || (!o.broadcast() && o.to() != to)) {
                    continue;
                }
                if (node.strategy == null) {
                    network.send(node.id, to, wire, tick, 0);
                } else {
                    List<Send> sends = node.strategy.onSend(m, to);
                    if (trace != null) {
                        traceStrategy(node, m, wire, to, sends);
                    }
                    for (Send s : sends) {
                        network.send(node.id, s.to(), s.wire(), tick, s.delayTicks());
                    }
                }
            }
        }
        for (Output.CommittedBatch b : out.execute()) {
            if (fatal || !node.live()) {
                return;
            }
            if (b.sequence() <= node.app.height()) {
                continue; // overtaken by a state transfer
            }
            if (b.sequence() != node.app.height() + 1) {
                if (node.honest()) {
                    fail("execution-order", List.of(node.id), "handed sequence " + b.sequence() + " at height " + node.app.height());
                }
                return;
            }
            Digest state = node.app.execute(b);
            node.executedToStep.add(new Event.Executed(b.sequence(), state));
        }
        if (!laggedExecution) {
            stepExecuted(node);
        }
        if (!out.stateTransfer().isEmpty() && node.live()) {
            node.transfers.addAll(out.stateTransfer());
            tryTransfers(node);
        }
    }

    /** What a Byzantine strategy put on the wire instead of what its core asked for, when different. */
    private void traceStrategy(Node node, Signed<?> m, byte[] wire, int to, List<Send> sends) {
        if (sends.isEmpty()) {
            note("t=" + tick + " " + node.name() + " withholds from " + to + ": " + Describe.message(m));
            return;
        }
        for (Send s : sends) {
            if (s.to() != to || s.delayTicks() > 0 || !java.util.Arrays.equals(s.wire(), wire)) {
                String what;
                try {
                    what = Describe.message(codec.decode(s.wire()));
                } catch (MalformedMessageException e) {
                    what = s.wire().length + " bytes that do not decode (" + e.reason() + ")";
                }
                note("t=" + tick + " " + node.name() + " sends ->" + s.to() + " " + what
                        + (s.delayTicks() > 0 ? " held " + s.delayTicks() + " ticks" : "") + " [" + node.strategy.name() + "]");
            }
        }
    }

    /**
     * Steps the executions {@code node}'s core has not heard of yet, in order (a lagged run
     * reports them here, once per tick and before any state transfer, as the node's core thread
     * waits for its execution thread before it appends fetched blocks).
     */
    private void stepExecuted(Node node) {
        if (node.steppingExecuted) {
            return;
        }
        node.steppingExecuted = true;
        try {
            while (!node.executedToStep.isEmpty() && !fatal && node.live()) {
                step(node, node.executedToStep.poll());
            }
        } finally {
            if (fatal || !node.live()) {
                node.executedToStep.clear(); // a stopped core hears of none of them; a restarted one redoes them
            }
            node.steppingExecuted = false;
        }
    }

    private void tryTransfers(Node node) {
        for (Output.StateTransferRequest t : List.copyOf(node.transfers)) {
            if (fatal || !node.live()) {
                return;
            }
            if (node.app.height() >= t.sequence()) {
                node.transfers.remove(t);
                continue;
            }
            if (node.honest()) {
                String problem = transferProofProblem(t);
                if (problem != null) {
                    fail("state-transfer-proof", List.of(node.id), "asked to transfer to " + t.sequence() + " on a bad proof: "
                            + problem);
                    return;
                }
            }
            for (Node source : nodes) {
                if (source != node && t.digest().equals(source.app.stateAt(t.sequence()))) {
                    stepExecuted(node);
                    if (fatal || !node.live()) {
                        return;
                    }
                    node.transfers.remove(t);
                    node.app.copyPrefix(source.app, t.sequence());
                    note("t=" + tick + " " + node.name() + " state transfer to s" + t.sequence() + " from " + source.name());
                    step(node, new Event.StateTransferred(t.sequence(), t.digest()));
                    break;
                }
            }
        }
    }

    /**
     * The output contract: at least f+1 valid CHECKPOINTs from distinct replicas for exactly
     * (sequence, digest), so at least one correct replica vouches for the state to fetch.
     */
    private String transferProofProblem(Output.StateTransferRequest t) {
        Set<Integer> signers = new HashSet<>();
        for (Signed<Checkpoint> c : t.proof()) {
            Verdict<Signed<?>> v = verifier.verify(c);
            if (!v.accepted()) {
                return "checkpoint from " + c.signer() + " invalid: " + v;
            }
            if (c.payload().sequence() != t.sequence() || !c.payload().stateDigest().equals(t.digest())) {
                return "checkpoint from " + c.signer() + " is for s" + c.payload().sequence() + " "
                        + c.payload().stateDigest().shortHex();
            }
            signers.add(c.signer());
        }
        return signers.size() >= f + 1 ? null : signers.size() + " distinct checkpoints, need f+1 = " + (f + 1);
    }

    private void retryTransfers() {
        for (Node node : nodes) {
            if (!node.transfers.isEmpty() && node.live()) {
                tryTransfers(node);
            }
        }
    }

    /**
     * The node's catch-up, which the core does not do itself: a replica whose execution has not
     * moved for a while and is behind some peer fetches that peer's blocks, checks each one's
     * commit certificate ({@link BlockCheck}), executes them, and tells its core with
     * {@link Event.StateTransferred}. Without it a replica that missed the last commits (crash,
     * partition) would wait for traffic that never comes once the clients are satisfied.
     */
    private void syncLagging() {
        long idle = 2L * scenario.requestTimeoutTicks();
        Node best = null;
        for (Node node : nodes) {
            if (node.app.height() != node.seenHeight) {
                node.seenHeight = node.app.height();
                node.progressTick = tick;
            }
            if (best == null || node.app.height() > best.app.height()) {
                best = node;
            }
        }
        for (Node node : nodes) {
            if (fatal || !node.live() || node == best || node.app.height() >= best.app.height()
                    || tick - node.progressTick < idle || tick - node.syncTick < idle) {
                continue;
            }
            node.syncTick = tick;
            stepExecuted(node);
            if (fatal || !node.live()) {
                continue;
            }
            long from = node.app.height();
            while (node.app.height() < best.app.height()) {
                Output.CommittedBatch block = best.app.at(node.app.height() + 1).block();
                var problem = BlockCheck.problem(base, block);
                if (problem.isPresent()) {
                    if (best.honest()) {
                        fail("block-certificate", List.of(best.id), "block " + block.sequence() + ": " + problem.get());
                    }
                    break;
                }
                node.app.execute(block);
            }
            if (node.app.height() > from) {
                note("t=" + tick + " " + node.name() + " syncs blocks s" + (from + 1) + "..s" + node.app.height()
                        + " from " + best.name());
                step(node, new Event.StateTransferred(node.app.height(), node.app.state()));
            }
        }
    }

    private void crash(Node node) {
        if (node.core == null) {
            return;
        }
        node.core = null;
        node.transfers.clear();
        node.executedToStep.clear(); // executions the crashed core never heard of are redone after restart
        note("t=" + tick + " " + node.name() + " CRASHES (WAL " + node.wal.size() + " records, height " + node.app.height() + ")");
    }

    private void restart(Node node) {
        if (node.core != null || node.dead) {
            return;
        }
        node.incarnation++;
        Output out;
        try {
            Scenario.StorageFault.Kind fault = storageFaultsDue.remove(node.id);
            if (fault != null) {
                node.wal.damage(fault, random);
                note("t=" + tick + " " + node.name() + " STORAGE FAULT " + fault + " (WAL now " + node.wal.size() + " records)");
            }
            SimWal.Restart restart;
            try {
                restart = node.wal.restart(new PersistCodec(node.config));
            } catch (MalformedMessageException e) {
                fail("wal-decode", List.of(node.id), "own WAL record with a valid checksum does not decode: " + e.getMessage());
                return;
            }
            if (restart.setAside() != null) {
                note("t=" + tick + " " + node.name() + " sets its WAL aside and rejoins NON-VOTING under floor (view "
                        + restart.floor().view() + ", sequence " + restart.floor().sequence() + "): " + restart.setAside());
            }
            node.core = Replica.restore(node.config, node.app::executed, node.app::stateAt, restart.records(), node.app.height(),
                    restart.floor());
            node.core.checkInvariants();
            out = node.core.resume();
            node.core.checkInvariants();
        } catch (RuntimeException e) {
            if (node.core == null) {
                node.core = new Replica(node.config, node.app::executed, node.app::stateAt);
            }
            coreFailed(node, "restarting", e);
            return;
        }
        note("t=" + tick + " " + node.name() + " RESTARTS in view " + node.core.view() + " h=" + node.core.lowWatermark()
                + Describe.output(out));
        handle(node, out);
    }

    // ------------------------------------------------------------------------------ checks

    /**
     * Remembers the first message an honest core accepted for each (sender, type, view,
     * sequence) while that message was current for it; a later conflicting one that is current
     * in the same view, window and incarnation must produce evidence. Messages that arrive while
     * the core cannot compare them (other view, outside the window, after a restart) are not
     * counted: the core is not asked to keep what it has legitimately discarded.
     */
    private void watchForEquivocation(Node node, Signed<?> m) {
        MessageType type = m.type();
        long view;
        long sequence;
        Digest digest;
        if (m.payload() instanceof PrePrepare p) {
            view = p.view();
            sequence = p.sequence();
            digest = p.digest();
        } else if (m.payload() instanceof Prepare p) {
            view = p.view();
            sequence = p.sequence();
            digest = p.digest();
        } else if (m.payload() instanceof Commit c) {
            view = c.view();
            sequence = c.sequence();
            digest = c.digest();
        } else if (m.payload() instanceof Checkpoint c) {
            view = 0;
            sequence = c.sequence();
            digest = c.stateDigest();
        } else {
            return;
        }
        if (m.signer() == node.id) {
            return;
        }
        Replica core = node.core;
        long h = core.lowWatermark();
        boolean inWindow = sequence > h && sequence <= h + node.config.watermarkWindow();
        boolean current = type == MessageType.CHECKPOINT ? inWindow : inWindow && view == core.view() && core.viewActive();
        SeenKey key = new SeenKey(node.index, type, view, sequence, m.signer());
        Seen previous = seen.get(key);
        if (previous == null) {
            if (current) {
                seen.put(key, new Seen(digest, core.view(), h, node.incarnation));
            }
        } else if (current && !previous.digest().equals(digest) && previous.coreView() == core.view()
                && previous.lowWatermark() == h && previous.incarnation() == node.incarnation) {
            equivocations.add(new Checkers.Equivocation(m.signer(), type, view, sequence, node.id));
        }
    }

    private void finalChecks() {
        Map<Integer, List<App.Executed>> histories = honestHistories();
        violations.addAll(Checkers.agreement(histories));
        Map<Integer, java.util.SortedMap<Long, Digest>> executedHere = new TreeMap<>();
        for (Node node : nodes) {
            if (node.honest()) {
                executedHere.put(node.id, node.app.executedHere());
            }
        }
        violations.addAll(Checkers.agreementEver(executedHere));
        violations.addAll(Checkers.validity(histories, submitted, validator));
        violations.addAll(Checkers.integrity(histories));
        violations.addAll(Checkers.evidence(equivocations, recorded));
        violations.addAll(secondVotes.violations());
    }

    private Map<Integer, List<App.Executed>> honestHistories() {
        Map<Integer, List<App.Executed>> out = new TreeMap<>();
        for (Node node : nodes) {
            if (node.honest()) {
                out.put(node.id, node.app.history());
            }
        }
        return out;
    }

    private List<Digest> submittedOrAll() {
        List<Digest> all = new ArrayList<>();
        for (ClientRequest c : requests) {
            all.add(c.request().id());
        }
        return all;
    }

    private boolean allExecuted() {
        if (submitted.size() < requests.size()) {
            return false;
        }
        for (Node node : nodes) {
            if (!node.honest()) {
                continue;
            }
            for (ClientRequest c : requests) {
                if (!node.app.executed(c.request().id())) {
                    return false;
                }
            }
        }
        return true;
    }

    private void fail(String check, List<Integer> replicas, String detail) {
        violations.add(new Violation(check, replicas, detail + " (tick " + tick + ")"));
        note("t=" + tick + " FAILED " + check + ": " + detail);
        fatal = true;
    }

    private void note(String line) {
        if (trace != null) {
            trace.append(line).append('\n');
        }
    }

    private static String describe(Event e) {
        if (e instanceof Event.PeerMessage m) {
            return "<- " + Describe.message(m.message());
        } else if (e instanceof Event.ClientRequest r) {
            return "<- request " + r.request().id().shortHex();
        } else if (e instanceof Event.Tick) {
            return "tick";
        } else if (e instanceof Event.Executed x) {
            return "executed s" + x.sequence() + " state " + x.stateDigest().shortHex();
        } else if (e instanceof Event.StateTransferred s) {
            return "state transferred to s" + s.sequence();
        } else if (e instanceof Event.EpochEnds x) {
            return "epoch ends at s" + x.lastSequence();
        }
        return String.valueOf(e);
    }

    private String fingerprint() {
        List<byte[]> parts = new ArrayList<>();
        for (Node node : nodes) {
            parts.add(node.app.state().bytes());
            parts.add(ByteBuffer.allocate(16).putLong(node.app.height()).putLong(node.core == null ? -1 : node.core.view()).array());
        }
        parts.add(ByteBuffer.allocate(24).putLong(tick).putLong(deliveries).putLong(network.sent()).array());
        return Sha256.hash(parts.toArray(new byte[0][])).hex();
    }
}
