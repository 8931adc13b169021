package bftledger.ledger;

import bftledger.crypto.Digest;
import bftledger.ledger.proto.Block;
import com.google.protobuf.ByteString;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;

/**
 * The checks a block store passes at open, from its metadata and its tip alone (the whole chain
 * is the offline audit's job, {@link LedgerVerifier}): the format, chain and genesis it belongs
 * to, that the metadata's height is the last stored block, and that the tip block passes every
 * check that needs no re-execution, links to the block before it, and is what the tip hash and
 * state root say.
 */
final class StoreTail {
    private StoreTail() {}

    static void check(StoreEnv store, ChainGenesis genesis, StoreSnapshot s) {
        byte[] version = store.meta.get(s.txn, StoreEnv.META_FORMAT_VERSION);
        int format = version == null || version.length != 4 ? -1 : ByteBuffer.wrap(version).getInt();
        boolean pruned = store.meta.get(s.txn, StoreEnv.META_PRUNED_BELOW) != null;
        if (format != (pruned ? StoreEnv.FORMAT_PRUNED : StoreEnv.FORMAT_VERSION)) {
            throw new StoreCorruptedException(store.dir + ": metadata key format_version is not "
                    + (pruned ? StoreEnv.FORMAT_PRUNED + " (the store is pruned)" : StoreEnv.FORMAT_VERSION));
        }
        byte[] chainId = store.meta.get(s.txn, StoreEnv.META_CHAIN_ID);
        if (chainId == null || !new String(chainId, StandardCharsets.UTF_8).equals(genesis.chainId())) {
            throw new StoreCorruptedException(store.dir + ": metadata key chain_id is not '" + genesis.chainId() + "'");
        }
        Digest storedGenesis = store.digest(s.txn, StoreEnv.META_GENESIS_HASH);
        if (!storedGenesis.equals(genesis.hash())) {
            throw new StoreCorruptedException(store.dir + ": store belongs to genesis " + storedGenesis.hex()
                    + ", not the given genesis " + genesis.hash().hex());
        }
        long height = s.height();
        Digest tipHash = s.tipHash();
        Digest stateRoot = s.stateRoot();
        long last = s.lastBlockHeight();
        if (last != height) {
            throw new StoreCorruptedException(store.dir + ": metadata height is " + height + " but the last stored block is at height " + last);
        }
        long prunedBelow = s.prunedBelow();
        if (prunedBelow < 1 || (height > 0 && prunedBelow > height)) {
            throw new StoreCorruptedException(store.dir + ": metadata pruned_below is " + prunedBelow + ", the tip " + height
                    + "; the tip block is always stored whole");
        }
        if (height == 0) {
            if (!tipHash.equals(genesis.hash()) || !stateRoot.equals(genesis.stateRoot())) {
                throw new StoreCorruptedException(store.dir + ": at height 0 the metadata tip hash and state root must be genesis's");
            }
            return;
        }
        Block tip = s.parseStoredBlock(height);
        Digest previousHash = height == 1 ? genesis.hash() : Blocks.hash(s.parseStoredBlock(height - 1));
        BlockChecker.BlockCheck check = BlockChecker.check(genesis, ValidatorSets.all(genesis, s.record(ValidatorSets.RECORD)),
                height, previousHash, null, tip, null);
        if (!check.ok()) {
            throw new StoreCorruptedException(store.dir + ": tip block at height " + height + " is damaged: " + check.problems());
        }
        if (!check.hash().equals(tipHash)) {
            throw new StoreCorruptedException(store.dir + ": tip block at height " + height + " hashes to " + check.hash().hex()
                    + " but metadata tip_hash is " + tipHash.hex());
        }
        if (!check.header().getStateRoot().equals(ByteString.copyFrom(stateRoot.bytes()))) {
            throw new StoreCorruptedException(store.dir + ": tip block at height " + height + " has state root "
                    + ChainGenesis.hex(check.header().getStateRoot()) + " but metadata state_root is " + stateRoot.hex());
        }
    }
}
