package bftledger.ledger;

import bftledger.crypto.Digest;
import bftledger.crypto.Domain;
import bftledger.crypto.KeyPair;
import bftledger.crypto.PublicKey;
import bftledger.crypto.Sha256;
import bftledger.ledger.proto.ChangeValidators;
import bftledger.ledger.proto.Validator;
import bftledger.ledger.proto.ValidatorApproval;
import bftledger.ledger.proto.ValidatorEpoch;
import bftledger.ledger.proto.ValidatorSetRecord;
import com.google.protobuf.ByteString;
import com.google.protobuf.InvalidProtocolBufferException;
import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/**
 * The chain of validator sets: genesis's (epoch 0), then each set a ChangeValidators transaction
 * named, kept in the VALIDATORS record of the state (rules in ledger.proto). Which set signs a
 * height is a function of the ledger alone, so every replica, auditor and client that has
 * executed (or proven) the same blocks checks a certificate against the same keys.
 */
public final class ValidatorSets {
    /** The VALIDATORS record's owner: SHA-256("bftledger/v1/system" 0x00), a key nobody can sign for. */
    public static final ByteString SYSTEM_OWNER = ByteString.copyFrom(
            Sha256.hash("bftledger/v1/system\0".getBytes(StandardCharsets.US_ASCII)).bytes());
    public static final RecordKey RECORD = RecordKey.of(SYSTEM_OWNER, "validators");
    /** A set takes over at a multiple of this plus one (a checkpoint boundary of every core). */
    public static final long BOUNDARY_BLOCKS = 64;
    public static final int MIN_VALIDATORS = 4;
    public static final int MAX_ADDRESS_BYTES = 255;
    public static final int MAX_NAME_BYTES = 64;

    private ValidatorSets() {}

    /** One set and the heights it signs: from {@code fromHeight} until the next set's. */
    public record ValidatorSet(long epoch, long fromHeight, List<Validator> validators, List<PublicKey> keys, Digest hash) {
        public ValidatorSet {
            validators = List.copyOf(validators);
            keys = List.copyOf(keys);
        }

        public int n() {
            return keys.size();
        }

        public int quorum() {
            return TrustRoot.quorum(n());
        }

        /** This replica's index in the set, or -1 when {@code key} is not a member. */
        public int indexOf(PublicKey key) {
            return keys.indexOf(key);
        }

        public List<String> addresses() {
            return validators.stream().map(Validator::getAddress).toList();
        }

        /** This set as what certificates are checked against, for {@code genesis}'s network. */
        public TrustRoot trust(TrustRoot genesis) {
            return new SetTrust(genesis.chainId(), genesis.genesisHash(), keys);
        }
    }

    private record SetTrust(String chainId, Digest genesisHash, List<PublicKey> validatorKeys) implements TrustRoot {}

    /** {@code genesis}'s network with {@code sets} followed: each height's certificate checked against its own set. */
    public static TrustRoot trustChain(TrustRoot genesis, List<ValidatorSet> sets) {
        return new ChainTrust(genesis, List.copyOf(sets));
    }

    private record ChainTrust(TrustRoot genesis, List<ValidatorSet> sets) implements TrustRoot {
        @Override
        public String chainId() {
            return genesis.chainId();
        }

        @Override
        public Digest genesisHash() {
            return genesis.genesisHash();
        }

        /** The latest set's keys: who signs from now on. */
        @Override
        public List<PublicKey> validatorKeys() {
            return latest(sets).keys();
        }

        @Override
        public TrustRoot atHeight(long height) {
            return inForce(sets, height).trust(genesis);
        }
    }

    /** Genesis's set: epoch 0, from height 1. */
    public static ValidatorSet genesisSet(ChainGenesis genesis) {
        return new ValidatorSet(0, 1, genesis.genesis().getValidatorsList(), genesis.validatorKeys(), genesis.validatorSetHash());
    }

    /**
     * Genesis's set as a client knows it: its keys, with {@code addresses} in replica order
     * (names are not known, and no approval covers genesis's own set).
     */
    public static ValidatorSet genesisSet(TrustRoot genesis, List<String> addresses) {
        if (genesis instanceof ChainGenesis g) {
            return genesisSet(g);
        }
        List<Validator> validators = new ArrayList<>();
        for (int i = 0; i < genesis.n(); i++) {
            validators.add(Validator.newBuilder().setPublicKey(ByteString.copyFrom(genesis.validatorKeys().get(i).bytes()))
                    .setAddress(i < addresses.size() ? addresses.get(i) : "").build());
        }
        return new ValidatorSet(0, 1, validators, genesis.validatorKeys(), ChainGenesis.validatorSetHash(genesis.validatorKeys()));
    }

