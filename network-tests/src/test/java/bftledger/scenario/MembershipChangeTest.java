package bftledger.scenario;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import bftledger.api.proto.GetBlockRequest;
import bftledger.api.proto.GetStatusRequest;
import bftledger.api.proto.GetStatusResponse;
import bftledger.api.proto.GetTransactionRequest;
import bftledger.api.proto.LedgerApiGrpc;
import bftledger.api.proto.Reply;
import bftledger.api.proto.SignedReply;
import bftledger.api.proto.SubmitRequest;
import bftledger.crypto.Digest;
import bftledger.crypto.KeyPair;
import bftledger.ledger.ValidatorSets;
import bftledger.ledger.proto.ChangeValidators;
import bftledger.ledger.proto.CommitSignature;
import bftledger.ledger.proto.Receipt;
import bftledger.ledger.proto.SignedTransaction;
import bftledger.ledger.proto.TransactionBody;
import bftledger.ledger.proto.Validator;
import bftledger.ledger.proto.ValidatorApproval;
import bftledger.node.cli.Main;
import bftledger.sdk.LedgerClient;
import bftledger.sdk.TransactionFactory;
import bftledger.sdk.ValidatorChain;
import com.google.protobuf.ByteString;
import io.grpc.ManagedChannel;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Validator-set changes on real node processes while clients submit: node 4 is added (it starts
 * with --join and follows the chain until its set takes over, then votes: with node 3 stopped,
 * the five-validator quorum of four needs it), node 1's key is rotated (its process stops at the
 * boundary and signs again with the new key), the set grows to seven (nodes 5 and 6 join by state
 * sync, learning the two changes before it from their peers) and shrinks back to four, node 3
 * replaced by node 5 (the removed nodes stop at the boundary). Every acknowledged transaction is
 * in every ledger, the ledgers are identical, and the offline audit, which checks each block's
 * certificate against the set in force at its height, passes on every node, the state-synced
 * (pruned) ones included.
 */
class MembershipChangeTest {
    private static final long SEED = Long.getLong("bftledger.seed", System.nanoTime());
    /** The set the test ends with: node 3 replaced by node 5. */
    private static final List<Integer> FINAL = List.of(0, 1, 2, 5);

    @TempDir
    Path tmp;

    private ScenarioCluster cluster;
    private final Map<Integer, ManagedChannel> channels = new TreeMap<>();
    /** Node indices in the order of the set in force (its replica order). */
    private List<Integer> members = new ArrayList<>(List.of(0, 1, 2, 3));
    private final List<Digest> acknowledged = Collections.synchronizedList(new ArrayList<>());
    private String why;
    /** Blocking calls to several nodes at once (the common pool has one thread on two cores). */
    private final java.util.concurrent.ExecutorService calls = java.util.concurrent.Executors.newCachedThreadPool();

