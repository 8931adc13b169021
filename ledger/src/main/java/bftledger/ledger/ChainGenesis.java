package bftledger.ledger;

import bftledger.crypto.Digest;
import bftledger.crypto.SparseMerkleTree;
import bftledger.crypto.PublicKey;
import bftledger.crypto.Sha256;
import bftledger.ledger.proto.Genesis;
import bftledger.ledger.proto.InitialBalance;
import bftledger.ledger.proto.Validator;
import com.google.protobuf.ByteString;
import com.google.protobuf.InvalidProtocolBufferException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.SortedMap;
import java.util.TreeMap;

/**
 * A parsed, checked genesis: the network's chain id, validators (replica index order) and initial
 * balances, kept together with the exact bytes it was parsed from. The genesis hash is
 * SHA-256 of those bytes, so the bytes are serialized once (by {@link #of}) or taken as
 * distributed (by {@link #parse}) and never re-encoded. Immutable.
 *
 * <p>Any number of validators from 1 up: f is the largest with {@code n >= 3f+1} and the quorum
 * is {@link TrustRoot#quorum(int)}, so a fifth validator adds capacity to stay live without
 * raising f.
 */
public final class ChainGenesis implements TrustRoot {
    public static final int MAX_CHAIN_ID_BYTES = 64;
    public static final int MAX_VALIDATORS = 100;
    public static final int MAX_INITIAL_BALANCES = 100_000;
    public static final int MAX_GENESIS_BYTES = 16 * 1024 * 1024;

    private final Genesis genesis;
    private final byte[] bytes;
    private final Digest hash;
    private final List<PublicKey> validatorKeys;
    private final SortedMap<ByteString, Long> initialBalances;
    private final int f;
    private volatile Digest stateRoot;
    private final Digest validatorSetHash;

    private ChainGenesis(Genesis genesis, byte[] bytes) {
        this.genesis = genesis;
        this.bytes = bytes;
        this.hash = Sha256.hash(bytes);
        String chainId = genesis.getChainId();
        int chainIdBytes = chainId.getBytes(StandardCharsets.UTF_8).length;
        if (chainIdBytes == 0 || chainIdBytes > MAX_CHAIN_ID_BYTES) {
            throw new IllegalArgumentException("genesis chain id must be 1 to " + MAX_CHAIN_ID_BYTES + " bytes, got " + chainIdBytes);
        }
        int n = genesis.getValidatorsCount();
        if (n < 1 || n > MAX_VALIDATORS) {
            throw new IllegalArgumentException("genesis needs 1 to " + MAX_VALIDATORS + " validators, got " + n);
        }
        this.f = (n - 1) / 3;
        List<PublicKey> keys = new ArrayList<>(n);
        Set<PublicKey> seen = new HashSet<>();
        for (int i = 0; i < n; i++) {
            PublicKey key = parseKey(genesis.getValidators(i).getPublicKey(), "validator " + i);
            if (!seen.add(key)) {
                throw new IllegalArgumentException("genesis validator " + i + " repeats key " + key.shortHex());
            }
            keys.add(key);
        }
        this.validatorKeys = List.copyOf(keys);
        this.validatorSetHash = validatorSetHash(validatorKeys);
        if (genesis.getBalancesCount() > MAX_INITIAL_BALANCES) {
            throw new IllegalArgumentException("genesis has more than " + MAX_INITIAL_BALANCES + " initial balances");
        }
        TreeMap<ByteString, Long> balances = new TreeMap<>(ByteString.unsignedLexicographicalComparator());
        for (InitialBalance b : genesis.getBalancesList()) {
            parseKey(b.getAccount(), "initial balance account");
            // Balances live in [0, 2^63-1] so that every balance is a non-negative Java long.
            if (b.getAmount() < 0) {
                throw new IllegalArgumentException("genesis balance above 2^63-1 for " + hex(b.getAccount()));
            }
            if (balances.put(b.getAccount(), b.getAmount()) != null) {
                throw new IllegalArgumentException("genesis lists account " + hex(b.getAccount()) + " twice");
            }
        }
        this.initialBalances = Collections.unmodifiableSortedMap(balances);
    }