    /** Every set in order, genesis's first, from the VALIDATORS record's value (absent: genesis's only). */
    public static List<ValidatorSet> all(ChainGenesis genesis, Optional<RecordValue> record) {
        // Read for every block built or checked; the record changes a few times in a network's life.
        Parsed cached = lastParsed;
        ByteString value = record.map(RecordValue::value).orElse(ByteString.EMPTY);
        if (cached != null && cached.genesis == genesis && cached.value.equals(value)) {
            return cached.sets;
        }
        List<ValidatorSet> sets = parseAll(genesis, record);
        lastParsed = new Parsed(genesis, value, sets);
        return sets;
    }

    private record Parsed(ChainGenesis genesis, ByteString value, List<ValidatorSet> sets) {}

    private static volatile Parsed lastParsed;

    private static List<ValidatorSet> parseAll(ChainGenesis genesis, Optional<RecordValue> record) {
        List<ValidatorSet> sets = new ArrayList<>();
        sets.add(genesisSet(genesis));
        if (record.isPresent()) {
            for (ValidatorEpoch e : parse(record.get().value()).getEpochsList()) {
                sets.add(of(e.getEpoch(), e.getFromHeight(), e.getValidatorsList()));
            }
        }
        return List.copyOf(sets);
    }

    /**
     * The sets a VALIDATORS record value names, each checked to be approved by a quorum of the
     * set before it, from genesis's on: what a client that trusts only genesis accepts from any
     * replica. Empty value: genesis's set alone. Throws IllegalArgumentException naming the first
     * epoch that does not check. The heights sets take over at are the record's word; a certificate
     * checked against the wrong one of two approved sets fails, it is never forged by it.
     */
    public static List<ValidatorSet> verifyChain(ChainGenesis genesis, ByteString value) {
        return verifyChain(genesis, genesisSet(genesis), value);
    }

    /** As above for a client's view of genesis, whose own set is {@code genesisSet} ({@link #genesisSet(TrustRoot, List)}). */
    public static List<ValidatorSet> verifyChain(TrustRoot genesis, ValidatorSet genesisSet, ByteString value) {
        ValidatorSetRecord record;
        try {
            record = ValidatorSetRecord.parseFrom(value);
        } catch (InvalidProtocolBufferException e) {
            throw new IllegalArgumentException("the validator-set record does not parse: " + e.getMessage(), e);
        }
        List<ValidatorSet> sets = new ArrayList<>();
        sets.add(genesisSet);
        for (ValidatorEpoch e : record.getEpochsList()) {
            ValidatorSet before = latest(sets);
            if (e.getChangeHeight() < before.fromHeight() || e.getFromHeight() != firstHeight(e.getChangeHeight())) {
                throw new IllegalArgumentException("epoch " + e.getEpoch() + " says it was named at height " + e.getChangeHeight()
                        + " and signs from " + e.getFromHeight() + ": a change executed at height h takes over at"
                        + " 64*floor(h/64)+129, and after epoch " + before.epoch() + " took over at " + before.fromHeight());
            }
            ChangeValidators change = ChangeValidators.newBuilder().setEpoch(e.getEpoch()).setCurrentSetHash(e.getCurrentSetHash())
                    .addAllValidators(e.getValidatorsList()).addAllApprovals(e.getApprovalsList()).build();
            // Checked as if executed just before it takes over: no change pending then.
            String problem = problem(genesis, sets, before.fromHeight(), change);
            if (problem != null) {
                throw new IllegalArgumentException("epoch " + e.getEpoch() + " is not approved by the set before it: " + problem);
            }
            sets.add(of(e.getEpoch(), e.getFromHeight(), e.getValidatorsList()));
        }
        return List.copyOf(sets);
    }

    /** The set that signs {@code height}'s certificate. */
    public static ValidatorSet inForce(List<ValidatorSet> sets, long height) {
        ValidatorSet found = sets.get(0);
        for (ValidatorSet s : sets) {
            if (s.fromHeight() <= height) {
                found = s;
            }
        }
        return found;
    }

