package bftledger.node.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import bftledger.crypto.KeyFiles;
import bftledger.crypto.KeyPair;
import bftledger.crypto.PublicKey;
import bftledger.ledger.ChainGenesis;
import bftledger.ledger.ValidatorSets;
import bftledger.ledger.ValidatorSets.ValidatorSet;
import bftledger.ledger.proto.Validator;
import bftledger.node.cli.ValidatorsEdits.Edit;
import bftledger.node.cli.ValidatorsEdits.Kind;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** The edits `validators propose` applies to the set in force, and what the approvers are shown of them. */
class ValidatorsEditsTest {
    @TempDir
    Path tmp;

    static KeyPair key(int i) {
        return KeyPair.deterministic("validators-edits-" + i);
    }

    /** Four validators node0..node3 at 127.0.0.1:7000+i, epoch 0. */
    static ValidatorSet fourValidators() {
        List<Validator> validators = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            validators.add(ChainGenesis.validator(key(i).publicKey(), "127.0.0.1:" + (7000 + i), "node" + i));
        }
        return ValidatorsProposal.set(0, 1, validators);
    }

    private static List<Validator> apply(Edit... edits) throws UserError {
        return ValidatorsEdits.apply(fourValidators(), List.of(edits));
    }

    private static PublicKey keyOf(Validator v) {
        return PublicKey.of(v.getPublicKey().toByteArray());
    }

    @Test
    void anAddedValidatorIsTheLastReplicaWithItsAddressAndName() throws Exception {
        List<Validator> after = apply(new Edit(Kind.ADD, key(4).publicKey().hex() + "@10.0.0.5:7100/node4"));
        assertEquals(5, after.size());
        assertEquals(fourValidators().validators(), after.subList(0, 4));
        assertEquals(key(4).publicKey(), keyOf(after.get(4)));
        assertEquals("10.0.0.5:7100", after.get(4).getAddress());
        assertEquals("node4", after.get(4).getName());
        assertTrue(ValidatorSets.setProblem(after) == null);
    }

    @Test
    void aKeyFileGivesItsPublicKey() throws Exception {
        Path file = tmp.resolve("new.key");
        KeyFiles.writeKeyPair(file, key(9));
        List<Validator> after = apply(new Edit(Kind.ADD, file + "@host.example:7000"));
        assertEquals(key(9).publicKey(), keyOf(after.get(4)));
        assertEquals("", after.get(4).getName());
    }

    @Test
    void removeByIndexOrKeyShiftsTheLaterReplicas() throws Exception {
        List<Validator> added = apply(new Edit(Kind.ADD, key(4).publicKey().hex() + "@h:1/node4"), new Edit(Kind.REMOVE, "1"));
        assertEquals(List.of("node0", "node2", "node3", "node4"), added.stream().map(Validator::getName).toList());
        List<Validator> byKey = apply(new Edit(Kind.ADD, key(4).publicKey().hex() + "@h:1/node4"),
                new Edit(Kind.REMOVE, key(2).publicKey().hex()));
        assertEquals(List.of("node0", "node1", "node3", "node4"), byKey.stream().map(Validator::getName).toList());
    }

    @Test
    void replaceKeepsThePlaceAndRotateKeepsAddressAndName() throws Exception {
        List<Validator> replaced = apply(new Edit(Kind.REPLACE, "2=" + key(5).publicKey().hex() + "@10.0.0.9:7000/fresh"));
        assertEquals(key(5).publicKey(), keyOf(replaced.get(2)));
        assertEquals("10.0.0.9:7000", replaced.get(2).getAddress());
        assertEquals("fresh", replaced.get(2).getName());
        List<Validator> rotated = apply(new Edit(Kind.ROTATE, key(3).publicKey().hex() + "=" + key(6).publicKey().hex()));
        assertEquals(key(6).publicKey(), keyOf(rotated.get(3)));
        assertEquals("127.0.0.1:7003", rotated.get(3).getAddress());
        assertEquals("node3", rotated.get(3).getName());
    }

    @Test
    void editsApplyInTheOrderGiven() throws Exception {
        // Index 1 names node1 of the set in force even after an earlier edit moved it to replica 0.
        List<Validator> after = apply(new Edit(Kind.ADD, key(4).publicKey().hex() + "@h:1/node4"),
                new Edit(Kind.ADD, key(5).publicKey().hex() + "@h:2/node5"), new Edit(Kind.REMOVE, "0"),
                new Edit(Kind.ROTATE, "1=" + key(7).publicKey().hex()),
                new Edit(Kind.ROTATE, key(7).publicKey().hex() + "=" + key(8).publicKey().hex()));
        assertEquals(List.of("node1", "node2", "node3", "node4", "node5"), after.stream().map(Validator::getName).toList());
        assertEquals(key(8).publicKey(), keyOf(after.get(0)));
    }

    @Test
    void badEditsAreRefusedWithWhatIsWrong() {
        assertRefused("no replica 7 in the set in force", new Edit(Kind.REMOVE, "7"));
        assertRefused("is already validator 1 (node1", new Edit(Kind.ADD, key(1).publicKey().hex() + "@h:1"));
        assertRefused("is already validator 2", new Edit(Kind.ROTATE, "0=" + key(2).publicKey().hex()));
        assertRefused("a set needs 4 to 100 validators, got 3", new Edit(Kind.REMOVE, "3"));
        assertRefused("not in the set any more", new Edit(Kind.ADD, key(4).publicKey().hex() + "@h:1"), new Edit(Kind.REMOVE, "1"),
                new Edit(Kind.REMOVE, "1"));
        assertRefused("is not in the set.", new Edit(Kind.REMOVE, key(8).publicKey().hex()));
        assertRefused("is not HOST:PORT", new Edit(Kind.ADD, key(4).publicKey().hex() + "@nohost"));
        assertRefused("write INDEX_OR_KEY=KEY", new Edit(Kind.ROTATE, "1"));
        assertRefused("neither a 64-hex-digit public key nor an existing key file", new Edit(Kind.ADD, "nokey@h:1"));
        assertRefused("give at least one --add");
    }

    private static void assertRefused(String why, Edit... edits) {
        UserError e = assertThrows(UserError.class, () -> apply(edits));
        assertTrue(e.getMessage().contains(why), e.getMessage());
    }

    @Test
    void theCommandLineKeepsTheOrderOfMixedEdits() {
        ValidatorsProposeCommand command = new ValidatorsProposeCommand();
        new CommandLine(command).parseArgs("--out", "p.json", "--add", "A@h:1", "--remove", "1", "--rotate=2=B", "--add", "C@h:2",
                "--replace", "0=D@h:3");
        assertEquals(List.of(new Edit(Kind.ADD, "A@h:1"), new Edit(Kind.REMOVE, "1"), new Edit(Kind.ROTATE, "2=B"),
                new Edit(Kind.ADD, "C@h:2"), new Edit(Kind.REPLACE, "0=D@h:3")), command.edits());
    }

    @Test
    void theDiffNamesEachChange() throws Exception {
        ValidatorSet before = fourValidators();
        List<Validator> after = apply(new Edit(Kind.ROTATE, "1=" + key(5).publicKey().hex()),
                new Edit(Kind.REPLACE, "2=" + key(6).publicKey().hex() + "@10.0.0.9:1/fresh"),
                new Edit(Kind.ADD, key(7).publicKey().hex() + "@10.0.0.7:1/node7"));
        ValidatorsDiff diff = ValidatorsDiff.of(before.validators(), after);
        assertEquals(List.of(ValidatorsDiff.Change.ADDED, ValidatorsDiff.Change.ROTATED, ValidatorsDiff.Change.REPLACED),
                diff.entries().stream().map(ValidatorsDiff.Entry::change).toList());
        String text = diff.text();
        assertTrue(text.contains("added: node7 10.0.0.7:1 " + key(7).publicKey().hex().substring(0, 8) + " as replica 4"), text);
        assertTrue(text.contains("rotated: replica 1 node1 127.0.0.1:7001 " + key(1).publicKey().hex().substring(0, 8) + " -> key "
                + key(5).publicKey().hex().substring(0, 8)), text);
        assertTrue(text.contains("replaced: replica 2 node2 127.0.0.1:7002"), text);
        assertTrue(text.contains("n 4 -> 5, f 1 -> 1, quorum 3 -> 4"), text);

        ValidatorsDiff removal = ValidatorsDiff.of(after, ValidatorsEdits.apply(ValidatorsProposal.set(1, 200, after),
                List.of(new Edit(Kind.REMOVE, "0"))));
        assertEquals(List.of(ValidatorsDiff.Change.REMOVED, ValidatorsDiff.Change.MOVED, ValidatorsDiff.Change.MOVED,
                ValidatorsDiff.Change.MOVED, ValidatorsDiff.Change.MOVED),
                removal.entries().stream().map(ValidatorsDiff.Entry::change).toList());
        assertTrue(removal.text().contains("n 5 -> 4, f 1 -> 1, quorum 4 -> 3"), removal.text());
    }
}