    /** Parses and checks genesis bytes as distributed; the hash is over exactly these bytes. */
    public static ChainGenesis parse(byte[] bytes) {
        if (bytes == null || bytes.length > MAX_GENESIS_BYTES) {
            throw new IllegalArgumentException("genesis bytes missing or over " + MAX_GENESIS_BYTES);
        }
        try {
            return new ChainGenesis(Genesis.parseFrom(bytes), bytes.clone());
        } catch (InvalidProtocolBufferException e) {
            throw new IllegalArgumentException("genesis does not parse: " + e.getMessage(), e);
        }
    }

    /** Serializes {@code genesis} once and checks it. */
    public static ChainGenesis of(Genesis genesis) {
        return parse(genesis.toByteArray());
    }

    /** Builds a genesis from validators (in replica-index order) and initial balances. */
    public static ChainGenesis build(String chainId, List<Validator> validators, SortedMap<PublicKey, Long> balances,
            long createdMillis) {
        Genesis.Builder b = Genesis.newBuilder().setChainId(chainId).addAllValidators(validators).setCreatedMillis(createdMillis);
        balances.forEach((account, amount) -> b.addBalances(
                InitialBalance.newBuilder().setAccount(ByteString.copyFrom(account.bytes())).setAmount(amount)));
        return of(b.build());
    }

    public static Validator validator(PublicKey key, String address, String name) {
        return Validator.newBuilder().setPublicKey(ByteString.copyFrom(key.bytes())).setAddress(address).setName(name).build();
    }

    public Genesis genesis() {
        return genesis;
    }

    /** The exact bytes the hash is over. */
    public byte[] bytes() {
        return bytes.clone();
    }

    public Digest hash() {
        return hash;
    }

    @Override
    public Digest genesisHash() {
        return hash;
    }

    @Override
    public String chainId() {
        return genesis.getChainId();
    }

    @Override
    public int f() {
        return f;
    }

    @Override
    public List<PublicKey> validatorKeys() {
        return validatorKeys;
    }

    public PublicKey validatorKey(int replica) {
        return validatorKeys.get(replica);
    }

    /** Initial balances by account (32-byte key), in unsigned byte order. */
    public SortedMap<ByteString, Long> initialBalances() {
        return initialBalances;
    }

    /** The state tree of the initial balances (see {@link StateKeys}): its root is state_root(0). */
    public SparseMerkleTree.Update stateTree() {
        StateChanges initial = new StateChanges(initialBalances, new java.util.TreeMap<>(), List.of());
        return SparseMerkleTree.build(initial.treeChanges());
    }

    /** state_root(0): the root of {@link #stateTree()}. */
    public Digest stateRoot() {
        Digest root = stateRoot;
        if (root == null) {
            root = stateTree().root().hash();
            stateRoot = root;
        }
        return root;
    }

    /**
     * validator_set_hash of every header: SHA-256("bftledger/v1/validator-set" 0x00 || u32 count ||
     * each validator's public key in replica order).
     */
    public Digest validatorSetHash() {
        return validatorSetHash;
    }

    public static Digest validatorSetHash(List<PublicKey> keys) {
        java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
        out.writeBytes(VALIDATOR_SET_TAG);
        out.writeBytes(java.nio.ByteBuffer.allocate(4).putInt(keys.size()).array());
        for (PublicKey k : keys) {
            out.writeBytes(k.bytes());
        }
        return Sha256.hash(out.toByteArray());
    }

    private static final byte[] VALIDATOR_SET_TAG = "bftledger/v1/validator-set\0".getBytes(StandardCharsets.US_ASCII);

    private static PublicKey parseKey(ByteString bytes, String what) {
        try {
            return PublicKey.of(bytes.toByteArray());
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("genesis " + what + ": " + e.getMessage(), e);
        }
    }

    static String hex(ByteString b) {
        return java.util.HexFormat.of().formatHex(b.toByteArray());
    }
}
