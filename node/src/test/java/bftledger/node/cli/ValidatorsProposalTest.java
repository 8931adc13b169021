package bftledger.node.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import bftledger.crypto.KeyPair;
import bftledger.ledger.ChainGenesis;
import bftledger.ledger.ValidatorSets;
import bftledger.ledger.ValidatorSets.ValidatorSet;
import bftledger.ledger.proto.ValidatorApproval;
import bftledger.node.cli.ValidatorsEdits.Edit;
import bftledger.node.cli.ValidatorsEdits.Kind;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.TreeMap;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The proposal file and its approvals: what `validators approve` and `validators submit` check before anything is sent. */
class ValidatorsProposalTest {
    @TempDir
    Path tmp;
    private final ChainGenesis genesis = ChainGenesis.build("validators-test", ValidatorsEditsTest.fourValidators().validators(),
            new TreeMap<>(), 0);
    private final ValidatorSet inForce = ValidatorSets.genesisSet(genesis);

    private static KeyPair key(int i) {
        return ValidatorsEditsTest.key(i);
    }

    private ValidatorsProposal addNode4() throws UserError {
        return ValidatorsProposal.of(genesis, inForce, ValidatorsEdits.apply(inForce,
                List.of(new Edit(Kind.ADD, key(4).publicKey().hex() + "@10.0.0.5:7000/node4"))));
    }

    private static List<Integer> replicas(ValidatorsProposal p) {
        return p.approvals().stream().map(ValidatorApproval::getReplica).toList();
    }

    @Test
    void aProposalFileReadsBackAsWritten() throws Exception {
        ValidatorsProposal p = addNode4().approvedBy(key(2)).approvedBy(key(0));
        assertEquals(p, ValidatorsProposal.parse(CommandOutput.toIndentedJson(p.json())));
        Path file = tmp.resolve("change.json");
        addNode4().writeNew(file);
        ValidatorsProposal read = ValidatorsProposal.read(file);
        assertEquals(addNode4(), read);
        assertEquals(List.of(), read.approvals());
        String json = Files.readString(file);
        for (String field : List.of("\"genesis_hash\" : \"" + genesis.genesisHash().hex(), "\"epoch\" : 1",
                "\"current_set_hash\" : \"" + inForce.hash().hex(), "\"approvals\" : [ ]")) {
            assertTrue(json.contains(field), field + " in " + json);
        }
        UserError exists = assertThrows(UserError.class, () -> p.writeNew(file));
        assertTrue(exists.getMessage().contains("exists"), exists.getMessage());
        p.overwrite(file);
        assertEquals(p, ValidatorsProposal.read(file));
    }

    @Test
    void approvalsStayInReplicaOrderOneEachAndSatisfyTheLedger() throws Exception {
        ValidatorsProposal p = addNode4().approvedBy(key(3)).approvedBy(key(0)).approvedBy(key(3)).approvedBy(key(1));
        assertEquals(List.of(0, 1, 3), replicas(p));
        p.checkApprovals();
        p.checkQuorum();
        assertNull(ValidatorSets.problem(genesis, List.of(inForce), 1, p.change()), "the ledger takes what approve signs");
    }

    @Test
    void approveRefusesAKeyOutsideTheSetInForce() {
        UserError e = assertThrows(UserError.class, () -> addNode4().approvedBy(key(4)));
        assertTrue(e.getMessage().contains("is not a validator of epoch 0"), e.getMessage());
    }

    @Test
    void approveRefusesAStaleProposal() throws Exception {
        ValidatorsProposal p = addNode4();
        p.checkCurrent(inForce);
        ValidatorSet next = ValidatorsProposal.set(1, 129, p.validators());
        UserError e = assertThrows(UserError.class, () -> p.checkCurrent(next));
        assertTrue(e.getMessage().startsWith("stale proposal: it replaces epoch 0"), e.getMessage());
    }

    @Test
    void approveRefusesAProposalForAnotherNetwork() throws Exception {
        ChainGenesis other = ChainGenesis.build("other", ValidatorsEditsTest.fourValidators().validators(), new TreeMap<>(), 0);
        UserError e = assertThrows(UserError.class, () -> addNode4().checkGenesis(other));
        assertTrue(e.getMessage().contains("is for the network of genesis"), e.getMessage());
    }

