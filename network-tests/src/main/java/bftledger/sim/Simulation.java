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
 *
 * <p>Validator-set changes ({@link Membership}): replicas run on machines (network endpoints
 * 0..machines-1) that keep their application across epochs. A change executes as the operator's
 * request; every replica of the set in force tells its core {@link Event.EpochEnds} as soon as
 * its application executed it, and hands over once it executed the end: a member of the next set
 * starts a fresh core there ({@link Config#withStart}), a removed honest replica stops, a removed
 * Byzantine one keeps its old core and turns {@link Ghost}. A machine a change adds follows the
 * chain, every block checked against the set in force at its height, until its set starts. Each
 * replica verifies what it hears with its own epoch's verifier.
 */
public final class Simulation {
    /** Deliveries after which a run counts as a message storm (a bug: cores must be quiet when idle). */
    static final long DELIVERIES_MAX = 3_000_000;
    private static final long BASE_MILLIS = 1_700_000_000_000L;
    private static final List<KeyPair> CLIENT_KEYS = new ArrayList<>();

    /** Client endpoints start here, above every machine. */
    private static final int CLIENT_ENDPOINTS = 1_000;

    /** One core and what survives its crashes: the WAL and the application. */
    private static final class Node {
        final int index;
        /** The machine: its network endpoint, the same in every epoch. */
        final int id;
        /** The current core's configuration (its epoch, its index there); null before the first core. */
        Config config;
        ByzantineStrategy strategy;
        /** The epoch of the current core (or of the last one, for a retired replica). */
        EpochState epoch;
        final boolean byzantine;
        final App app;
        /** The consensus WAL and the signing mark, as the node keeps them (see {@link SimWal}). */
        final SimWal wal;
        final Set<ByteBuffer> persisted = new HashSet<>();
        final List<Output.StateTransferRequest> transfers = new ArrayList<>();
        Replica core;
        int incarnation;
        boolean dead;
        /** Down after a crash, until its restart. */
        boolean crashed;
        /** Left the validator set: an honest replica stops, a Byzantine one keeps its old core as a ghost. */
        boolean retired;
        /** The current core was told where its epoch ends. */
        boolean endTold;
        /** The core's own signed messages in this epoch, the newest last (kept for Byzantine replicas: ghosts replay them). */
        final java.util.ArrayDeque<byte[]> ownWires = new java.util.ArrayDeque<>();
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

        Node(int index, int id, boolean byzantine, Digest genesis, Membership.Rules rules) {
            this.index = index;
            this.id = id;
            this.byzantine = byzantine;
            this.app = new App(genesis, rules);
            this.wal = new SimWal(index);
        }

        boolean honest() {
            return !byzantine;
        }

        boolean live() {
            return core != null && !dead;
        }

        String name() {
            return honest() ? "r" + id : "r" + id + "*" + (strategy instanceof Twins ? "#" + index : "");
        }
    }

    /** A request and when its client first sends it (-1: not yet known; changes wait for the previous handover). */
    private static final class ClientRequest {
        final Request request;
        final int client;
        int submitTick;

        ClientRequest(Request request, int client, int submitTick) {
            this.request = request;
            this.client = client;
            this.submitTick = submitTick;
        }

        Request request() {
            return request;
        }

        int client() {
            return client;
        }

        int submitTick() {
            return submitTick;
        }
    }

    /**
     * One validator set as the simulator runs it: its configuration without a key (the start
     * digest included, which the verifier checks view changes against), its verifier with the
     * verdicts it gave (each distinct wire verified once per epoch), and which of its indices
     * are Byzantine.
     */
    private static final class EpochState {
        final Membership.Epoch epoch;
        final Config config;
        final MessageVerifier verifier;
        /** The deliberately broken rule of {@link Simulation#Simulation(Scenario, boolean, boolean)}: the previous set's keys still count. */
        final MessageVerifier previousKeys;
        final List<PublicKey> previousValidators;
        final Map<ByteBuffer, Verdict<Signed<?>>> verdicts = new HashMap<>();
        final Set<Integer> byzantineIndices = new HashSet<>();
        Collusion collusion;

        EpochState(Membership.Epoch epoch, Config config, MessageVerifier verifier, MessageVerifier previousKeys,
                List<PublicKey> previousValidators) {
            this.epoch = epoch;
            this.config = config;
            this.verifier = verifier;
            this.previousKeys = previousKeys;
            this.previousValidators = previousValidators;
        }
    }

    private record EpochKey(Membership.Epoch epoch, Digest startDigest) {}

    /** A COMMIT signature the simulator saw verified, or saw a core make, and by which key. */
    private record SignedVote(bftledger.crypto.CommitVote vote, PublicKey key) {}

    private record SeenKey(int node, MessageType type, long view, long sequence, int signer) {}

    private record Seen(Digest digest, long coreView, long lowWatermark, int incarnation) {}

    private final Scenario scenario;
    private final SplittableRandom random;
    private final int n;
    private final int f;
    private final Config base;
    private final RequestValidator validator;
    /** The genesis set's verifier; client requests are checked with it in every epoch (their bounds do not change). */
    private final MessageVerifier verifier;
    private final MessageCodec codec;
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
    private final Membership.Rules rules;
    /** The run's validator-set changes, or null. */
    private final Membership.Plan plan;
    private final boolean acceptRetiredKeys;
    /** WAL records are decoded within the bounds of the largest set of the run, as the node does. */
    private final Config decodeConfig;
    private final List<PublicKey> clients = new ArrayList<>();
    private final Map<EpochKey, EpochState> epochStates = new HashMap<>();
    private final Map<Membership.Epoch, Config> checkConfigs = new HashMap<>();
    /** Each Byzantine machine's strategy name, the same in every epoch. */
    private final Map<Integer, String> strategyNames = new HashMap<>();
    /** Strategies by machine and epoch number, one per node of the machine (twins have two). */
    private final Map<List<Integer>, List<ByzantineStrategy>> strategies = new HashMap<>();
    /** COMMIT signatures verified on receipt or made by a core: certificates are checked against these first. */
    private final Map<ByteBuffer, SignedVote> commitSignatures = new HashMap<>();
    private final Checkers.CommitSignatures knownSignatures = this::commitSignatureValid;
    /** Wires signed by identities no longer in the set, with the last epoch each identity was a member of. */
    private final Map<ByteBuffer, Integer> retiredWires = new HashMap<>();
    private final List<Ghost> ghosts = new ArrayList<>();
    private final Set<Membership.Member> ghostIdentities = new HashSet<>();
    private final List<ClientRequest> changeRequests = new ArrayList<>();
    private final List<ClientRequest> requestsAfter = new ArrayList<>();
    /** Epochs some honest replica handed over into, and those whose end some honest core was told. */
    private final Set<Integer> handedOver = new HashSet<>();
    private final Set<Integer> endsTold = new HashSet<>();
    /** The machines of the last set: the replicas liveness is owed to at the end. */
    private final Set<Integer> finalMachines = new HashSet<>();
    /** The latest PRE-PREPARE an honest core accepted, by epoch: what ghosts forge around. */
    private final Map<Integer, Ghost.Target> lastSlot = new HashMap<>();
    /** The highest epoch a core started in. */
    private EpochState newest;
    private record Scheduled(long tick, String what, Runnable action) {}
    private final List<Scheduled> scheduled = new ArrayList<>();
    private boolean fatal;
    private long tick;
    private long deliveries;
    private int viewChanges;

    public Simulation(Scenario scenario, boolean traced) {
        this(scenario, traced, false);
    }

    /**
     * @param acceptRetiredKeys a deliberately broken rule, for tests that show the checks can
     *     fail: a message the set in force rejects still counts when the previous set's key at
     *     its signer's index signed it (as if a rotated or removed key kept a grace period)
     */
    Simulation(Scenario scenario, boolean traced, boolean acceptRetiredKeys) {
        this.scenario = scenario;
        this.random = new SplittableRandom(scenario.seed()).split();
        this.n = scenario.n();
        this.f = scenario.f();
        this.trace = traced ? new StringBuilder() : null;
        this.laggedExecution = new SplittableRandom(~scenario.seed()).nextBoolean();
        this.plan = scenario.membership();
        this.acceptRetiredKeys = acceptRetiredKeys;
        scenario.storageFaults().forEach(s -> storageFaultsDue.put(s.replica(), s.kind()));
        List<Membership.Member> genesisSet = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            genesisSet.add(new Membership.Member(i, 0));
        }
        this.rules = plan == null ? Membership.Rules.fixed(n)
                : new Membership.Rules(genesisSet, Membership.operatorKey().publicKey(),
                scenario.checkpointInterval(), scenario.watermarkWindow());
        Membership.Epoch genesis = new Membership.Epoch(0, 0, genesisSet);
        this.base = configFor(genesis.keys(), replicaKey(0));
        List<Membership.Member> largest = genesisSet;
        for (Membership.Change c : plan == null ? List.<Membership.Change>of() : plan.changes()) {
            largest = c.next().size() > largest.size() ? c.next() : largest;
        }
        this.decodeConfig = largest == genesisSet ? base : configFor(new Membership.Epoch(0, 0, largest).keys(), null);
        this.validator = SimRequests.caching(SimRequests.VALIDATOR);
        this.codec = new MessageCodec(decodeConfig);
        this.network = new Network<>(random.split());
        for (int c = 0; c < scenario.clients(); c++) {
            clients.add(clientKey(c).publicKey());
        }
        EpochState first = epochState(genesis, base.genesisDigest());
        this.verifier = first.verifier;
        for (int i = 0; i < scenario.machines(); i++) {
            byId.add(new ArrayList<>());
            boolean byzantine = scenario.byzantine().contains(i);
            if (i >= n) {
                // Added by a change: no core until its set starts; its strategy is drawn now, like the others'.
                addNode(i, byzantine);
                if (byzantine && strategyName(i).equals(Twins.NAME)) {
                    addNode(i, true);
                }
                continue;
            }
            Config config = base.withReplica(i, replicaKey(i));
            if (!byzantine) {
                startFirstCore(addNode(i, false), config, first, null);
                continue;
            }
            StrategyContext context = StrategyContext.of(config, random.split());
            List<ByzantineStrategy> made = makeStrategies(strategyName(i), context, first);
            strategies.put(List.of(i, 0), made);
            for (ByzantineStrategy strategy : made) {
                startFirstCore(addNode(i, true), config, first, strategy);
            }
        }
        for (int k = 0; k < scenario.requests(); k++) {
            int client = random.nextInt(scenario.clients());
            Request r = SimRequests.signed(clientKey(client), "client-" + client + " request-" + k + " seed-" + scenario.seed());
            requests.add(new ClientRequest(r, client, random.nextInt(scenario.submitWindowTicks() + 1)));
        }
        if (plan != null) {
            for (int c = 0; c < plan.changes().size(); c++) {
                Request r = SimRequests.signed(Membership.operatorKey(), Membership.body(c + 1, plan.changes().get(c).next()));
                ClientRequest change = new ClientRequest(r, scenario.clients(), c == 0 ? plan.firstChangeTick() : -1);
                changeRequests.add(change);
                requests.add(change);
            }
            for (int k = 0; k < plan.requestsAfter(); k++) {
                int client = k % scenario.clients();
                Request r = SimRequests.signed(clientKey(client), "client-" + client + " after-handover-" + k + " seed-"
                        + scenario.seed());
                ClientRequest after = new ClientRequest(r, client, -1);
                requestsAfter.add(after);
                requests.add(after);
            }
        }
        (plan == null ? genesisSet : plan.lastSet(genesisSet)).forEach(m -> finalMachines.add(m.machine()));
    }

    public static SimResult run(Scenario scenario, boolean traced) {
        return new Simulation(scenario, traced).run();
    }

    private Config configFor(List<PublicKey> validators, KeyPair key) {
        return Config.of(validators, 0, key)
                .withCheckpoints(scenario.checkpointInterval(), scenario.watermarkWindow())
                .withBatching(scenario.batchCountMax(), 4096, 512, Math.min(scenario.pipelineDepthMax(), scenario.watermarkWindow()))
                .withTimeouts(scenario.requestTimeoutTicks(), scenario.viewChangeTimeoutTicks(), scenario.timeoutDoublingsMax())
                .withBuffers(16, 256, 4, 2)
                .withStatusTicks(scenario.statusTicks());
    }

    private static KeyPair replicaKey(int i) {
        return Membership.keyOf(i, 0);
    }

    private static synchronized KeyPair clientKey(int i) {
        while (CLIENT_KEYS.size() <= i) {
            CLIENT_KEYS.add(KeyPair.deterministic("sim-client-" + CLIENT_KEYS.size()));
        }
        return CLIENT_KEYS.get(i);
    }

    /** A Byzantine machine's strategy, drawn once (for a mixed run) and kept in every epoch. */
    private String strategyName(int machine) {
        return strategyNames.computeIfAbsent(machine, m -> {
            if (scenario.strategy().equals(Collusion.NAME)) {
                return Collusion.NAME;
            }
            if (scenario.strategy().equals(Scenario.MIXED)) {
                List<String> names = Strategies.names();
                return names.get(random.nextInt(names.size()));
            }
            return scenario.strategy();
        });
    }

    private List<ByzantineStrategy> makeStrategies(String name, StrategyContext context, EpochState epoch) {
        if (name.equals(Collusion.NAME)) {
            return List.of(epoch.collusion.member(context));
        }
        ByzantineStrategy strategy = Strategies.create(name, context, clients);
        return strategy instanceof Twins twin ? List.of(twin, twin.other()) : List.of(strategy);
    }

    /** Colluders show the alternate batches to the upper half of the honest replicas of their set. */
    private Set<Integer> collusionSideB(Membership.Epoch epoch) {
        List<Integer> honest = new ArrayList<>();
        for (int i = 0; i < epoch.n(); i++) {
            if (!scenario.byzantine().contains(epoch.members().get(i).machine())) {
                honest.add(i);
            }
        }
        return new TreeSet<>(honest.subList(honest.size() / 2, honest.size()));
    }

    private Node addNode(int id, boolean byzantine) {
        Node node = new Node(nodes.size(), id, byzantine, base.genesisDigest(), rules);
        nodes.add(node);
        byId.get(id).add(node);
        return node;
    }

    private void startFirstCore(Node node, Config config, EpochState epoch, ByzantineStrategy strategy) {
        node.config = config;
        node.epoch = epoch;
        node.strategy = strategy;
        node.core = new Replica(config, node.app::executed, node.app::stateAt);
    }

    /** The simulator's state for {@code epoch} started from {@code startDigest}, made on first use. */
    private EpochState epochState(Membership.Epoch epoch, Digest startDigest) {
        EpochKey key = new EpochKey(epoch, startDigest);
        EpochState state = epochStates.get(key);
        if (state != null) {
            return state;
        }
        Config config = epoch.number() == 0 ? base
                : configFor(epoch.keys(), null).withStart(epoch.start(), epoch.startView(), startDigest);
        MessageVerifier previousKeys = null;
        List<PublicKey> previousValidators = null;
        if (acceptRetiredKeys && epoch.number() > 0 && plan != null) {
            List<Membership.Member> previous = epoch.number() == 1 ? rules.genesis() : plan.changes().get(epoch.number() - 2).next();
            previousValidators = new Membership.Epoch(0, 0, previous).keys();
            previousKeys = new MessageVerifier(configFor(previousValidators, null)
                    .withStart(epoch.start(), epoch.startView(), startDigest), validator);
        }
        state = new EpochState(epoch, config, new MessageVerifier(config, validator), previousKeys, previousValidators);
        for (int i = 0; i < epoch.n(); i++) {
            if (scenario.byzantine().contains(epoch.members().get(i).machine())) {
                state.byzantineIndices.add(i);
            }
        }
        if (scenario.strategy().equals(Collusion.NAME)) {
            state.collusion = new Collusion(collusionSideB(epoch));
        }
        epochStates.put(key, state);
        return state;
    }

    /** The configuration a fetched block of {@code epoch} is checked against. */
    private Config checkConfig(Membership.Epoch epoch) {
        return epoch.number() == 0 ? base : checkConfigs.computeIfAbsent(epoch, e -> configFor(e.keys(), null));
    }

    private boolean commitSignatureValid(bftledger.crypto.CommitVote vote, PublicKey key, byte[] signature) {
        SignedVote known = commitSignatures.get(ByteBuffer.wrap(signature));
        if (known != null && known.vote().equals(vote) && known.key().equals(key)) {
            return true;
        }
        boolean valid = vote.verify(key, signature);
        if (valid) {
            commitSignatures.put(ByteBuffer.wrap(signature.clone()), new SignedVote(vote, key));
        }
        return valid;
    }

    private void rememberCommit(Signed<?> m, PublicKey key) {
        if (m.payload() instanceof Commit c) {
            commitSignatures.put(ByteBuffer.wrap(m.signature()),
                    new SignedVote(new bftledger.crypto.CommitVote(c.view(), c.sequence(), c.digest(), c.replica()), key));
        }
    }

    // ------------------------------------------------------------------------------ main loop

    public SimResult run() {
        note("scenario seed=" + scenario.seed() + " " + scenario.describe());
        for (Node node : nodes) {
            if (!node.honest()) {
                note("r" + node.id + " is Byzantine: " + (node.strategy == null ? strategyName(node.id) + " once it joins"
                        : node.strategy.name())
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
            epochs();
            ghosts();
            if (tick >= scenario.faultEndTick() && allExecuted()) {
                break;
            }
            if (tick >= deadline) {
                String states = replicaStates();
                note("t=" + tick + " deadline: " + states);
                for (Violation v : Checkers.liveness(requiredHistories(), submittedOrAll(), deadline)) {
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
                b.append(node.dead ? " stopped" : node.retired ? " retired" : node.crashed ? " down" : " joining")
                        .append(" exec=").append(node.app.height());
                continue;
            }
            if (plan != null) {
                b.append(" e").append(node.epoch.epoch.number()).append(node.retired ? " retired" : "");
            }
            b.append(" v").append(node.core.view()).append(node.core.viewActive() ? "" : " changing").append(" h=")
                    .append(node.core.lowWatermark()).append(" exec=").append(node.app.height());
        }
        return b.toString();
    }

    private void applyFaults() {
        for (Scheduled s : List.copyOf(scheduled)) {
            if (s.tick() == tick && !fatal) {
                note("t=" + tick + " " + s.what());
                s.action().run();
            }
        }
        scheduled.removeIf(s -> s.tick() <= tick);
        for (Scenario.Partition p : scenario.partitions()) {
            if (tick == p.startTick()) {
                Set<Integer> rest = new TreeSet<>();
                for (int i = 0; i < scenario.machines(); i++) {
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
            for (int i = 0; i < scenario.machines(); i++) {
                network.send(CLIENT_ENDPOINTS + c.client(), i, c.request(), tick, 0);
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
        for (Node node : byId.get(to)) {
            if (fatal) {
                return;
            }
            if (!node.live() || (node.strategy != null && !node.strategy.hears(node.epoch.epoch.indexOf(from)))) {
                continue;
            }
            Verdict<Signed<?>> verdict = verdict(node.epoch, wire, from, to);
            if (verdict == null) {
                return;
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
                Integer retiredAfter = retiredWires.isEmpty() ? null : retiredWires.get(ByteBuffer.wrap(wire));
                if (retiredAfter != null && node.epoch.epoch.number() > retiredAfter) {
                    fail("retired-key", List.of(node.id, from), "an honest core of epoch " + node.epoch.epoch.number()
                            + " accepted " + Describe.message(m) + " signed by an identity that left the set after epoch "
                            + retiredAfter);
                    return;
                }
                watchForEquivocation(node, m);
                if (plan != null && m.payload() instanceof PrePrepare p) {
                    lastSlot.put(node.epoch.epoch.number(), new Ghost.Target(node.epoch.epoch.n(), node.epoch.epoch.startView(),
                            node.epoch.epoch.start(), node.config.checkpointInterval(), p.view(), p.sequence(), p.digest()));
                }
            }
            step(node, new Event.PeerMessage(m));
        }
    }

    /** {@code epoch}'s verdict on {@code wire}, verified once; null when the verifier itself failed (a bug). */
    private Verdict<Signed<?>> verdict(EpochState epoch, byte[] wire, int from, int to) {
        ByteBuffer key = ByteBuffer.wrap(wire);
        Verdict<Signed<?>> verdict = epoch.verdicts.get(key);
        if (verdict != null) {
            return verdict;
        }
        try {
            verdict = epoch.verifier.verify(wire);
            PublicKey signedBy = verdict.accepted() ? epoch.config.validators().get(verdict.value().signer()) : null;
            if (!verdict.accepted() && epoch.previousKeys != null) {
                Verdict<Signed<?>> old = epoch.previousKeys.verify(wire);
                if (old.accepted()) {
                    verdict = old;
                    signedBy = epoch.previousValidators.get(old.value().signer());
                }
            }
            if (signedBy != null) {
                rememberCommit(verdict.value(), signedBy);
            }
        } catch (RuntimeException e) {
            fail("verifier-crash", List.of(to, from), "MessageVerifier threw on " + wire.length + " bytes from "
                    + from + ": " + e);
            return null;
        }
        epoch.verdicts.put(key, verdict);
        return verdict;
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
                List<Violation> framed = Checkers.falseEvidence(node.id, e, node.epoch.byzantineIndices, node.epoch.verifier);
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
            int self = node.config.replicaId();
            // A STATUS carries no vote (pbft's Status says so): the only message exempt from the WAL.
            if (node.honest() && m.signer() == self && m.type() != MessageType.STATUS
                    && !node.persisted.contains(ByteBuffer.wrap(wire))) {
                fail("persist-before-send", List.of(node.id), "sent " + Describe.message(m) + " before persisting it");
                return;
            }
            if (node.honest() && m.signer() == self) {
                secondVotes.sent(node.id, m, tick);
            }
            if (m.signer() == self) {
                rememberCommit(m, node.config.key().publicKey());
                if (plan != null && node.byzantine) {
                    node.ownWires.addLast(wire);
                    if (node.ownWires.size() > Ghost.REPLAYS_KEPT) {
                        node.ownWires.removeFirst();
                    }
                }
            }
            List<Membership.Member> members = node.epoch.epoch.members();
            for (int to = 0; to < members.size(); to++) {
                if (to == self || (!o.broadcast() && o.to() != to)) {
                    continue;
                }
                if (node.strategy == null) {
                    network.send(node.id, members.get(to).machine(), wire, tick, 0);
                } else {
                    List<Send> sends = node.strategy.onSend(m, to);
                    if (trace != null) {
                        traceStrategy(node, m, wire, to, sends);
                    }
                    for (Send s : sends) {
                        if (s.to() >= 0 && s.to() < members.size()) {
                            if (node.retired) {
                                retiredWires.put(ByteBuffer.wrap(s.wire()), node.epoch.epoch.number());
                            }
                            network.send(node.id, members.get(s.to()).machine(), s.wire(), tick, s.delayTicks());
                        }
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
        tellEnd(node);
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
                String problem = transferProofProblem(node, t);
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
                    if (handoverDue(node)) {
                        // Past this core's end: the next core starts there (see epochs), this one hears no more.
                        node.transfers.clear();
                        return;
                    }
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
    private String transferProofProblem(Node node, Output.StateTransferRequest t) {
        Set<Integer> signers = new HashSet<>();
        int f = node.epoch.config.f();
        for (Signed<Checkpoint> c : t.proof()) {
            Verdict<Signed<?>> v = node.epoch.verifier.verify(c);
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
            if (fatal) {
                return;
            }
            if (joining(node) && node.app.height() < best.app.height()) {
                follow(node, best);
                continue;
            }
            if (!node.live() || node.retired || node == best || node.app.height() >= best.app.height()
                    || tick - node.progressTick < idle || tick - node.syncTick < idle) {
                continue;
            }
            node.syncTick = tick;
            stepExecuted(node);
            if (fatal || !node.live()) {
                continue;
            }
            long from = node.app.height();
            if (!fetchBlocks(node, best)) {
                return;
            }
            if (node.app.height() > from) {
                note("t=" + tick + " " + node.name() + " syncs blocks s" + (from + 1) + "..s" + node.app.height()
                        + " from " + best.name());
                if (!handoverDue(node)) {
                    step(node, new Event.StateTransferred(node.app.height(), node.app.state()));
                }
            }
        }
    }

    /**
     * Executes {@code best}'s blocks after {@code node}'s height, each checked against the set in
     * force at its height as {@code node}'s own history names it; false when the run failed.
     */
    private boolean fetchBlocks(Node node, Node best) {
        while (node.app.height() < best.app.height()) {
            Output.CommittedBatch block = best.app.at(node.app.height() + 1).block();
            var problem = BlockCheck.problem(checkConfig(node.app.epochInForce(block.sequence())), block, knownSignatures);
            if (problem.isPresent()) {
                if (best.honest()) {
                    fail("block-certificate", List.of(best.id), "block " + block.sequence() + ": " + problem.get());
                    return false;
                }
                break;
            }
            node.app.execute(block);
        }
        return true;
    }

    /** A machine a change added, before its set starts: it follows the chain (see epochs). */
    private static boolean joining(Node node) {
        return node.core == null && !node.crashed && !node.retired && !node.dead;
    }

    private void follow(Node node, Node best) {
        long from = node.app.height();
        if (fetchBlocks(node, best) && node.app.height() > from) {
            note("t=" + tick + " " + node.name() + " (joining) follows the chain s" + (from + 1) + "..s" + node.app.height()
                    + " from " + best.name());
        }
    }

    private void crash(Node node) {
        if (node.core == null) {
            return;
        }
        node.core = null;
        node.crashed = true;
        node.transfers.clear();
        node.executedToStep.clear(); // executions the crashed core never heard of are redone after restart
        note("t=" + tick + " " + node.name() + " CRASHES (WAL " + node.wal.size() + " records, height " + node.app.height() + ")");
    }

    private void restart(Node node) {
        if (!node.crashed || node.dead) {
            return;
        }
        node.crashed = false;
        node.endTold = false; // not persisted: the node tells a restarted core its end again
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
                restart = node.wal.restart(new PersistCodec(decodeConfig));
            } catch (MalformedMessageException e) {
                fail("wal-decode", List.of(node.id), "own WAL record with a valid checksum does not decode: " + e.getMessage());
                return;
            }
            if (restart.setAside() != null) {
                note("t=" + tick + " " + node.name() + " sets its WAL aside and rejoins NON-VOTING under floor (view "
                        + restart.floor().view() + ", sequence " + restart.floor().sequence() + "): " + restart.setAside());
            }
            // The epoch comes from the application (the store), as the node finds it at start.
            Membership.Epoch in = node.app.epochInForce(node.app.height() + 1);
            if (in.indexOf(node.id) < 0) {
                retire(node);
                return;
            }
            if (!in.equals(node.epoch.epoch)) {
                enterEpoch(node, in);
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
        note("t=" + tick + " " + node.name() + " RESTARTS in " + (plan == null ? "" : "epoch " + node.epoch.epoch.number()
                + " ") + "view " + node.core.view() + " h=" + node.core.lowWatermark() + Describe.output(out));
        handle(node, out);
    }

    // ------------------------------------------------------------------------------ epochs

    /** The application executed the end of the current core's epoch: the next core takes over. */
    private boolean handoverDue(Node node) {
        Membership.Epoch next = node.app.epochAfter(node.epoch.epoch.number());
        return next != null && node.app.height() >= next.start();
    }

    /**
     * After executing a change, as the node does after each block: the core learns where its
     * epoch ends, once, while that is still ahead of what it executed (the end lies more than L
     * above the change, so above anything the core can have handed out).
     */
    private void tellEnd(Node node) {
        if (plan == null || fatal || !node.live() || node.endTold || node.retired) {
            return;
        }
        Membership.Epoch next = node.app.epochAfter(node.epoch.epoch.number());
        if (next == null || node.app.height() >= next.start()) {
            return;
        }
        node.endTold = true;
        if (node.honest() && endsTold.add(next.number())) {
            onEndFirstTold(node, next);
        }
        step(node, new Event.EpochEnds(next.start()));
    }

    /** Hands every replica whose application executed its epoch's end over to the set in force after it. */
    private void epochs() {
        if (plan == null) {
            return;
        }
        for (Node node : nodes) {
            if (fatal) {
                return;
            }
            if (node.dead || node.crashed || node.retired) {
                continue;
            }
            Membership.Epoch in = node.app.epochInForce(node.app.height() + 1);
            if (node.core != null && in.equals(node.epoch.epoch)) {
                continue;
            }
            boolean member = in.indexOf(node.id) >= 0;
            if (node.core == null) {
                if (member && in.number() > 0) {
                    startCore(node, in);
                }
                continue;
            }
            if (member) {
                startCore(node, in);
            } else {
                retire(node);
            }
            if (node.honest() && handedOver.add(in.number())) {
                onFirstHandover(in);
            }
        }
    }

    /** This node's identity, index and strategy in {@code epoch}; an identity it leaves behind turns ghost. */
    private void enterEpoch(Node node, Membership.Epoch epoch) {
        leaveIdentity(node, epoch);
        int index = epoch.indexOf(node.id);
        Membership.Member member = epoch.members().get(index);
        EpochState state = epochState(epoch, node.app.stateAt(epoch.start()));
        node.epoch = state;
        node.config = state.config.withReplica(index, member.key());
        node.endTold = false;
        node.ownWires.clear();
        if (node.byzantine) {
            List<ByzantineStrategy> made = strategies.computeIfAbsent(List.of(node.id, epoch.number()), k ->
                    makeStrategies(strategyName(node.id), StrategyContext.of(node.config, random.split()), state));
            node.strategy = made.get(byId.get(node.id).indexOf(node));
        }
        if (newest == null || epoch.number() > newest.epoch.number()) {
            newest = state;
        }
    }

    private void startCore(Node node, Membership.Epoch epoch) {
        String from = node.config == null ? "joins" : "hands over from epoch " + node.epoch.epoch.number() + " (index "
                + node.config.replicaId() + ")";
        enterEpoch(node, epoch);
        node.transfers.clear();
        node.executedToStep.clear();
        node.core = new Replica(node.config, node.app::executed, node.app::stateAt);
        note("t=" + tick + " " + node.name() + " " + from + " to epoch " + epoch.number() + " as index "
                + node.config.replicaId() + " of " + epoch.members() + ", after s" + epoch.start() + " in view "
                + epoch.startView() + " (executed " + node.app.height() + ")");
        if (node.app.height() > epoch.start()) {
            step(node, new Event.StateTransferred(node.app.height(), node.app.state()));
        }
        tellEnd(node);
    }

    /** Out of the set: an honest replica stops being a validator; a Byzantine one keeps its old core and haunts the next sets. */
    private void retire(Node node) {
        Membership.Epoch in = node.app.epochInForce(node.app.height() + 1);
        leaveIdentity(node, in);
        node.retired = true;
        note("t=" + tick + " " + node.name() + " is not in epoch " + in.number() + " " + in.members()
                + (node.honest() ? ": stops" : ": keeps running its old core, as a ghost"));
        if (node.honest()) {
            node.core = null;
            node.transfers.clear();
            node.executedToStep.clear();
        }
    }

    private void leaveIdentity(Node node, Membership.Epoch next) {
        if (!node.byzantine || node.config == null) {
            return;
        }
        Membership.Member was = node.epoch.epoch.members().get(node.config.replicaId());
        if (next.members().contains(was) || !ghostIdentities.add(was)) {
            return;
        }
        ghosts.add(new Ghost(node.id, node.config.replicaId(), node.epoch.epoch.number(), was.key(), List.copyOf(node.ownWires)));
        note("t=" + tick + " identity " + was + " (index " + node.config.replicaId() + " of epoch " + node.epoch.epoch.number()
                + ") left the set; machine " + node.id + " keeps its key and turns ghost");
    }

    /** The first honest core told of an end: the primary it sees may be cut off, so a view change races the end. */
    private void onEndFirstTold(Node node, Membership.Epoch next) {
        Membership.Change change = plan.changes().get(next.number() - 1);
        if (change.isolatePrimaryTicks() > 0) {
            int primary = node.epoch.epoch.members().get(node.config.primary(node.core.view())).machine();
            network.isolate(primary);
            note("t=" + tick + " primary " + primary + " of view " + node.core.view() + " cut off for "
                    + change.isolatePrimaryTicks() + " ticks as epoch " + node.epoch.epoch.number() + " is told its end s"
                    + next.start());
            scheduled.add(new Scheduled(tick + change.isolatePrimaryTicks(), "primary " + primary + " back in touch",
                    () -> network.rejoin(primary)));
        }
        if (change.crashAt() == Membership.At.TOLD) {
            crashAround(change, node.epoch.epoch, next);
        }
    }

    /** The first honest handover into {@code epoch}: the next change, or the requests that must commit under the last set. */
    private void onFirstHandover(Membership.Epoch epoch) {
        note("t=" + tick + " first honest handover to epoch " + epoch.number());
        Membership.Change change = plan.changes().get(epoch.number() - 1);
        if (change.crashAt() == Membership.At.HANDOVER) {
            crashAround(change, epoch.number() == 1 ? new Membership.Epoch(0, 0, rules.genesis())
                    : new Membership.Epoch(epoch.number() - 1, 0, plan.changes().get(epoch.number() - 2).next()), epoch);
        }
        if (epoch.number() < plan.changes().size()) {
            changeRequests.get(epoch.number()).submitTick = (int) tick + 1 + plan.gapTicks();
        } else {
            for (int k = 0; k < requestsAfter.size(); k++) {
                requestsAfter.get(k).submitTick = (int) tick + 1 + k;
            }
        }
    }

    /** An honest replica of the old or new set crashes at the next tick and restarts {@code crashTicks} later. */
    private void crashAround(Membership.Change change, Membership.Epoch old, Membership.Epoch next) {
        List<Node> candidates = new ArrayList<>();
        for (Node node : nodes) {
            if (node.honest() && node.core != null && !node.retired
                    && (old.indexOf(node.id) >= 0 || next.indexOf(node.id) >= 0)) {
                candidates.add(node);
            }
        }
        if (candidates.isEmpty()) {
            return;
        }
        Node victim = candidates.get(change.crashPick() % candidates.size());
        scheduled.add(new Scheduled(tick + 1, victim.name() + " crashes around the boundary of epoch " + next.number(),
                () -> crash(victim)));
        scheduled.add(new Scheduled(tick + 1 + change.crashTicks(), victim.name() + " restarts", () -> restart(victim)));
    }

    /** Each ghost now and then acts against the newest set: replays and forgeries under its old key. */
    private void ghosts() {
        if (ghosts.isEmpty() || newest == null) {
            return;
        }
        Membership.Epoch target = newest.epoch;
        for (Ghost g : ghosts) {
            if (g.spent() || target.number() <= g.lastEpoch() || random.nextInt(16) != 0) {
                continue;
            }
            Ghost.Target slot = lastSlot.getOrDefault(target.number(), new Ghost.Target(target.n(), target.startView(),
                    target.start(), scenario.checkpointInterval(), target.startView(), target.start() + 1, null));
            for (byte[] wire : g.act(random, slot)) {
                retiredWires.put(ByteBuffer.wrap(wire), g.lastEpoch());
                if (trace != null) {
                    note("t=" + tick + " ghost of machine " + g.machine() + " sends " + describeWire(wire) + " to epoch "
                            + target.number());
                }
                for (Membership.Member m : target.members()) {
                    if (m.machine() != g.machine()) {
                        network.send(g.machine(), m.machine(), wire, tick, 0);
                    }
                }
            }
        }
    }

    private String describeWire(byte[] wire) {
        try {
            return Describe.message(codec.decode(wire));
        } catch (MalformedMessageException e) {
            return wire.length + " bytes that do not decode (" + e.reason() + ")";
        }
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
        if (m.signer() == node.config.replicaId()) {
            return;
        }
        Replica core = node.core;
        long h = core.lowWatermark();
        // Above the epoch's end a core keeps nothing: those sequences are the next set's.
        boolean inWindow = sequence > h && sequence <= h + node.config.watermarkWindow()
                && sequence <= core.epochEnd().orElse(Long.MAX_VALUE);
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
        for (Node node : nodes) {
            if (node.honest()) {
                violations.addAll(Checkers.certificates(node.id, node.app.history(),
                        sequence -> node.app.epochInForce(sequence).keys(), knownSignatures));
            }
        }
        if (plan != null && !requestsAfter.isEmpty()) {
            long lastStart = -1;
            for (Node node : nodes) {
                List<Membership.Epoch> named = node.app.epochs();
                if (node.honest() && named.size() == plan.changes().size() + 1) {
                    lastStart = named.get(named.size() - 1).start();
                    break;
                }
            }
            List<Digest> after = requestsAfter.stream().map(c -> c.request().id()).toList();
            if (lastStart >= 0) {
                violations.addAll(Checkers.afterHandover(histories, after, lastStart));
            }
        }
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

    /** The honest replicas of the last set: each must have executed every request by the deadline. */
    private Map<Integer, List<App.Executed>> requiredHistories() {
        Map<Integer, List<App.Executed>> out = new TreeMap<>();
        for (Node node : nodes) {
            if (node.honest() && finalMachines.contains(node.id)) {
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
            if (!node.honest() || !finalMachines.contains(node.id)) {
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
