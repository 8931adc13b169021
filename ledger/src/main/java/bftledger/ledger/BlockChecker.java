package bftledger.ledger;

import bftledger.crypto.BatchDigest;
import bftledger.crypto.Digest;
import bftledger.crypto.HeaderAnchor;
import bftledger.crypto.ParallelVerifier;
import bftledger.crypto.Sha256;
import bftledger.ledger.proto.Block;
import bftledger.ledger.proto.BlockHeader;
import bftledger.ledger.proto.Receipt;
import bftledger.ledger.proto.SignedTransaction;
import bftledger.ledger.proto.TransactionBody;
import com.google.protobuf.ByteString;
import com.google.protobuf.InvalidProtocolBufferException;
import java.util.ArrayList;
import java.util.List;

/**
 * Checks one block received from a peer or read from a store, collecting every problem rather
 * than stopping at the first: encoding, chain id, height, link to the previous block, tx_count,
 * tx_root, the anchor, validator_set_hash, batch_digest, the commit certificate, each
 * transaction's validity, and (given the state before it) blocks_root, the anchor's hash against
 * the chain, and re-execution against the stored receipts, receipts_root and state_root.
 * Used by {@link LedgerVerifier}, by {@link BlockStore} when it opens (tip only, without
 * re-execution) and by a node importing blocks during catch-up ({@link #checkNext}).
 */
public final class BlockChecker {
    private BlockChecker() {}

    /** The result: problems (empty when the block is good) and what could be computed. */
    public record BlockCheck(List<LedgerProblem> problems, Block block, BlockHeader header, Digest hash,
            ExecutionResult execution, int transactions) {
        public boolean ok() {
            return problems.isEmpty();
        }

        /** The block with its re-execution, ready for {@link BlockStore#append(ExecutedBlock)}; only when ok. */
        public ExecutedBlock executed() {
            if (!ok() || execution == null) {
                throw new IllegalStateException("block has problems: " + problems);
            }
            return new ExecutedBlock(block, header, hash, execution);
        }
    }

    /**
     * Fully checks {@code block} as the next block on {@code state} (whose tip hash is
     * {@code previousHash}), re-executing it. A node calls this for each block fetched during
     * catch-up, then appends {@link BlockCheck#executed()} when {@link BlockCheck#ok()}.
     */
    public static BlockCheck checkNext(ChainGenesis genesis, LedgerState state, Digest previousHash, Block block) {
        return check(genesis, null, state.height() + 1, previousHash, state, block, null, null);
    }

    /** As {@link #checkNext(ChainGenesis, LedgerState, Digest, Block)}, with transaction signatures checked on {@code verifier}. */
    public static BlockCheck checkNext(ChainGenesis genesis, LedgerState state, Digest previousHash, Block block,
            ParallelVerifier verifier) {
        return check(genesis, null, state.height() + 1, previousHash, state, block, verifier, null);
    }

    /**
     * As {@link #checkNext(ChainGenesis, LedgerState, Digest, Block)}, with each transaction
     * validated by {@code validator}: a node passes its cache of transactions whose signatures it
     * verified itself (as submitted, or in a PRE-PREPARE), so a block it fetched after falling
     * slightly behind does not cost every signature again. The validator must give exactly the
     * verdict {@link Transactions#validate(SignedTransaction, String)} would.
     */
    public static BlockCheck checkNext(ChainGenesis genesis, LedgerState state, Digest previousHash, Block block,
            java.util.function.Function<SignedTransaction, TxVerdict> validator) {
        return check(genesis, null, state.height() + 1, previousHash, state, block, null, validator);
    }

    /**
     * Checks a block as a replica serves it, without the state before it: encoding, chain,
     * height, link to {@code previousHash}, the anchor's shape, validator set, transaction and
     * receipt roots against the served transactions and receipts, the commit certificate and
     * every transaction's signature. What needs the chain below (blocks_root, the anchor's hash)
     * and re-execution is the caller's to check or leave out.
     */
    public static BlockCheck checkServed(ChainGenesis genesis, List<ValidatorSets.ValidatorSet> sets, long height,
            Digest previousHash, Block block) {
        return check(genesis, sets, height, previousHash, null, block, null, null);
    }

    /**
     * @param sets         the validator sets so far ({@link ValidatorSets#all}); with {@code base}
     *                     null they must come from the caller, otherwise base's own are used
     * @param previousHash expected previous_hash, or null when it is unknown (not checked)
     * @param base         the state before this block, or null to skip re-execution and the
     *                     checks that need the chain below (blocks_root, the anchor's hash)
     * @param verifier     where to check transaction signatures in parallel, or null for this thread
     */
    static BlockCheck check(ChainGenesis genesis, List<ValidatorSets.ValidatorSet> sets, long height, Digest previousHash,
            LedgerState base, Block block, ParallelVerifier verifier) {
        return check(genesis, sets, height, previousHash, base, block, verifier, null);
    }

