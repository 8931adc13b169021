package bftledger.ledger;

import java.nio.file.Path;
import java.util.List;

/**
 * TEST ONLY: the child process of {@link StoreCrashTest}. Appends blocks to the store in
 * {@code args[0]} forever and prints {@code ACK <height> <hash>} after each append has returned
 * (that is, after LMDB's durable commit), until it is killed.
 */
public final class StoreCrashChild {
    static final int MAX_BLOCKS = 100_000;

    public static void main(String[] args) {
        TestLedger net = TestLedger.standard();
        try (BlockStore store = BlockStore.open(Path.of(args[0]), net.genesis)) {
            long start = store.height();
            for (long h = start + 1; h <= start + MAX_BLOCKS; h++) {
                List<VerifiedTransaction> txs = List.of(net.transfer((int) (h % 8), (int) ((h + 1) % 8), 1, h),
                        net.put((int) (h % 8), "crash", "h" + h, h));
                ExecutedBlock b = net.append(store, h, txs);
                System.out.println("ACK " + b.height() + " " + b.hash().hex());
                System.out.flush();
            }
        }
    }
}
