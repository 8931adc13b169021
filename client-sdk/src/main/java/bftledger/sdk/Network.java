package bftledger.sdk;

import bftledger.crypto.Digest;
import bftledger.crypto.PublicKey;
import bftledger.crypto.Sha256;
import bftledger.ledger.ValidatorSets.ValidatorSet;
import bftledger.ledger.proto.Genesis;
import bftledger.ledger.proto.Validator;
import com.google.protobuf.ByteString;
import com.google.protobuf.InvalidProtocolBufferException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * What a client knows about a network: from its genesis the chain id, the validators' keys and
 * addresses in replica order, the genesis hash and the network's TLS CA certificate (DER; empty
 * when the network runs without TLS), and the validator sets it has followed since
 * ({@link #validators()}, each approved by a quorum of the set before it; genesis's alone until a
 * client refreshes, see {@link LedgerClient#refreshValidators}). Everything the SDK accepts is
 * checked against this and nothing else: a certificate of block h against the set in force at h
 * ({@link #atHeight}). {@link #dialing()} is the client's own choice of route (and of plaintext,
 * for a network without TLS), never of trust.
 *
 * <p>{@link #validatorKeys()}, {@link #addresses()}, {@link #n()}, {@link #f()},
 * {@link #weakQuorum()} and {@link #commitQuorum()} are genesis's; the latest set's are in
 * {@code validators().latest()}.
 */
public record Network(String chainId, List<PublicKey> validatorKeys, List<String> addresses, Digest genesisHash,
                      ByteString tlsCaCertificate, Dialing dialing, ValidatorChain validators)
        implements bftledger.ledger.TrustRoot {
    public Network {
        validatorKeys = List.copyOf(validatorKeys);
        addresses = List.copyOf(addresses);
        int n = validatorKeys.size();
        if (n < 4 || addresses.size() != n) {
            throw new IllegalArgumentException("a network needs n >= 4 validators with addresses, got " + n);
        }
        if (tlsCaCertificate == null || dialing == null || validators == null) {
            throw new IllegalArgumentException("tlsCaCertificate (empty for none), dialing and validators are required");
        }
        for (int replica : dialing.overrides().keySet()) {
            if (replica >= n) {
                throw new IllegalArgumentException("a dial override names replica " + replica + "; the network has 0.." + (n - 1));
            }
        }
        if (!validators.genesisHash().equals(genesisHash) || !validators.sets().get(0).keys().equals(validatorKeys)) {
            throw new IllegalArgumentException("the validator chain starts from another genesis");
        }
    }

    /** Genesis's validators alone. */
    public Network(String chainId, List<PublicKey> validatorKeys, List<String> addresses, Digest genesisHash,
                   ByteString tlsCaCertificate, Dialing dialing) {
        this(chainId, validatorKeys, addresses, genesisHash, tlsCaCertificate, dialing,
                ValidatorChain.genesis(chainId, validatorKeys, addresses, genesisHash));
    }

    /** A network without a TLS CA, dialled at its genesis addresses (for {@link LedgerClient#over} and tests). */
    public Network(String chainId, List<PublicKey> validatorKeys, List<String> addresses, Digest genesisHash) {
        this(chainId, validatorKeys, addresses, genesisHash, ByteString.EMPTY, Dialing.DEFAULT);
    }

    /** From the genesis bytes exactly as distributed (their hash anchors the chain). */
    public static Network fromGenesisBytes(byte[] genesisBytes) {
        Genesis genesis;
        try {
            genesis = Genesis.parseFrom(genesisBytes);
        } catch (InvalidProtocolBufferException e) {
            throw new IllegalArgumentException("not a genesis file: " + e.getMessage(), e);
        }
        List<PublicKey> keys = new ArrayList<>();
        List<String> addresses = new ArrayList<>();
        for (Validator v : genesis.getValidatorsList()) {
            keys.add(PublicKey.of(v.getPublicKey().toByteArray()));
            addresses.add(v.getAddress());
        }
        return new Network(genesis.getChainId(), keys, addresses, Sha256.hash(genesisBytes), genesis.getTlsCaCertificate(),
                Dialing.DEFAULT);
    }

    /** From a genesis file (genesis.bin as written by {@code bftledger init}). */
    public static Network fromGenesisFile(java.nio.file.Path path) throws java.io.IOException {
        return fromGenesisBytes(java.nio.file.Files.readAllBytes(path));
    }

    /** The same network, connected to without TLS: only a network whose genesis names no TLS CA accepts it. */
    public Network withPlaintext() {
        return new Network(chainId, validatorKeys, addresses, genesisHash, tlsCaCertificate,
                new Dialing(true, dialing.overrides(), dialing.source()), validators);
    }

    /** The same network, with every connection leaving from the local address {@code source}. */
    public Network withSourceAddress(java.net.InetAddress source) {
        return new Network(chainId, validatorKeys, addresses, genesisHash, tlsCaCertificate,
                new Dialing(dialing.plaintext(), dialing.overrides(), java.util.Objects.requireNonNull(source)), validators);
    }

    /**
     * The same network, with genesis's replica {@code replica} dialled at {@code target}
     * (host:port) instead of its genesis address. The override follows that validator into later
     * sets while its key and address there are genesis's; it never applies to a validator genesis
     * does not name, nor to one whose later set moved it ({@link #dialAddress(ValidatorSet, int)}).
     */
    public Network withDialAddress(int replica, String target) {
        Map<Integer, String> overrides = new HashMap<>(dialing.overrides());
        overrides.put(replica, target);
        return new Network(chainId, validatorKeys, addresses, genesisHash, tlsCaCertificate,
                new Dialing(dialing.plaintext(), overrides, dialing.source()), validators);
    }

    /** The same network following {@code chain} (verified from this genesis, {@link ValidatorChain#verify}). */
    public Network withValidators(ValidatorChain chain) {
        return new Network(chainId, validatorKeys, addresses, genesisHash, tlsCaCertificate, dialing, chain);
    }

    /** Where the client dials genesis's replica {@code replica}: its override, or its genesis address. */
    public String dialAddress(int replica) {
        return dialing.overrides().getOrDefault(replica, addresses.get(replica));
    }

    /** Where the client dials validator {@code replica} of {@code set}: genesis's override for it, or its address in the set. */
    public String dialAddress(ValidatorSet set, int replica) {
        String address = set.validators().get(replica).getAddress();
        int inGenesis = validatorKeys.indexOf(set.keys().get(replica));
        boolean asInGenesis = inGenesis >= 0 && addresses.get(inGenesis).equals(address);
        return asInGenesis ? dialAddress(inGenesis) : address;
    }

    /** The validators that sign block {@code height}'s certificate: the set in force there among those followed. */
    @Override
    public bftledger.ledger.TrustRoot atHeight(long height) {
        ValidatorSet set = validators.inForce(height);
        return set.epoch() == 0 ? this : set.trust(this);
    }

    /** Whether genesis names a TLS CA, i.e. the network's nodes run TLS. */
    public boolean tls() {
        return !tlsCaCertificate.isEmpty();
    }

    /** Answers needed so that at least one comes from an honest replica of genesis's set. */
    public int weakQuorum() {
        return f() + 1;
    }

    /** Distinct signatures a commit certificate needs. */
    public int commitQuorum() {
        return quorum();
    }
}
