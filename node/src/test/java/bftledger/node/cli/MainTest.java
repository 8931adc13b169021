package bftledger.node.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class MainTest {
    @TempDir
    Path tmp;
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

    private String stdout() {
        return out.toString(StandardCharsets.UTF_8);
    }

    private String stderr() {
        return err.toString(StandardCharsets.UTF_8);
    }

    @Test
    void everyCommandHasHelpAndUsageErrorsExitTwo() {
        String[][] commands = {{}, {"keygen"}, {"init"}, {"node", "start"}, {"status"}, {"transfer"}, {"put"}, {"tx", "show"},
                {"account", "show"}, {"block", "show"}, {"audit"}};
        for (String[] c : commands) {
            String[] args = java.util.Arrays.copyOf(c, c.length + 1);
            args[c.length] = "--help";
            assertEquals(0, Main.run(args), String.join(" ", args));
        }
        assertTrue(stdout().contains("--json"), "commands document --json");
        assertEquals(2, Main.run("no-such-command"));
        assertEquals(2, Main.run("transfer", "--amount", "5"), "missing required options is a usage error");
    }

    @Test
    void keygenWritesAnOwnerOnlyKeyAndRefusesToOverwrite() throws Exception {
        Path key = tmp.resolve("k").resolve("my.key");
        assertEquals(0, Main.run("keygen", "--out", key.toString(), "--json"));
        assertTrue(stdout().contains("\"public_key\":\""), stdout());
        assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(key)));
        assertEquals(1, Main.run("keygen", "--out", key.toString()));
        assertTrue(stderr().contains("Refusing to overwrite"), stderr());
    }

    @Test
    void initWritesANetworkAndRefusesBadSizesAndReuse() throws Exception {
        Path dir = tmp.resolve("net");
        assertEquals(1, Main.run("init", "--nodes", "3", "--dir", dir.toString()));
        assertTrue(stderr().contains("--nodes must be 4 to"), stderr());
        assertEquals(0, Main.run("init", "--nodes", "4", "--dir", dir.toString(), "--accounts", "2", "--json"));
        for (int i = 0; i < 4; i++) {
            assertTrue(Files.exists(dir.resolve("node" + i).resolve("node.properties")));
            assertTrue(Files.exists(dir.resolve("node" + i).resolve("node.key")));
        }
        assertTrue(Files.exists(dir.resolve("accounts").resolve("account1.key")));
        assertEquals(1, Main.run("init", "--nodes", "4", "--dir", dir.toString(), "--json"));
        assertTrue(stdout().contains("\"ok\":false"), "a --json failure is JSON too: " + stdout());
        assertTrue(stderr().contains("already exists"), stderr());
    }

    @Test
    void clientCommandsWithoutANetworkSayWhatToDo() {
        assertEquals(1, Main.run("status", "--genesis", tmp.resolve("missing.bin").toString()));
        assertTrue(stderr().contains("bftledger init"), stderr());
        assertEquals(1, Main.run("audit", "--genesis", tmp.resolve("missing.bin").toString()));
        assertTrue(stderr().contains("exactly one of --data"), stderr());
    }
}