    public static ValidatorSet inForce(ChainGenesis genesis, LedgerState state, long height) {
        return inForce(all(genesis, state.record(RECORD)), height);
    }

    /** The last set named, which may not sign yet (its first height still ahead). */
    public static ValidatorSet latest(List<ValidatorSet> sets) {
        return sets.get(sets.size() - 1);
    }

    /** The first height the set named by a change executed at {@code changeHeight} signs. */
    public static long firstHeight(long changeHeight) {
        return BOUNDARY_BLOCKS * (changeHeight / BOUNDARY_BLOCKS) + 2 * BOUNDARY_BLOCKS + 1;
    }

    static ValidatorSet of(long epoch, long fromHeight, List<Validator> validators) {
        List<PublicKey> keys = validators.stream().map(v -> PublicKey.of(v.getPublicKey().toByteArray())).toList();
        return new ValidatorSet(epoch, fromHeight, validators, keys, ChainGenesis.validatorSetHash(keys));
    }

    static ValidatorSetRecord parse(ByteString value) {
        try {
            return ValidatorSetRecord.parseFrom(value);
        } catch (InvalidProtocolBufferException e) {
            // Only a successful ChangeValidators writes the record, always well-formed: a store or
            // a snapshot that says otherwise is damaged.
            throw new IllegalStateException("the VALIDATORS record does not parse: " + e.getMessage(), e);
        }
    }

