package bftledger.node.backup;

import static org.junit.jupiter.api.Assertions.assertEquals;

import bftledger.crypto.KeyPair;
import bftledger.crypto.PublicKey;
import bftledger.ledger.BlockStore;
import bftledger.ledger.ChainGenesis;
import bftledger.ledger.LedgerVerifier;
import bftledger.ledger.Transactions;
import bftledger.ledger.VerifiedTransaction;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.TreeMap;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;

/**
 * The figures in docs/operations.md (backup time and size), not a check: skipped unless
 * {@code -Dbftledger.figures=true}. Builds a store of {@code bftledger.figures.blocks} blocks of
 * {@code bftledger.figures.txs} transfers each through the append path a node uses, then times
 * the backup, its verification, the restore and the offline audit of the backup. The files stay
 * in {@code target/backup-figures/} for {@code du}.
 */
@EnabledIfSystemProperty(named = "bftledger.figures", matches = "true")
class BackupFiguresTest {
    private static final String CHAIN = "bftledger-figures";

    @Test
    void printBackupFigures() throws Exception {
        int blocks = Integer.getInteger("bftledger.figures.blocks", 5_000);
        int txs = Integer.getInteger("bftledger.figures.txs", 20);
        Path dir = Path.of("target", "backup-figures").toAbsolutePath();
        if (Files.exists(dir)) {
            try (Stream<Path> walk = Files.walk(dir)) {
                for (Path p : walk.sorted(Comparator.reverseOrder()).toList()) {
                    Files.delete(p);
                }
            }
        }
        List<KeyPair> validators = new ArrayList<>();
        List<bftledger.ledger.proto.Validator> vs = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            validators.add(KeyPair.deterministic("figures-validator-" + i));
            vs.add(ChainGenesis.validator(validators.get(i).publicKey(), "node" + i + ":7000", "node" + i));
        }
        List<KeyPair> accounts = new ArrayList<>();
        TreeMap<PublicKey, Long> balances = new TreeMap<>();
        for (int a = 0; a < 64; a++) {
            accounts.add(KeyPair.deterministic("figures-account-" + a));
            balances.put(accounts.get(a).publicKey(), 1_000_000_000L);
        }
        ChainGenesis genesis = ChainGenesis.build(CHAIN, vs, balances, 1_700_000_000_000L);
        Path ledger = dir.resolve("node").resolve("ledger");
        long nonce = 0;
        try (BlockStore store = BlockStore.open(ledger, genesis)) {
            for (int b = 1; b <= blocks; b++) {
                List<VerifiedTransaction> batch = new ArrayList<>();
                for (int t = 0; t < txs; t++) {
                    KeyPair from = accounts.get((int) (nonce % accounts.size()));
                    KeyPair to = KeyPair.deterministic("figures-payee-" + (nonce % 1000));
                    batch.add(Transactions.signVerified(Transactions.transfer(CHAIN, from.publicKey(), ++nonce, to.publicKey(), 3), from));
                }
                append(store, genesis, validators, batch);
            }
            long start = System.nanoTime();
            BackupManifest m = NodeBackup.write(store, t -> false,
                    new NodeBackup.Source(genesis, 0, validators.get(0).publicKey(), "offline"), dir.resolve("backup"));
            long backupMillis = (System.nanoTime() - start) / 1_000_000;
            System.out.printf("figures: %d blocks x %d transfers; backup %d ms (LMDB copy %d ms), %d bytes%n", blocks, txs,
                    backupMillis, m.copyMillis(), m.files().get(0).bytes());
        }
        long start = System.nanoTime();
        BackupCheck.Verified v = BackupCheck.verify(dir.resolve("backup"), genesis);
        System.out.printf("figures: verify (checksums, head) %d ms%n", (System.nanoTime() - start) / 1_000_000);
        start = System.nanoTime();
        Restore.install(v, genesis, dir.resolve("restored"), false, 1L << 30);
        System.out.printf("figures: restore (stage, open, index rebuilt) %d ms%n", (System.nanoTime() - start) / 1_000_000);
        start = System.nanoTime();
        LedgerVerifier.Report report = LedgerVerifier.verify(dir.resolve("restored").resolve("ledger"), genesis,
                LedgerVerifier.Progress.NONE);
        System.out.printf("figures: offline audit of the restored store %d ms%n", (System.nanoTime() - start) / 1_000_000);
        assertEquals(blocks, report.blocksChecked());
    }

    private static void append(BlockStore store, ChainGenesis genesis, List<KeyPair> validators, List<VerifiedTransaction> txs) {
        bftledger.node.TestBlocks.append(store, genesis, validators, txs);
    }
}
