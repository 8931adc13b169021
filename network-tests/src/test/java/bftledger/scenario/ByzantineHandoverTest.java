package bftledger.scenario;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import bftledger.crypto.KeyPair;
import bftledger.crypto.PublicKey;
import bftledger.ledger.ValidatorSets;
import bftledger.ledger.proto.Validator;
import bftledger.node.cli.Main;
import bftledger.sdk.Committed;
import bftledger.sdk.LedgerClient;
import bftledger.sdk.ValidatorChain;
import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * A Byzantine validator across a validator-set change, on real processes: node 0 replays old
 * messages (its own and others') in every set, node 4 is added through the CLI (propose, a
 * quorum of approvals, submit) while node 0 runs. The Byzantine process hands over like an honest
 * one and keeps misbehaving under the new set, where its earlier epoch's messages are in a lower
 * view and count for nothing; the honest nodes, node 4 among them, go on committing, and their
 * ledgers agree and pass the offline audit.
 */
class ByzantineHandoverTest {
    private static final long SEED = Long.getLong("bftledger.seed", System.nanoTime());
    private static final int BYZANTINE = 0;
    private static final String STRATEGY = "replay";
    private static final Duration TIMEOUT = Duration.ofSeconds(60);

    @TempDir
    Path tmp;

    @Test
    @Timeout(value = 6, unit = TimeUnit.MINUTES)
    void aByzantineValidatorHandsOverAndTheNewSetCommitsAroundIt() throws Exception {
        String why = "seed " + SEED + " (replay with -Dbftledger.seed=" + SEED + ")";
        try (ScenarioCluster c = ScenarioCluster.loopback(tmp.resolve("net"), ScenarioCluster.Options.defaults(SEED).withSpares(1))) {
            for (int i = 1; i < 4; i++) {
                c.start(i);
            }
            c.startByzantine(BYZANTINE, STRATEGY);
            c.awaitReady(Duration.ofSeconds(90));
            LedgerClient client = c.client();
            KeyPair alice = c.accounts().get(0);
            client.submit(client.transactions().transfer(alice, c.accounts().get(1).publicKey(), 3), TIMEOUT);

            Validator added = c.validator(4);
            String genesis = c.genesisPath().toString();
            Path proposal = tmp.resolve("change.json");
            cli(c, why, "validators", "propose", "--genesis", genesis, "--plaintext", "--out", proposal.toString(), "--add",
                    PublicKey.of(added.getPublicKey().toByteArray()).hex() + "@" + added.getAddress() + "/" + added.getName());
            for (int approver = 1; approver <= 3; approver++) {
                cli(c, why, "validators", "approve", "--genesis", genesis, "--plaintext", "--proposal", proposal.toString(), "--key",
                        nodeKeyFile(c, approver));
            }
            // Any key signs the transaction; the approvals authorise it.
            JsonNode receipt = cli(c, why, "validators", "submit", "--genesis", genesis, "--plaintext", "--proposal",
                    proposal.toString(), "--key", nodeKeyFile(c, 1));
            assertEquals("SUCCESS", receipt.get("status").asText(), why + ": " + receipt);
            long first = ValidatorSets.firstHeight(receipt.get("height").asLong());
            c.startJoining(4);

            // Past the handover: the Byzantine process started again under the new set.
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(180);
            while (!c.logText(BYZANTINE).contains("after the handover at height " + (first - 1))) {
                assertTrue(System.nanoTime() < deadline, why + ": node" + BYZANTINE + " did not hand over at " + (first - 1));
                Thread.sleep(200);
            }
            c.assertAlive(BYZANTINE);
            ValidatorChain chain = client.refreshValidators(TIMEOUT);
            assertEquals(1, chain.latest().epoch(), why);
            List<Committed> after = new ArrayList<>();
            for (int i = 0; i < 5; i++) {
                after.add(client.submit(client.transactions().transfer(alice, KeyPair.deterministic("payee" + i).publicKey(), 1),
                        TIMEOUT));
            }
            assertTrue(after.get(after.size() - 1).height() >= first, why + ": committed under the new set");
            ScenarioChecks.assertAllPresent(client, after.stream().map(Committed::txId).toList(), why);
            c.assertAlive(BYZANTINE);

            List<Integer> honest = List.of(1, 2, 3, 4);
            while (!c.logText(4).contains("event=joined")) {
                assertTrue(System.nanoTime() < deadline, why + ": node4 did not join");
                Thread.sleep(200);
            }
            awaitOneTip(c, honest, why);
            c.stopAll();
            for (int i : honest) {
                int rc = Main.run("audit", "--data", c.data(i).toString(), "--genesis", genesis, "--json");
                assertEquals(0, rc, why + ": offline audit of node" + i);
            }
        }
    }

    /** Until every node in {@code nodes} reports the same tip, unchanged for a second (an idle network settles). */
    private static void awaitOneTip(ScenarioCluster c, List<Integer> nodes, String why) throws Exception {
        List<io.grpc.ManagedChannel> channels = new ArrayList<>();
        try {
            for (int i : nodes) {
                channels.add(io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder.forTarget(c.validator(i).getAddress())
                        .usePlaintext().build());
            }
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            String settled = null;
            long since = System.nanoTime();
            while (true) {
                java.util.Set<String> tips = new java.util.HashSet<>();
                for (io.grpc.ManagedChannel ch : channels) {
                    try {
                        var s = bftledger.api.proto.LedgerApiGrpc.newBlockingStub(ch).withDeadlineAfter(2, TimeUnit.SECONDS)
                                .getStatus(bftledger.api.proto.GetStatusRequest.getDefaultInstance());
                        tips.add(s.getHeight() + "/" + java.util.HexFormat.of().formatHex(s.getLastBlockHash().toByteArray()));
                    } catch (io.grpc.StatusRuntimeException e) {
                        tips.add("unavailable"); // a joining node serves once its set takes over
                    }
                }
                String now = tips.size() == 1 && !tips.contains("unavailable") ? tips.iterator().next() : null;
                if (now == null || !now.equals(settled)) {
                    settled = now;
                    since = System.nanoTime();
                } else if (System.nanoTime() - since > TimeUnit.SECONDS.toNanos(1)) {
                    return;
                }
                assertTrue(System.nanoTime() < deadline, why + ": nodes " + nodes + " hold different tips: " + tips);
                Thread.sleep(100);
            }
        } finally {
            channels.forEach(io.grpc.ManagedChannel::shutdownNow);
        }
    }

    private static String nodeKeyFile(ScenarioCluster c, int node) {
        return c.dir().resolve("node" + node).resolve("node.key").toString();
    }

    /** The CLI command's JSON answer, which must say ok. */
    private static JsonNode cli(ScenarioCluster c, String why, String... args) throws Exception {
        List<String> withJson = new ArrayList<>(List.of(args));
        withJson.add("--json");
        JsonNode answer = ScenarioChecks.cliJson(c, withJson.toArray(String[]::new));
        assertTrue(answer.path("ok").asBoolean(), why + ": " + String.join(" ", args) + " answered " + answer);
        return answer;
    }
}