    @Test
    @Timeout(value = 10, unit = TimeUnit.MINUTES)
    void validatorsAreAddedRotatedAndRemovedWhileClientsSubmit() throws Exception {
        why = "seed " + SEED + " (replay with -Dbftledger.seed=" + SEED + ")";
        try (ScenarioCluster c = ScenarioCluster.loopback(tmp.resolve("net"), ScenarioCluster.Options.defaults(SEED).withSpares(3))) {
            cluster = c;
            for (int i = 0; i < 7; i++) {
                c.configure(i, "snapshot.interval.blocks", "64");
                c.configure(i, "snapshot.keep", "4");
            }
            c.configure(5, "state.sync", "true");
            c.configure(6, "state.sync", "true");
            c.startAll();
            c.awaitReady(Duration.ofSeconds(90));
            AtomicBoolean stop = new AtomicBoolean();
            CompletableFuture<Void> load = CompletableFuture.runAsync(() -> submitUntil(stop, new SplittableRandom(SEED)));
            try {
                // Add node 4: n = 5, f = 1, quorum 4.
                long first = change(List.of(0, 1, 2, 3, 4));
                c.startJoining(4);
                awaitHeight(List.of(0, 1, 2, 3, 4), first + 8);
                // With node 3 down, only the new validator makes a quorum of four.
                c.stop(3);
                awaitSigns(4);
                c.start(3);
                awaitHeight(List.of(0, 1, 2, 3, 4), height(0) + 4);

                // Rotate node 1's key: the old key's process stops at the boundary; the new one signs.
                KeyPair rotated = KeyPair.generate();
                Validator v1 = c.validator(1).toBuilder().setPublicKey(ByteString.copyFrom(rotated.publicKey().bytes())).build();
                first = change(members, Map.of(1, v1));
                assertEquals(0, c.awaitExit(1, Duration.ofSeconds(120)), why + ": node1 with the rotated-out key");
                assertTrue(c.logText(1).contains("rotated out"), why);
                c.replaceKey(1, rotated);
                c.start(1);
                awaitSigns(1);

                // Grow to seven (f = 2): the two new nodes sync the state of a later epoch, then
                // shrink back to four, node 5 standing in for node 3.
                first = change(List.of(0, 1, 2, 3, 4, 5, 6));
                c.startJoining(5);
                c.startJoining(6);
                awaitHeight(List.of(0, 1, 2, 3, 4, 5, 6), first + 8);
                awaitSigns(6);
                for (int synced : List.of(5, 6)) {
                    String log = c.logText(synced);
                    assertTrue(log.contains("event=state-synced") && log.contains("event=state-sync-sets"),
                            why + ": node" + synced + " did not join by state sync across the changes");
                }
                first = change(FINAL);
                for (int removed : List.of(3, 4, 6)) {
                    assertEquals(0, c.awaitExit(removed, Duration.ofSeconds(120)), why + ": removed node" + removed);
                }
                awaitHeight(FINAL, first + 8);
                awaitSigns(5);
            } finally {
                stop.set(true);
            }
            load.get(120, TimeUnit.SECONDS);
            assertTrue(acknowledged.size() > 20, why + ": only " + acknowledged.size() + " transfers acknowledged");
            long tip = awaitHeight(FINAL, height(0));
            for (int i : FINAL) {
                assertEquals(blockHash(0, tip), blockHash(i, tip), why + ": node" + i + " at " + tip);
                for (Digest id : acknowledged) {
                    var r = stub(i).getTransaction(GetTransactionRequest.newBuilder().setTxId(ByteString.copyFrom(id.bytes())).build());
                    // A state-synced node keeps no bodies below its snapshot: it knows where the transaction is.
                    boolean prunedThere = r.getPrunedBelow() > r.getHeight() && r.getHeight() > 0;
                    assertTrue(r.getFound() || prunedThere, why + ": node" + i + " lost " + id.hex());
                }
            }
            // A client that knows only genesis follows the four changes (each set approved by the
            // one before) and takes every receipt, from every epoch, on its proof alone.
            try (LedgerClient client = LedgerClient.connect(c.clientNetwork())) {
                ValidatorChain chain = client.refreshValidators(Duration.ofSeconds(30));
                assertEquals(4, chain.latest().epoch(), why);
                assertEquals(c.validator(1).getPublicKey(), ByteString.copyFrom(chain.latest().keys().get(1).bytes()),
                        why + ": node1's rotated key");
                ScenarioChecks.assertAllPresent(client, acknowledged, why);
                client.submit(new TransactionFactory(c.genesis().chainId()).transfer(c.accounts().get(1),
                        KeyPair.deterministic("payee-last").publicKey(), 1), Duration.ofSeconds(60));
            }
            // The online audit follows the same chain and asks the latest set's nodes, node 5's
            // pruned store (built by state sync) compared from its first whole block.
            var online = ScenarioChecks.cliJson(c, "audit", "--online", "--genesis", c.genesisPath().toString(), "--plaintext", "--json");
            assertTrue(online.get("passed").asBoolean(), why + ": " + online);
            assertEquals(4, online.get("nodes").size(), why + ": " + online);
            channels.values().forEach(ManagedChannel::shutdownNow);
            c.stopAll();
            for (int i = 0; i < 7; i++) {
                int rc = Main.run("audit", "--data", c.data(i).toString(), "--genesis", c.genesisPath().toString(), "--json");
                assertEquals(0, rc, why + ": offline audit of node" + i);
            }
        } finally {
            calls.shutdownNow();
            channels.values().forEach(ManagedChannel::shutdownNow);
        }
    }

