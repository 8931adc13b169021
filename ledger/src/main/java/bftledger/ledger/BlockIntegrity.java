package bftledger.ledger;

import bftledger.crypto.BatchDigest;
import bftledger.crypto.Digest;
import bftledger.crypto.HeaderAnchor;
import bftledger.crypto.MerkleTree;
import bftledger.crypto.Sha256;
import bftledger.ledger.proto.Block;
import bftledger.ledger.proto.BlockHeader;
import com.google.protobuf.ByteString;
import com.google.protobuf.InvalidProtocolBufferException;
import java.util.Optional;

/**
 * The check every stored block passes before it is used or served, from hashes alone: its
 * header is the one the chain recorded at its height (the blocks tree's leaf), its transactions
 * and receipts are the ones the header's roots commit to, and its certificate is for the batch
 * the header's fields give. LMDB keeps no checksums; this is what finds a flipped byte in a block
 * ({@code BlockStoreTest#aDamagedBlockIsNeverServedAndIsRepairedFromACertifiedCopy}). Signatures
 * are not checked again: they were when the block was stored.
 */
final class BlockIntegrity {
    private BlockIntegrity() {}

    /** Why {@code block}, stored whole at {@code height} with blocks-tree leaf {@code leaf}, is damaged, if it is. */
    static Optional<String> problem(Block block, long height, Digest leaf) {
        return problem(block, height, leaf, false);
    }

    /**
     * As {@link #problem(Block, long, Digest)}; a {@code pruned} block holds its header,
     * certificate and receipts only, so its header's tx_count and tx_root are taken as they are
     * (they are under the header hash the chain recorded) to check the certificate's batch.
     */
    static Optional<String> problem(Block block, long height, Digest leaf, boolean pruned) {
        BlockHeader header;
        try {
            header = Blocks.header(block);
        } catch (InvalidProtocolBufferException e) {
            return Optional.of("its header does not parse");
        }
        Digest hash = Sha256.hash(block.getHeader().toByteArray());
        if (leaf != null && !leaf.equals(MerkleTree.leafHash(hash.bytes()))) {
            return Optional.of("its header hashes to " + hash.shortHex() + ", not the hash the chain recorded at " + height);
        }
        if (header.getHeight() != height) {
            return Optional.of("its header says height " + header.getHeight());
        }
        int count;
        Digest txRoot;
        if (pruned) {
            if (block.getTransactionsCount() != 0) {
                return Optional.of("it is below the pruning height but holds transactions");
            }
            if (Integer.toUnsignedLong(header.getTxCount()) != block.getReceiptsCount()) {
                return Optional.of("it holds " + block.getReceiptsCount() + " receipts, its header "
                        + Integer.toUnsignedString(header.getTxCount()));
            }
            Optional<String> receipts = prunedReceiptsProblem(block, height, header);
            if (receipts.isPresent()) {
                return receipts;
            }
            count = header.getTxCount();
            txRoot = Digest.of(header.getTxRoot().toByteArray());
        } else {
            count = block.getTransactionsCount();
            if (Integer.toUnsignedLong(header.getTxCount()) != count || block.getReceiptsCount() != count) {
                return Optional.of("it holds " + count + " transactions and " + block.getReceiptsCount() + " receipts, its header "
                        + Integer.toUnsignedString(header.getTxCount()));
            }
            txRoot = BatchDigest.requestRoot(Blocks.txIds(block));
            if (!header.getTxRoot().equals(bytes(txRoot))) {
                return Optional.of("its transactions are not the ones under its tx_root");
            }
            if (!header.getReceiptsRoot().equals(bytes(ExecutionResult.receiptsRoot(block.getReceiptsList())))) {
                return Optional.of("its receipts are not the ones under its receipts_root");
            }
        }
        HeaderAnchor anchor;
        try {
            anchor = BlockStore.anchorOf(header);
        } catch (IllegalArgumentException e) {
            return Optional.of("its anchor is malformed");
        }
        Digest batch = BatchDigest.of(header.getTimestampMillis(), count, txRoot, anchor);
        if (!header.getBatchDigest().equals(bytes(batch)) || !block.getCertificate().getBatchDigest().equals(bytes(batch))
                || block.getCertificate().getSequence() != height) {
            return Optional.of("its certificate is not for the batch its header gives");
        }
        return Optional.empty();
    }

    /**
     * Why a pruned block's receipts are not the ones its header commits to, if they are not:
     * they must give its receipts_root, and name, in order, the transactions under its tx_root,
     * at this height and position.
     */
    static Optional<String> prunedReceiptsProblem(Block block, long height, BlockHeader header) {
        if (header.getTxRoot().size() != Digest.LENGTH) {
            return Optional.of("its tx_root is not 32 bytes");
        }
        if (!header.getReceiptsRoot().equals(bytes(ExecutionResult.receiptsRoot(block.getReceiptsList())))) {
            return Optional.of("its receipts are not the ones under its receipts_root");
        }
        java.util.List<Digest> ids = new java.util.ArrayList<>(block.getReceiptsCount());
        for (int i = 0; i < block.getReceiptsCount(); i++) {
            bftledger.ledger.proto.Receipt r = block.getReceipts(i);
            if (r.getTxId().size() != Digest.LENGTH || r.getHeight() != height || r.getIndex() != i) {
                return Optional.of("its receipt " + i + " is not for position " + i + " of block " + height);
            }
            ids.add(Digest.of(r.getTxId().toByteArray()));
        }
        if (!header.getTxRoot().equals(bytes(BatchDigest.requestRoot(ids)))) {
            return Optional.of("its receipts do not name the transactions under its tx_root");
        }
        return Optional.empty();
    }

    private static ByteString bytes(Digest d) {
        return ByteString.copyFrom(d.bytes());
    }
}
