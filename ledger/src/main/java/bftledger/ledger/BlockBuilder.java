package bftledger.ledger;

import bftledger.crypto.BatchDigest;
import bftledger.crypto.Digest;
import bftledger.crypto.HeaderAnchor;
import bftledger.crypto.Sha256;
import bftledger.ledger.proto.Block;
import bftledger.ledger.proto.BlockHeader;
import bftledger.ledger.proto.CommitCertificate;
import com.google.protobuf.ByteString;
import java.util.List;

/**
 * Executes a committed batch on the state at the tip and produces the next block: header bytes
 * serialized once (their SHA-256 is the block hash), tx_root over the ids, batch_digest per
 * {@link BatchDigest} with the batch's anchor, receipts_root and state_root from the execution,
 * the validator set's hash and blocks_root from the state's blocks tree. Pure: writes nothing.
 */
public final class BlockBuilder {
    private BlockBuilder() {}

    /**
     * @param state           the state after {@code height - 1}
     * @param previousHash    hash of block {@code height - 1}, or the genesis hash for height 1
     * @param timestampMillis the primary's timestamp (0 for a null batch)
     * @param anchor          the earlier header the batch names (see {@link HeaderAnchor})
     * @param certificate     the commit certificate for this batch; its digest and sequence must
     *                        match (its signatures are the caller's to have checked)
     */
    public static ExecutedBlock build(ChainGenesis genesis, LedgerState state, Digest previousHash, long height,
            long timestampMillis, HeaderAnchor anchor, List<VerifiedTransaction> txs, CommitCertificate certificate) {
        if (txs.size() > Blocks.MAX_TRANSACTIONS_PER_BLOCK) {
            throw new IllegalArgumentException(txs.size() + " transactions, over MAX_TRANSACTIONS_PER_BLOCK");
        }
        List<Digest> ids = txs.stream().map(VerifiedTransaction::id).toList();
        Digest txRoot = BatchDigest.requestRoot(ids);
        Digest batchDigest = BatchDigest.of(timestampMillis, ids.size(), txRoot, anchor);
        if (certificate == null || certificate.getSequence() != height
                || !certificate.getBatchDigest().equals(bytes(batchDigest))) {
            throw new IllegalArgumentException("the certificate is not for batch " + batchDigest.shortHex() + " at " + height);
        }
        for (VerifiedTransaction tx : txs) {
            if (!tx.body().getChainId().equals(genesis.chainId())) {
                throw new IllegalArgumentException(tx + " was validated for another chain");
            }
        }
        ExecutionResult execution = Executor.execute(genesis, state, height, txs);
        BlockHeader header = BlockHeader.newBuilder()
                .setChainId(genesis.chainId())
                .setHeight(height)
                .setPreviousHash(bytes(previousHash))
                .setTxRoot(bytes(txRoot))
                .setTxCount(ids.size())
                .setTimestampMillis(timestampMillis)
                .setBatchDigest(bytes(batchDigest))
                .setReceiptsRoot(bytes(execution.receiptsRoot()))
                .setStateRoot(bytes(execution.stateRoot()))
                .setAnchorHeight(anchor.height())
                .setAnchorHash(bytes(anchor.hash()))
                .setValidatorSetHash(bytes(ValidatorSets.inForce(genesis, state, height).hash()))
                .setBlocksRoot(bytes(state.blocksRoot()))
                .setGenesisHash(bytes(genesis.hash()))
                .build();
        ByteString headerBytes = header.toByteString();
        Block.Builder block = Block.newBuilder().setHeader(headerBytes).setCertificate(certificate).addAllReceipts(execution.receipts());
        for (VerifiedTransaction tx : txs) {
            block.addTransactions(tx.signed());
        }
        return new ExecutedBlock(block.build(), header, Sha256.hash(headerBytes.toByteArray()), execution);
    }

    static ByteString bytes(Digest d) {
        return ByteString.copyFrom(d.bytes());
    }
}