    @Test
    void aFileChangedAfterItWasApprovedIsRefused() throws Exception {
        String json = CommandOutput.toIndentedJson(addNode4().approvedBy(key(0)).approvedBy(key(1)).json());
        // Someone moves the new validator to another address after the approvals were made.
        ValidatorsProposal moved = ValidatorsProposal.parse(json.replace("10.0.0.5:7000", "10.6.6.6:7000"));
        UserError e = assertThrows(UserError.class, moved::checkApprovals);
        assertTrue(e.getMessage().startsWith("tampered proposal: replica 0's approval does not verify"), e.getMessage());
        assertThrows(UserError.class, () -> moved.approvedBy(key(2)).checkApprovals());

        ValidatorsProposal p = addNode4().approvedBy(key(0)).approvedBy(key(1));
        ValidatorsProposal swapped = new ValidatorsProposal(p.chainId(), p.genesisHash(), p.replaces(), p.validators(),
                List.of(p.approvals().get(0), p.approvals().get(1).toBuilder().setSignature(p.approvals().get(0).getSignature()).build()));
        assertTrue(assertThrows(UserError.class, swapped::checkApprovals).getMessage().contains("replica 1's approval"));
        ValidatorsProposal reordered = new ValidatorsProposal(p.chainId(), p.genesisHash(), p.replaces(), p.validators(),
                List.of(p.approvals().get(1), p.approvals().get(0)));
        assertTrue(assertThrows(UserError.class, reordered::checkApprovals).getMessage().contains("increasing replica order"));

        String otherSet = json.replace(inForce.hash().hex(), ValidatorsProposal.set(0, 1, p.validators()).hash().hex());
        assertTrue(assertThrows(UserError.class, () -> ValidatorsProposal.parse(otherSet)).getMessage()
                .contains("current_set_hash is not the hash of the set it replaces"));
        assertTrue(assertThrows(UserError.class, () -> ValidatorsProposal.parse(json.replace("\"epoch\" : 1", "\"epoch\" : 2")))
                .getMessage().contains("does not follow the replaced epoch 0"));
        assertTrue(assertThrows(UserError.class, () -> ValidatorsProposal.parse("{\"format\": \"x\"}")).getMessage()
                .contains("not a validator-change proposal"));
    }

    @Test
    void submitRefusesTooFewApprovals() throws Exception {
        ValidatorsProposal two = addNode4().approvedBy(key(0)).approvedBy(key(1));
        UserError e = assertThrows(UserError.class, () -> ValidatorsSubmitCommand.checkedLocally(two, genesis));
        assertTrue(e.getMessage().startsWith("2 approvals, the set in force needs 3"), e.getMessage());
        ValidatorsSubmitCommand.checkedLocally(two.approvedBy(key(3)), genesis);
    }

    // ------------------------------------------------------------------------------ through the command line

    private final ByteArrayOutputStream out = new ByteArrayOutputStream();
    private final ByteArrayOutputStream err = new ByteArrayOutputStream();
    private PrintStream oldOut;
    private PrintStream oldErr;

    @BeforeEach
    void capture() {
        oldOut = System.out;
        oldErr = System.err;
        System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
        System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
    }

    @AfterEach
    void restore() {
        System.setOut(oldOut);
        System.setErr(oldErr);
    }

    @Test
    void theCommandsApproveOfflineAndRefuseToSubmitWithoutAQuorumBeforeSendingAnything() throws Exception {
        for (String c : List.of("status", "propose", "approve", "submit")) {
            assertEquals(0, Main.run("validators", c, "--help"), c);
        }
        Path net = tmp.resolve("net");
        // Nothing listens on these ports: a command that sent anything would fail another way.
        assertEquals(0, Main.run("init", "--nodes", "4", "--dir", net.toString(), "--accounts", "1", "--base-port", "1",
                "--metrics-base-port", "0"));
        String genesisFile = net.resolve("genesis.bin").toString();
        ChainGenesis g = new GenesisOption() {
            {
                genesis = net.resolve("genesis.bin");
            }
        }.read();
        ValidatorSet set = ValidatorSets.genesisSet(g);
        Path file = tmp.resolve("change.json");
        ValidatorsProposal.of(g, set, ValidatorsEdits.apply(set, List.of(new Edit(Kind.ROTATE, "3=" + key(7).publicKey().hex()))))
                .writeNew(file);
        for (int i : new int[] {1, 0}) {
            assertEquals(0, Main.run("validators", "approve", "--proposal", file.toString(), "--genesis", genesisFile, "--key",
                    net.resolve("node" + i).resolve("node.key").toString(), "--offline"), err.toString());
        }
        assertTrue(out.toString().contains("approvals: 2 of the 3 needed, from replicas [0, 1]"), out.toString());
        assertTrue(out.toString().contains("rotated: replica 3 node3"), out.toString());
        assertEquals(List.of(0, 1), replicas(ValidatorsProposal.read(file)));

        String account = net.resolve("accounts").resolve("account0.key").toString();
        assertEquals(1, Main.run("validators", "approve", "--proposal", file.toString(), "--genesis", genesisFile, "--key",
                account, "--offline"));
        assertTrue(err.toString().contains("is not a validator of epoch 0"), err.toString());
        assertEquals(1, Main.run("validators", "submit", "--proposal", file.toString(), "--genesis", genesisFile, "--key", account,
                "--json"));
        assertTrue(err.toString().contains("error: 2 approvals, the set in force needs 3"), err.toString());
        assertTrue(out.toString().contains("{\"ok\":false,\"error\":\"2 approvals, the set in force needs 3"), out.toString());
    }
}