    private static BlockCheck check(ChainGenesis genesis, List<ValidatorSets.ValidatorSet> sets, long height,
            Digest previousHash, LedgerState base, Block block, ParallelVerifier verifier,
            java.util.function.Function<SignedTransaction, TxVerdict> validator) {
        ValidatorSets.ValidatorSet signers = ValidatorSets.inForce(
                base != null ? ValidatorSets.all(genesis, base.record(ValidatorSets.RECORD)) : sets, height);
        List<LedgerProblem> problems = new ArrayList<>();
        BlockHeader header = parseHeader(height, block, problems);
        if (header == null) {
            return new BlockCheck(problems, block, null, null, null, 0);
        }
        Digest hash = Sha256.hash(block.getHeader().toByteArray());
        checkHeaderFields(genesis, signers, height, previousHash, header, problems);
        int blockBytes = block.getSerializedSize();
        if (blockBytes > Blocks.MAX_BLOCK_BYTES) {
            problems.add(problem(height, LedgerProblem.Kind.MALFORMED_BLOCK, blockBytes + " bytes, over MAX_BLOCK_BYTES"));
        }
        int count = block.getTransactionsCount();
        if (count > Blocks.MAX_TRANSACTIONS_PER_BLOCK) {
            problems.add(problem(height, LedgerProblem.Kind.TX_COUNT, count + " transactions, over MAX_TRANSACTIONS_PER_BLOCK"));
        }
        if (Integer.toUnsignedLong(header.getTxCount()) != count) {
            problems.add(problem(height, LedgerProblem.Kind.TX_COUNT,
                    "header says " + Integer.toUnsignedString(header.getTxCount()) + " transactions, block holds " + count));
        }
        List<Digest> ids = new ArrayList<>(count);
        List<TransactionBody> bodies = new ArrayList<>(count);
        boolean executable = true;
        List<TxVerdict> verdicts = validator != null ? block.getTransactionsList().stream().map(validator).toList()
                : verifier != null ? Transactions.validateAll(block.getTransactionsList(), genesis.chainId(), verifier)
                : block.getTransactionsList().stream().map(tx -> Transactions.validate(tx, genesis.chainId())).toList();
        for (int i = 0; i < count; i++) {
            SignedTransaction tx = block.getTransactions(i);
            ids.add(Transactions.id(tx));
            TxVerdict verdict = verdicts.get(i);
            if (!verdict.ok()) {
                problems.add(problem(height, LedgerProblem.Kind.TRANSACTION, "transaction " + i + " (" + ids.get(i).shortHex()
                        + ") " + verdict.reason() + ": " + verdict.detail()));
            }
            TransactionBody body = verdict.ok() ? verdict.transaction().body() : parseBody(tx);
            if (body == null) {
                executable = false;
            }
            bodies.add(body);
        }
        Digest txRoot = BatchDigest.requestRoot(ids);
        if (!header.getTxRoot().equals(bytes(txRoot))) {
            problems.add(problem(height, LedgerProblem.Kind.TX_ROOT,
                    "tx_root " + hex(header.getTxRoot()) + ", transactions give " + txRoot.hex()));
        }
        HeaderAnchor anchor = anchor(header, height, problems);
        if (base != null) {
            checkChain(height, header, anchor, base, problems);
        }
        checkBatch(genesis, signers, height, header, block, count, txRoot, anchor, problems);
        if (!header.getReceiptsRoot().equals(bytes(ExecutionResult.receiptsRoot(block.getReceiptsList())))) {
            problems.add(problem(height, LedgerProblem.Kind.RECEIPTS_ROOT, "receipts_root does not match the stored receipts"));
        }
        ExecutionResult execution = null;
        if (base != null && !executable) {
            problems.add(problem(height, LedgerProblem.Kind.RECEIPTS, "cannot re-execute: a transaction body does not parse"));
        } else if (base != null) {
            execution = Executor.executeBodies(genesis, base, height, ids, bodies);
            checkExecution(height, header, block.getReceiptsList(), execution, problems);
        }
        return new BlockCheck(List.copyOf(problems), block, header, hash, execution, count);
    }