    /** The whole set becomes {@code next} (node indices, in replica order). */
    private long change(List<Integer> next) throws Exception {
        return change(next, Map.of());
    }

    /**
     * Proposes the set {@code next} (with {@code replaced} validators standing for nodes whose
     * key changes), approved by the first quorum of the set in force, submits it, and returns
     * the first height the new set signs.
     */
    private long change(List<Integer> next, Map<Integer, Validator> replaced) throws Exception {
        List<Validator> validators = new ArrayList<>();
        for (int node : next) {
            validators.add(replaced.getOrDefault(node, cluster.validator(node)));
        }
        List<Validator> current = new ArrayList<>();
        for (int node : members) {
            current.add(cluster.validator(node));
        }
        ValidatorSets.ValidatorSet set = inForce(current);
        ChangeValidators.Builder change = ChangeValidators.newBuilder().setEpoch(set.epoch() + 1)
                .setCurrentSetHash(ByteString.copyFrom(set.hash().bytes())).addAllValidators(validators);
        for (int r = 0; r < set.quorum(); r++) {
            change.addApprovals(ValidatorApproval.newBuilder().setReplica(r).setSignature(ByteString.copyFrom(
                    ValidatorSets.approve(cluster.nodeKey(members.get(r)), cluster.genesis().hash(), set, validators))));
        }
        KeyPair sender = cluster.accounts().get(0);
        SignedTransaction tx = TransactionFactory.sign(sender, TransactionBody.newBuilder().setChainId(cluster.genesis().chainId())
                .setSender(ByteString.copyFrom(sender.publicKey().bytes())).setNonce(new SplittableRandom().nextLong())
                .setChangeValidators(change));
        Receipt receipt = null;
        for (int attempt = 0; receipt == null; attempt++) {
            assertTrue(attempt < 5, why + ": the change was not committed");
            receipt = broadcast(tx);
        }
        assertEquals(Receipt.Status.SUCCESS, receipt.getStatus(), why + ": " + receipt.getReason());
        epochs++;
        members = new ArrayList<>(next);
        return ValidatorSets.firstHeight(receipt.getHeight());
    }

    private long epochs;

    /** The set in force, as the nodes' keys and the changes made so far describe it. */
    private ValidatorSets.ValidatorSet inForce(List<Validator> validators) {
        List<bftledger.crypto.PublicKey> keys = validators.stream()
                .map(v -> bftledger.crypto.PublicKey.of(v.getPublicKey().toByteArray())).toList();
        return new ValidatorSets.ValidatorSet(epochs, 1, validators, keys, bftledger.ledger.ChainGenesis.validatorSetHash(keys));
    }

    /**
     * Transfers between the cluster's accounts, each sent to every member of the set in force
     * (as a client does) and acknowledged when one answers COMMITTED; sent again, same bytes,
     * until one does or the run ends.
     */
    private void submitUntil(AtomicBoolean stop, SplittableRandom random) {
        TransactionFactory factory = new TransactionFactory(cluster.genesis().chainId());
        while (!stop.get()) {
            KeyPair from = cluster.accounts().get(random.nextInt(cluster.accounts().size()));
            SignedTransaction tx = factory.transfer(from, KeyPair.deterministic("payee" + random.nextInt(20)).publicKey(),
                    1 + random.nextInt(9));
            while (!stop.get()) {
                if (broadcast(tx) != null) {
                    acknowledged.add(TransactionFactory.id(tx));
                    break;
                }
                sleep(100);
            }
        }
    }

