package bftledger.node.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class NodeConfigTest {
    @TempDir
    Path dir;

    private static final String VALID = "replica=2\nlisten.port=7002\ndata.dir=data\nkey.file=node.key\ngenesis.file=../genesis.bin\n"
            + "tls.cert.file=tls/tls.crt\ntls.key.file=tls/tls.key\n";

    private ConfigException bad(String text) throws Exception {
        Path file = dir.resolve("node.properties");
        Files.writeString(file, text);
        return assertThrows(ConfigException.class, () -> NodeConfig.read(file));
    }

    @Test
    void relativePathsResolveAgainstTheConfigFileAndDefaultsApply() throws Exception {
        Path file = dir.resolve("node.properties");
        Files.writeString(file, VALID);
        NodeConfig c = NodeConfig.read(file);
        assertEquals(2, c.replica());
        assertEquals("127.0.0.1", c.listenHost());
        assertEquals(dir.resolve("data").toAbsolutePath(), c.dataDir());
        assertEquals(dir.getParent().resolve("genesis.bin").toAbsolutePath(), c.genesisFile());
        assertEquals(NodeConfig.Tuning.defaults(), c.tuning());
        Files.writeString(file, c.toProperties());
        assertEquals(c.tuning(), NodeConfig.read(file).tuning(), "what toProperties writes reads back");
        assertEquals(c, NodeConfig.read(file), "what toProperties writes reads back");
        assertEquals(NodeConfig.Tls.files(dir.resolve("tls/tls.crt").toAbsolutePath(), dir.resolve("tls/tls.key").toAbsolutePath()),
                c.tls());
        assertEquals(0, c.healthPort());
    }

    @Test
    void tlsIsOnUnlessPlaintextIsWrittenDown() throws Exception {
        String noTls = VALID.replace("tls.cert.file=tls/tls.crt\ntls.key.file=tls/tls.key\n", "");
        assertTrue(bad(noTls).getMessage().contains("tls.plaintext=true"), "no TLS files and no plaintext flag is refused");
        assertTrue(bad(noTls + "tls.cert.file=a.crt\n").getMessage().contains("missing tls.cert.file and tls.key.file"));
        assertTrue(bad(VALID + "tls.plaintext=true\n").getMessage().contains("keep one or the other"));
        assertTrue(bad(noTls + "tls.plaintext=yes\n").getMessage().contains("write true or false"));
        Path file = dir.resolve("node.properties");
        Files.writeString(file, noTls + "tls.plaintext=true\nhealth.port=7200\n");
        NodeConfig plain = NodeConfig.read(file);
        assertTrue(plain.tls().plaintext());
        assertEquals(7200, plain.healthPort());
        Files.writeString(file, plain.toProperties());
        assertEquals(plain, NodeConfig.read(file));
    }

    @Test
    void theSigningMarkDefaultsBesideTheKeyAndRejoiningNonVotingIsOff() throws Exception {
        Path file = dir.resolve("node.properties");
        Files.writeString(file, VALID);
        NodeConfig c = NodeConfig.read(file);
        assertEquals(dir.resolve("signing-mark").toAbsolutePath(), c.signingMarkFile());
        assertEquals(false, c.rejoinNonVoting());
        Files.writeString(file, VALID + "signing.mark.file=/var/lib/bftledger/mark\nrejoin.non.voting=true\n");
        c = NodeConfig.read(file);
        assertEquals(Path.of("/var/lib/bftledger/mark"), c.signingMarkFile());
        assertEquals(true, c.rejoinNonVoting());
        Files.writeString(file, c.toProperties());
        assertEquals(c, NodeConfig.read(file), "what toProperties writes reads back");
        assertTrue(bad(VALID + "rejoin.non.voting=yes\n").getMessage().contains("must be true or false"));
    }

    @Test
    void pruningIsOffByDefaultAndKeepsAtLeastTheMinimum() throws Exception {
        Path file = dir.resolve("node.properties");
        Files.writeString(file, VALID);
        assertEquals(0, NodeConfig.read(file).pruneKeepBlocks());
        Files.writeString(file, VALID + "prune.keep.blocks=100000\n");
        NodeConfig c = NodeConfig.read(file);
        assertEquals(100_000, c.pruneKeepBlocks());
        Files.writeString(file, c.toProperties());
        assertEquals(c, NodeConfig.read(file), "what toProperties writes reads back");
        Files.writeString(file, VALID + "prune.keep.blocks=" + NodeConfig.PRUNE_KEEP_BLOCKS_MIN + "\n");
        assertEquals(NodeConfig.PRUNE_KEEP_BLOCKS_MIN, NodeConfig.read(file).pruneKeepBlocks());
        String tooFew = bad(VALID + "prune.keep.blocks=" + (NodeConfig.PRUNE_KEEP_BLOCKS_MIN - 1) + "\n").getMessage();
        assertTrue(tooFew.contains("prune.keep.blocks") && tooFew.contains("at least " + NodeConfig.PRUNE_KEEP_BLOCKS_MIN), tooFew);
        assertTrue(bad(VALID + "prune.keep.blocks=-1\n").getMessage().contains("prune.keep.blocks"));
    }

    @Test
    void snapshotsAreTakenByDefaultAndStateSyncIsOptIn() throws Exception {
        Path file = dir.resolve("node.properties");
        Files.writeString(file, VALID);
        assertEquals(NodeConfig.StateSync.defaults(), NodeConfig.read(file).stateSync());
        assertFalse(NodeConfig.read(file).stateSync().joinBySync());
        Files.writeString(file, VALID + "state.sync=true\nsnapshot.interval.blocks=64\nsnapshot.keep=3\n");
        NodeConfig c = NodeConfig.read(file);
        assertEquals(new NodeConfig.StateSync(true, 64, 3), c.stateSync());
        Files.writeString(file, c.toProperties());
        assertEquals(c, NodeConfig.read(file), "what toProperties writes reads back");
        assertEquals(0, read(VALID + "snapshot.interval.blocks=0\n").stateSync().snapshotIntervalBlocks(), "0 takes none");
        String tooOften = bad(VALID + "snapshot.interval.blocks=63\n").getMessage();
        assertTrue(tooOften.contains("snapshot.interval.blocks") && tooOften.contains("at least 64"), tooOften);
        assertTrue(bad(VALID + "snapshot.keep=0\n").getMessage().contains("snapshot.keep"));
        assertTrue(bad(VALID + "snapshot.keep=17\n").getMessage().contains("snapshot.keep"));
        assertTrue(bad(VALID + "state.sync=maybe\n").getMessage().contains("must be true or false"));
    }

    private NodeConfig read(String text) throws Exception {
        Path file = dir.resolve("ok.properties");
        Files.writeString(file, text);
        return NodeConfig.read(file);
    }

    @Test
    void mistakesAreNamedWithTheKeyAndTheFix() throws Exception {
        assertTrue(bad(VALID + "tuning.verify.thread=2\n").getMessage().contains("unknown keys [tuning.verify.thread]"));
        assertTrue(bad(VALID.replace("listen.port=7002", "listen.port=seven")).getMessage().contains("'listen.port' is 'seven'"));
        assertTrue(bad(VALID.replace("listen.port=7002", "listen.port=70000")).getMessage().contains("between 1 and 65535"));
        assertTrue(bad(VALID.replace("replica=2\n", "")).getMessage().contains("missing required key 'replica'"));
        ConfigException missing = assertThrows(ConfigException.class, () -> NodeConfig.read(dir.resolve("nope.properties")));
        assertTrue(missing.getMessage().contains("bftledger init"), missing.getMessage());
    }

    @Test
    void genesisAndKeyProblemsSayWhatToDo() throws Exception {
        ConfigException noGenesis = assertThrows(ConfigException.class, () -> GenesisFile.read(dir.resolve("genesis.bin")));
        assertTrue(noGenesis.getMessage().contains("does not exist"), noGenesis.getMessage());
        Files.write(dir.resolve("garbage.bin"), new byte[] {1, 2, 3, 4});
        ConfigException garbage = assertThrows(ConfigException.class, () -> GenesisFile.read(dir.resolve("garbage.bin")));
        assertTrue(garbage.getMessage().contains("not a valid genesis"), garbage.getMessage());
        ConfigException noKey = assertThrows(ConfigException.class, () -> Keys.read(dir.resolve("node.key")));
        assertTrue(noKey.getMessage().contains("bftledger keygen"), noKey.getMessage());
    }
}