    /**
     * Checks a block kept below a store's pruning height, which holds its header, certificate and
     * receipts: encoding, chain, height, link to {@code previousHash}, the anchor, validator set,
     * the receipts against receipts_root, and the certificate over the batch the header's own
     * tx_count and tx_root give; with {@code chain} (the hashes of the blocks below, null: not
     * checked) blocks_root and the anchor's hash too. The transactions are gone, so neither their
     * signatures nor a re-execution are checked.
     */
    public static BlockCheck checkPruned(ChainGenesis genesis, List<ValidatorSets.ValidatorSet> sets, long height,
            Digest previousHash, BlockHashes chain, Block block) {
        ValidatorSets.ValidatorSet signers = ValidatorSets.inForce(sets, height);
        List<LedgerProblem> problems = new ArrayList<>();
        BlockHeader header = parseHeader(height, block, problems);
        if (header == null) {
            return new BlockCheck(problems, block, null, null, null, 0);
        }
        Digest hash = Sha256.hash(block.getHeader().toByteArray());
        if (block.getTransactionsCount() != 0) {
            problems.add(problem(height, LedgerProblem.Kind.MALFORMED_BLOCK, "below the pruning height but holds transactions"));
        }
        if (Integer.toUnsignedLong(header.getTxCount()) != block.getReceiptsCount()) {
            problems.add(problem(height, LedgerProblem.Kind.TX_COUNT, "header says " + Integer.toUnsignedString(header.getTxCount())
                    + " transactions, the pruned block keeps " + block.getReceiptsCount() + " receipts"));
        }
        BlockIntegrity.prunedReceiptsProblem(block, height, header)
                .ifPresent(why -> problems.add(problem(height, LedgerProblem.Kind.RECEIPTS_ROOT, why)));
        checkHeaderFields(genesis, signers, height, previousHash, header, problems);
        HeaderAnchor anchor = anchor(header, height, problems);
        if (chain != null) {
            checkChain(height, header, anchor, chain, problems);
        }
        if (header.getTxRoot().size() == Digest.LENGTH) {
            checkBatch(genesis, signers, height, header, block, header.getTxCount(), Digest.of(header.getTxRoot().toByteArray()),
                    anchor, problems);
        }
        return new BlockCheck(List.copyOf(problems), block, header, hash, null, 0);
    }

    /**
     * The block's header, or null with the problem reported when it does not parse. A received
     * block is stored re-serialized; unknown fields would survive that and make the stored bytes
     * unreadable by Blocks.parse, so they are reported here too.
     */
    private static BlockHeader parseHeader(long height, Block block, List<LedgerProblem> problems) {
        BlockHeader header;
        try {
            header = Blocks.header(block);
        } catch (InvalidProtocolBufferException e) {
            problems.add(new LedgerProblem(height, LedgerProblem.Kind.MALFORMED_BLOCK, "header does not parse: " + e.getMessage()));
            return null;
        }
        if (Blocks.hasUnknownFields(block)) {
            problems.add(problem(height, LedgerProblem.Kind.MALFORMED_BLOCK, "block carries unknown fields"));
        }
        return header;
    }

    /**
     * The header's batch_digest against the batch it describes, and the commit certificate over
     * that batch, by the set in force at its height.
     */
    private static void checkBatch(ChainGenesis genesis, ValidatorSets.ValidatorSet signers, long height, BlockHeader header, Block block, int count, Digest txRoot,
            HeaderAnchor anchor, List<LedgerProblem> problems) {
        Digest batchDigest = BatchDigest.of(header.getTimestampMillis(), count, txRoot, anchor);
        if (!header.getBatchDigest().equals(bytes(batchDigest))) {
            problems.add(problem(height, LedgerProblem.Kind.BATCH_DIGEST,
                    "batch_digest " + hex(header.getBatchDigest()) + ", recomputed " + batchDigest.hex()));
        }
        CommitCertificates.Verdict cert = CommitCertificates.verify(
                block.hasCertificate() ? block.getCertificate() : null, signers.trust(genesis), batchDigest, height);
        if (!cert.ok()) {
            problems.add(problem(height, LedgerProblem.Kind.CERTIFICATE, cert.toString()));
        }
    }

    /** The checks of a header's own fields every block gets: chain id, height, link, genesis hash, validator set. */
    private static void checkHeaderFields(ChainGenesis genesis, ValidatorSets.ValidatorSet signers, long height,
            Digest previousHash, BlockHeader header, List<LedgerProblem> problems) {
        if (!header.getChainId().equals(genesis.chainId())) {
            problems.add(problem(height, LedgerProblem.Kind.CHAIN_ID, "header chain id '" + header.getChainId() + "'"));
        }
        if (header.getHeight() != height) {
            problems.add(problem(height, LedgerProblem.Kind.HEIGHT,
                    "header says height " + Long.toUnsignedString(header.getHeight()) + " at position " + height));
        }
        if (previousHash != null && !header.getPreviousHash().equals(bytes(previousHash))) {
            problems.add(problem(height, LedgerProblem.Kind.CHAIN_LINK, "previous_hash " + hex(header.getPreviousHash())
                    + " but the previous block's hash is " + previousHash.hex()));
        }
        if (!header.getGenesisHash().equals(bytes(genesis.hash()))) {
            problems.add(problem(height, LedgerProblem.Kind.CHAIN_ID, "genesis_hash " + hex(header.getGenesisHash())
                    + ", this network's genesis is " + genesis.hash().hex()));
        }
        if (!header.getValidatorSetHash().equals(bytes(signers.hash()))) {
            problems.add(problem(height, LedgerProblem.Kind.VALIDATOR_SET, "validator_set_hash "
                    + hex(header.getValidatorSetHash()) + ", the set in force (epoch " + signers.epoch() + ") hashes to "
                    + signers.hash().hex()));
        }
    }