    /** What an approval signs (under {@link Domain#VALIDATOR_CHANGE}); see ChangeValidators in ledger.proto. */
    public static byte[] approvalMessage(Digest genesisHash, long epoch, ByteString currentSetHash, List<Validator> validators) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.writeBytes(genesisHash.bytes());
        out.writeBytes(ByteBuffer.allocate(8).putLong(epoch).array());
        out.writeBytes(currentSetHash.toByteArray());
        out.writeBytes(ByteBuffer.allocate(4).putInt(validators.size()).array());
        for (Validator v : validators) {
            out.writeBytes(v.getPublicKey().toByteArray());
            writeString(out, v.getAddress());
            writeString(out, v.getName());
        }
        return out.toByteArray();
    }

    private static void writeString(ByteArrayOutputStream out, String s) {
        byte[] b = s.getBytes(StandardCharsets.UTF_8);
        out.writeBytes(ByteBuffer.allocate(4).putInt(b.length).array());
        out.writeBytes(b);
    }

    /** {@code key}'s approval of moving from {@code current} to {@code validators} as the next epoch. */
    public static byte[] approve(KeyPair key, Digest genesisHash, ValidatorSet current, List<Validator> validators) {
        return key.sign(Domain.VALIDATOR_CHANGE, approvalMessage(genesisHash, current.epoch() + 1,
                ByteString.copyFrom(current.hash().bytes()), validators));
    }

    /**
     * Why {@code change}, executed at {@code height} over {@code sets}, must fail; null when it
     * takes effect. Only the ledger's own contents decide, so every replica gets the same answer.
     */
    public static String problem(TrustRoot genesis, List<ValidatorSet> sets, long height, ChangeValidators change) {
        ValidatorSet latest = latest(sets);
        if (latest.fromHeight() > height) {
            return "a validator-set change is pending: epoch " + latest.epoch() + " signs from height " + latest.fromHeight();
        }
        ValidatorSet current = latest;
        if (change.getEpoch() != current.epoch() + 1) {
            return "epoch " + Long.toUnsignedString(change.getEpoch()) + ", the next epoch is " + (current.epoch() + 1);
        }
        if (!change.getCurrentSetHash().equals(ByteString.copyFrom(current.hash().bytes()))) {
            return "current_set_hash does not name the set in force (" + current.hash().hex() + ")";
        }
        String setProblem = setProblem(change.getValidatorsList());
        if (setProblem != null) {
            return setProblem;
        }
        if (change.getApprovalsCount() < current.quorum()) {
            return change.getApprovalsCount() + " approvals, the set in force needs " + current.quorum();
        }
        if (change.getApprovalsCount() > current.n()) {
            return change.getApprovalsCount() + " approvals from a set of " + current.n();
        }
        byte[] message = approvalMessage(genesis.genesisHash(), change.getEpoch(), change.getCurrentSetHash(), change.getValidatorsList());
        long previous = -1;
        for (ValidatorApproval a : change.getApprovalsList()) {
            long replica = Integer.toUnsignedLong(a.getReplica());
            if (replica >= current.n()) {
                return "approval by replica " + replica + ", not in the set in force of " + current.n();
            }
            if (replica <= previous) {
                return "approvals must come from distinct replicas in increasing order (" + replica + " after " + previous + ")";
            }
            previous = replica;
            if (a.getSignature().size() != bftledger.crypto.Signature.LENGTH
                    || !current.keys().get((int) replica).verify(Domain.VALIDATOR_CHANGE, message, a.getSignature().toByteArray())) {
                return "replica " + replica + "'s approval does not verify";
            }
        }
        return null;
    }

    /** Why {@code validators} cannot be a validator set; null when it can. */
    public static String setProblem(List<Validator> validators) {
        if (validators.size() < MIN_VALIDATORS || validators.size() > ChainGenesis.MAX_VALIDATORS) {
            return "a set needs " + MIN_VALIDATORS + " to " + ChainGenesis.MAX_VALIDATORS + " validators, got " + validators.size();
        }
        Set<ByteString> keys = new HashSet<>();
        for (int i = 0; i < validators.size(); i++) {
            Validator v = validators.get(i);
            try {
                PublicKey.of(v.getPublicKey().toByteArray());
            } catch (IllegalArgumentException e) {
                return "validator " + i + ": " + e.getMessage();
            }
            if (!keys.add(v.getPublicKey())) {
                return "validator " + i + " repeats a key";
            }
            int address = v.getAddressBytes().size();
            if (address == 0 || address > MAX_ADDRESS_BYTES) {
                return "validator " + i + ": address must be 1 to " + MAX_ADDRESS_BYTES + " bytes";
            }
            if (v.getNameBytes().size() > MAX_NAME_BYTES) {
                return "validator " + i + ": name over " + MAX_NAME_BYTES + " bytes";
            }
        }
        return null;
    }

    /**
     * The sets after a block checked without executing it: each ChangeValidators in it whose
     * receipt is SUCCESS adds its set, as executing it would have. For walks over blocks whose
     * transactions and receipts were checked against a certified header (the online audit); a
     * pruned block holds no transactions, so a change in it is not seen and the certificates
     * after it fail rather than being taken on the store's word.
     */
    public static List<ValidatorSet> follow(List<ValidatorSet> sets, long height, bftledger.ledger.proto.Block block) {
        List<ValidatorSet> after = sets;
        int count = Math.min(block.getTransactionsCount(), block.getReceiptsCount());
        for (int i = 0; i < count; i++) {
            if (block.getReceipts(i).getStatus() != bftledger.ledger.proto.Receipt.Status.SUCCESS) {
                continue;
            }
            bftledger.ledger.proto.TransactionBody body;
            try {
                body = bftledger.ledger.proto.TransactionBody.parseFrom(block.getTransactions(i).getBody());
            } catch (InvalidProtocolBufferException e) {
                continue;
            }
            if (body.hasChangeValidators()) {
                ChangeValidators change = body.getChangeValidators();
                if (setProblem(change.getValidatorsList()) != null) {
                    continue;
                }
                after = new ArrayList<>(after);
                after.add(of(change.getEpoch(), firstHeight(height), change.getValidatorsList()));
            }
        }
        return after == sets ? sets : List.copyOf(after);
    }

    /** The VALIDATORS record's next value after {@code change} succeeded at {@code height}. */
    static ByteString recordAfter(Optional<RecordValue> before, ChangeValidators change, Digest txId, long height) {
        ValidatorSetRecord.Builder record = before.isPresent() ? parse(before.get().value()).toBuilder()
                : ValidatorSetRecord.newBuilder();
        record.addEpochs(ValidatorEpoch.newBuilder().setEpoch(change.getEpoch()).setFromHeight(firstHeight(height))
                .addAllValidators(change.getValidatorsList()).setChangeTxId(ByteString.copyFrom(txId.bytes()))
                .setChangeHeight(height).setCurrentSetHash(change.getCurrentSetHash()).addAllApprovals(change.getApprovalsList()));
        return record.build().toByteString();
    }
}
