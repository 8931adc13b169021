package bftledger.ledger;

import bftledger.crypto.BatchDigest;
import bftledger.crypto.CommitVote;
import bftledger.crypto.Digest;
import bftledger.crypto.HeaderAnchor;
import bftledger.crypto.KeyPair;
import bftledger.crypto.PublicKey;
import bftledger.ledger.ValidatorSets.ValidatorSet;
import bftledger.ledger.proto.ChangeValidators;
import bftledger.ledger.proto.CommitCertificate;
import bftledger.ledger.proto.Validator;
import bftledger.ledger.proto.ValidatorApproval;
import com.google.protobuf.ByteString;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeMap;

/** A small deterministic network for tests: validator and user keys from labels, genesis, certificates. */
final class TestLedger {
    static final String CHAIN = "bftledger-test";

    final List<KeyPair> validators = new ArrayList<>();
    final List<KeyPair> users = new ArrayList<>();
    final ChainGenesis genesis;

    TestLedger(int n, int userCount, long balance) {
        List<Validator> vs = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            KeyPair k = KeyPair.deterministic("validator-" + i);
            validators.add(k);
            vs.add(ChainGenesis.validator(k.publicKey(), "127.0.0.1:" + (7000 + i), "node" + i));
        }
        TreeMap<PublicKey, Long> balances = new TreeMap<>();
        for (int i = 0; i < userCount; i++) {
            KeyPair k = KeyPair.deterministic("user-" + i);
            users.add(k);
            balances.put(k.publicKey(), balance);
        }
        genesis = ChainGenesis.build(CHAIN, vs, balances, 1_700_000_000_000L);
    }

    static TestLedger standard() {
        return new TestLedger(4, 8, 1_000_000);
    }

    PublicKey user(int i) {
        return users.get(i).publicKey();
    }

    ByteString account(int i) {
        return ByteString.copyFrom(user(i).bytes());
    }

    VerifiedTransaction transfer(int from, int to, long amount, long nonce) {
        return Transactions.signVerified(Transactions.transfer(CHAIN, user(from), nonce, user(to), amount), users.get(from));
    }

    VerifiedTransaction put(int from, String key, String value, long nonce) {
        return Transactions.signVerified(Transactions.putRecord(CHAIN, user(from), nonce, key, ByteString.copyFromUtf8(value)),
                users.get(from));
    }

    /** A certificate signed by the first quorum of validators. */
    CommitCertificate certify(long view, long height, Digest batchDigest) {
        TreeMap<Integer, byte[]> sigs = new TreeMap<>();
        for (int r = 0; r < genesis.quorum(); r++) {
            sigs.put(r, new CommitVote(view, height, batchDigest, r).sign(validators.get(r)));
        }
        return CommitCertificates.of(view, height, batchDigest, sigs);
    }

    CommitCertificate certify(long height, long timestamp, HeaderAnchor anchor, List<VerifiedTransaction> txs) {
        return certify(0, height, BatchDigest.of(timestamp, txs.stream().map(VerifiedTransaction::id).toList(), anchor));
    }

    /** A certificate signed by the first quorum of {@code signers} (a validator set, in replica order). */
    static CommitCertificate certifyBy(List<KeyPair> signers, long height, long timestamp, HeaderAnchor anchor,
            List<VerifiedTransaction> txs) {
        Digest digest = BatchDigest.of(timestamp, txs.stream().map(VerifiedTransaction::id).toList(), anchor);
        TreeMap<Integer, byte[]> sigs = new TreeMap<>();
        for (int r = 0; r < TrustRoot.quorum(signers.size()); r++) {
            sigs.put(r, new CommitVote(0, height, digest, r).sign(signers.get(r)));
        }
        return CommitCertificates.of(0, height, digest, sigs);
    }

    /** What a primary names in the batch after {@code previousHeight}: that block, as it does after executing it. */
    static HeaderAnchor anchorAfter(long previousHeight, Digest previousHash) {
        return previousHeight == 0 ? HeaderAnchor.NONE : new HeaderAnchor(previousHeight, previousHash);
    }

    /** Executes and appends the next block with a valid certificate, anchoring the tip as a primary would. */
    ExecutedBlock append(BlockStore store, long timestamp, List<VerifiedTransaction> txs) {
        BlockStore.Tip tip = store.tip();
        HeaderAnchor anchor = anchorAfter(tip.height(), tip.hash());
        return store.appendBatch(timestamp, anchor, txs, certify(tip.height() + 1, timestamp, anchor, txs));
    }

    /** As {@link #append(BlockStore, long, List)}, certified by {@code signers} (the set in force, in replica order). */
    ExecutedBlock append(BlockStore store, long timestamp, List<VerifiedTransaction> txs, List<KeyPair> signers) {
        BlockStore.Tip tip = store.tip();
        HeaderAnchor anchor = anchorAfter(tip.height(), tip.hash());
        return store.appendBatch(timestamp, anchor, txs, certifyBy(signers, tip.height() + 1, timestamp, anchor, txs));
    }

    /** {@code keys} as validators at local addresses 7100.., named v0.. */
    static List<Validator> described(List<KeyPair> keys) {
        List<Validator> vs = new ArrayList<>();
        for (int i = 0; i < keys.size(); i++) {
            vs.add(ChainGenesis.validator(keys.get(i).publicKey(), "127.0.0.1:" + (7100 + i), "v" + i));
        }
        return vs;
    }

    /** A change from {@code current} to {@code next} approved by the first {@code approvers} of {@code currentKeys}. */
    ChangeValidators change(ValidatorSet current, List<KeyPair> currentKeys, List<Validator> next, int approvers) {
        ChangeValidators.Builder c = ChangeValidators.newBuilder().setEpoch(current.epoch() + 1)
                .setCurrentSetHash(ByteString.copyFrom(current.hash().bytes())).addAllValidators(next);
        for (int r = 0; r < approvers; r++) {
            c.addApprovals(ValidatorApproval.newBuilder().setReplica(r)
                    .setSignature(ByteString.copyFrom(ValidatorSets.approve(currentKeys.get(r), genesis.hash(), current, next))));
        }
        return c.build();
    }

    /** {@code change} as user 0's transaction with {@code nonce}, signed and validated. */
    VerifiedTransaction changeTransaction(ChangeValidators change, long nonce) {
        var body = bftledger.ledger.proto.TransactionBody.newBuilder().setChainId(CHAIN)
                .setSender(ByteString.copyFrom(user(0).bytes())).setNonce(nonce).setChangeValidators(change).build();
        var signed = bftledger.ledger.proto.SignedTransaction.newBuilder().setBody(body.toByteString())
                .setSignature(ByteString.copyFrom(users.get(0).sign(bftledger.crypto.Domain.TRANSACTION, body.toByteArray())))
                .build();
        TxVerdict v = Transactions.validate(signed, CHAIN);
        if (!v.ok()) {
            throw new IllegalStateException(v.toString());
        }
        return v.transaction();
    }

    /** Builds the next block on a memory state (anchoring the one before), applies it, and returns it. */
    ExecutedBlock next(MemoryState state, Digest previousHash, long timestamp, List<VerifiedTransaction> txs) {
        return next(state, previousHash, timestamp, txs, validators);
    }

    /** As above, certified by {@code signers}. */
    ExecutedBlock next(MemoryState state, Digest previousHash, long timestamp, List<VerifiedTransaction> txs,
            List<KeyPair> signers) {
        long height = state.height() + 1;
        HeaderAnchor anchor = anchorAfter(height - 1, previousHash);
        ExecutedBlock b = BlockBuilder.build(genesis, state, previousHash, height, timestamp, anchor, txs,
                certifyBy(signers, height, timestamp, anchor, txs));
        state.apply(b.execution(), b.hash());
        return b;
    }

    /** The seed for a randomized test: -Dbftledger.seed replays one. */
    static long seed() {
        Long fixed = Long.getLong("bftledger.seed");
        return fixed != null ? fixed : new java.security.SecureRandom().nextLong();
    }
}
