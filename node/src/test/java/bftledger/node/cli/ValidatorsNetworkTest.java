package bftledger.node.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import bftledger.crypto.KeyPair;
import bftledger.ledger.ValidatorSets;
import bftledger.node.config.NodeConfig;
import bftledger.node.replica.ReplicaNode;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The validators commands against four real replicas in this JVM: status, propose, a quorum of
 * approvals and submit, each answer proven against genesis, and the change then shown pending
 * with its first height. The new set taking over is the network tests' to pin (real processes).
 */
class ValidatorsNetworkTest {
    @TempDir
    Path tmp;

    private record Run(int exit, String out, String err) {
        JsonNode json() throws Exception {
            return new ObjectMapper().readTree(out.lines().reduce((a, b) -> b).orElse("{}"));
        }
    }

    private static Run run(String... args) {
        PrintStream oldOut = System.out;
        PrintStream oldErr = System.err;
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
        System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
        try {
            int exit = Main.run(args);
            return new Run(exit, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
        } finally {
            System.setOut(oldOut);
            System.setErr(oldErr);
        }
    }

    @Test
    void aChangeIsProposedApprovedSubmittedAndShownPending() throws Exception {
        Path net = tmp.resolve("net");
        int port = bftledger.node.LoopbackPorts.freeRange(4);
        assertEquals(0, run("init", "--nodes", "4", "--dir", net.toString(), "--accounts", "1", "--base-port",
                Integer.toString(port), "--metrics-base-port", "0").exit());
        String genesis = net.resolve("genesis.bin").toString();
        String account = net.resolve("accounts").resolve("account0.key").toString();
        List<ReplicaNode> nodes = new ArrayList<>();
        try {
            for (int i = 0; i < 4; i++) {
                nodes.add(ReplicaNode.start(NodeConfig.read(net.resolve("node" + i).resolve("node.properties"))));
            }
            // A fresh network has no certified header yet to prove anything under.
            Run put = run("put", "--genesis", genesis, "--key", account, "--record-key", "hello", "--value", "world");
            assertEquals(0, put.exit(), put.err());
            Run status = run("validators", "status", "--genesis", genesis, "--json");
            assertEquals(0, status.exit(), status.err());
            assertEquals(0, status.json().get("in_force_epoch").asInt(), status.out());
            assertTrue(status.json().get("pending").isNull(), status.out());
            assertTrue(status.json().get("proven").asBoolean(), status.out());
            Run text = run("validators", "status", "--genesis", genesis);
            assertTrue(text.out().contains("IN FORCE") && text.out().contains("proven:"), text.out());

            Path proposal = tmp.resolve("add-node4.json");
            Run propose = run("validators", "propose", "--genesis", genesis, "--out", proposal.toString(), "--add",
                    KeyPair.generate().publicKey().hex() + "@127.0.0.1:" + (port + 4) + "/node4");
            assertEquals(0, propose.exit(), propose.err());
            assertTrue(propose.out().contains("added: node4") && propose.out().contains("n 4 -> 5, f 1 -> 1, quorum 3 -> 4"),
                    propose.out());
            for (int i = 0; i < 3; i++) {
                Run approve = run("validators", "approve", "--genesis", genesis, "--proposal", proposal.toString(), "--key",
                        net.resolve("node" + i).resolve("node.key").toString());
                assertEquals(0, approve.exit(), approve.err());
            }
            Run submit = run("validators", "submit", "--genesis", genesis, "--proposal", proposal.toString(), "--key", account,
                    "--json");
            assertEquals(0, submit.exit(), submit.err());
            JsonNode receipt = submit.json();
            assertEquals("SUCCESS", receipt.get("status").asText(), submit.out());
            long firstHeight = receipt.get("first_height").asLong();
            assertEquals(ValidatorSets.firstHeight(receipt.get("height").asLong()), firstHeight);

            Run after = run("validators", "status", "--genesis", genesis, "--json");
            assertEquals(0, after.exit(), after.err());
            assertEquals(0, after.json().get("in_force_epoch").asInt(), after.out());
            assertEquals(1, after.json().get("pending").get("epoch").asInt(), after.out());
            assertEquals(firstHeight, after.json().get("pending").get("first_height").asLong(), after.out());
            Run again = run("validators", "submit", "--genesis", genesis, "--proposal", proposal.toString(), "--key", account);
            assertEquals(1, again.exit());
            assertTrue(again.err().contains("stale proposal: it replaces epoch 0"), again.err());
        } finally {
            for (ReplicaNode n : nodes) {
                n.close();
            }
        }
    }
}