    /**
     * Sends {@code tx} to every member of the set in force at once, as a client does (a replica
     * does not forward requests to the primary); the first COMMITTED receipt, or null after 30 s.
     */
    private Receipt broadcast(SignedTransaction tx) {
        List<CompletableFuture<Receipt>> answers = new ArrayList<>();
        for (int node : new ArrayList<>(members)) {
            answers.add(CompletableFuture.supplyAsync(() -> submit(node, tx), calls));
        }
        CompletableFuture<Receipt> first = new CompletableFuture<>();
        answers.forEach(a -> a.thenAccept(first::complete));
        try {
            return first.get(30, TimeUnit.SECONDS);
        } catch (Exception e) {
            return null;
        }
    }

    private Receipt submit(int node, SignedTransaction tx) {
        for (int attempt = 0; attempt < 3; attempt++) {
            SignedReply signed = stub(node).withDeadlineAfter(20, TimeUnit.SECONDS).submitTransaction(SubmitRequest.newBuilder()
                    .setTransaction(tx).setWaitMillis(10_000).build()).getSignedReply();
            Reply reply;
            try {
                reply = Reply.parseFrom(signed.getReply());
            } catch (com.google.protobuf.InvalidProtocolBufferException bad) {
                throw new AssertionError(bad);
            }
            if (reply.getOutcome() == Reply.Outcome.COMMITTED) {
                return reply.getReceipt();
            }
            if (reply.getOutcome() == Reply.Outcome.REJECTED) {
                throw new AssertionError(why + ": node" + node + " answered " + reply);
            }
        }
        throw new IllegalStateException("node" + node + " did not commit " + TransactionFactory.id(tx).shortHex());
    }

    /** Waits until every node in {@code nodes} holds at least {@code min} blocks; the lowest height. */
    private long awaitHeight(List<Integer> nodes, long min) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(180);
        while (true) {
            long lowest = Long.MAX_VALUE;
            for (int i : nodes) {
                lowest = Math.min(lowest, heightOrZero(i));
            }
            if (lowest >= min) {
                return lowest;
            }
            assertTrue(System.nanoTime() < deadline, why + ": nodes " + nodes + " below " + min + ": " + describe(nodes));
            sleep(200);
        }
    }

    /** Until node {@code node}'s commit signature is in a new block's certificate. */
    private void awaitSigns(int node) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
        int reader = members.get(0) == node ? members.get(1) : members.get(0);
        while (true) {
            int index = members.indexOf(node);
            long tip = heightOrZero(reader);
            if (tip > 0) {
                List<Integer> signers = stub(reader).getBlock(GetBlockRequest.newBuilder().setHeight(tip).build()).getBlock()
                        .getCertificate().getSignaturesList().stream().map(CommitSignature::getReplica).toList();
                if (signers.contains(index)) {
                    return;
                }
            }
            assertTrue(System.nanoTime() < deadline, why + ": node" + node + " signs no commit; " + describe(members));
            sleep(200);
        }
    }

    private long height(int node) {
        return heightOrZero(node);
    }

    private long heightOrZero(int node) {
        try {
            return status(node).getHeight();
        } catch (RuntimeException e) {
            return 0;
        }
    }

    private GetStatusResponse status(int node) {
        return stub(node).getStatus(GetStatusRequest.getDefaultInstance());
    }

    private ByteString blockHash(int node, long height) {
        return ByteString.copyFrom(bftledger.crypto.Sha256.hash(stub(node).getBlock(GetBlockRequest.newBuilder().setHeight(height)
                .build()).getBlock().getHeader().toByteArray()).bytes());
    }

    private String describe(List<Integer> nodes) {
        StringBuilder s = new StringBuilder();
        for (int i : nodes) {
            s.append(" node").append(i).append("=h").append(heightOrZero(i)).append(cluster.running(i) ? "" : "(exited)");
        }
        return s.toString();
    }

    private synchronized LedgerApiGrpc.LedgerApiBlockingStub stub(int node) {
        ManagedChannel channel = channels.computeIfAbsent(node, i -> {
            try {
                return NettyChannelBuilder.forTarget(cluster.validator(i).getAddress()).usePlaintext().build();
            } catch (java.io.IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        });
        return LedgerApiGrpc.newBlockingStub(channel).withDeadlineAfter(30, TimeUnit.SECONDS);
    }

    private static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }
}