    /**
     * blocks_root and the anchor's hash of a block checked without re-execution, against
     * {@code chain}: the hashes of the blocks below it (its state is not read).
     */
    public static List<LedgerProblem> checkAgainstChain(long height, BlockHeader header, BlockHashes chain) {
        List<LedgerProblem> problems = new ArrayList<>();
        HeaderAnchor anchor = anchor(header, height, new ArrayList<>());
        checkChain(height, header, anchor, chain, problems);
        return problems;
    }

    /** The header's anchor; an anchor that cannot be one is reported and read as none. */
    private static HeaderAnchor anchor(BlockHeader header, long height, List<LedgerProblem> problems) {
        long anchorHeight = header.getAnchorHeight();
        ByteString hash = header.getAnchorHash();
        if (hash.size() != Digest.LENGTH || anchorHeight < 0 || (anchorHeight == 0 && !hash.equals(bytes(Digest.ZERO)))
                || (anchorHeight != 0 && Long.compareUnsigned(anchorHeight, height) >= 0)) {
            problems.add(problem(height, LedgerProblem.Kind.ANCHOR, "anchor (" + Long.toUnsignedString(anchorHeight) + ", "
                    + hex(hash) + ") does not name an earlier block"));
            return HeaderAnchor.NONE;
        }
        return new HeaderAnchor(anchorHeight, Digest.of(hash.toByteArray()));
    }

    /** blocks_root and the anchor against the chain below this block. */
    private static void checkChain(long height, BlockHeader header, HeaderAnchor anchor, BlockHashes base,
            List<LedgerProblem> problems) {
        Digest blocksRoot = base.blocksRoot();
        if (!header.getBlocksRoot().equals(bytes(blocksRoot))) {
            problems.add(problem(height, LedgerProblem.Kind.BLOCKS_ROOT, "blocks_root " + hex(header.getBlocksRoot())
                    + ", the blocks below give " + blocksRoot.hex()));
        }
        if (!anchor.isNone() && !base.blockHashIs(anchor.height(), anchor.hash())) {
            problems.add(problem(height, LedgerProblem.Kind.ANCHOR, "the batch certifies " + anchor
                    + ", which is not the block at that height in this chain"));
        }
    }

    private static void checkExecution(long height, BlockHeader header, List<Receipt> stored, ExecutionResult execution,
            List<LedgerProblem> problems) {
        List<Receipt> computed = execution.receipts();
        if (stored.size() != computed.size()) {
            problems.add(problem(height, LedgerProblem.Kind.RECEIPTS,
                    stored.size() + " stored receipts for " + computed.size() + " transactions"));
        } else {
            for (int i = 0; i < computed.size(); i++) {
                if (!stored.get(i).equals(computed.get(i))) {
                    problems.add(problem(height, LedgerProblem.Kind.RECEIPTS, "receipt " + i + " stored as "
                            + brief(stored.get(i)) + ", re-execution gives " + brief(computed.get(i))));
                }
            }
        }
        if (!header.getReceiptsRoot().equals(bytes(execution.receiptsRoot()))) {
            problems.add(problem(height, LedgerProblem.Kind.RECEIPTS_ROOT, "receipts_root " + hex(header.getReceiptsRoot())
                    + ", re-execution gives " + execution.receiptsRoot().hex()));
        }
        Digest stateRoot = execution.stateRoot();
        if (!header.getStateRoot().equals(bytes(stateRoot))) {
            problems.add(problem(height, LedgerProblem.Kind.STATE_ROOT,
                    "state_root " + hex(header.getStateRoot()) + ", re-execution gives " + stateRoot.hex()));
        }
    }

    private static TransactionBody parseBody(SignedTransaction tx) {
        try {
            return TransactionBody.parseFrom(tx.getBody());
        } catch (InvalidProtocolBufferException e) {
            return null;
        }
    }

    private static String brief(Receipt r) {
        return r.getStatus() + (r.getReason().isEmpty() ? "" : " (" + r.getReason() + ")") + " at " + r.getHeight() + "/" + r.getIndex();
    }

    private static LedgerProblem problem(long height, LedgerProblem.Kind kind, String message) {
        return new LedgerProblem(height, kind, message);
    }

    private static ByteString bytes(Digest d) {
        return ByteString.copyFrom(d.bytes());
    }

    private static String hex(ByteString b) {
        return ChainGenesis.hex(b);
    }
}
