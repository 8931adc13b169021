package bftledger.sdk;

import bftledger.crypto.Digest;
import bftledger.crypto.PublicKey;
import bftledger.crypto.Sha256;
import bftledger.ledger.proto.Genesis;
import bftledger.ledger.proto.Validator;
import com.google.protobuf.ByteString;
import com.google.protobuf.InvalidProtocolBufferException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * What a client knows about a network, all taken from its genesis: the chain id, the validators'
 * keys and addresses in replica order, the genesis hash and the network's TLS CA certificate
 * (DER; empty when the network runs without TLS). Everything the SDK accepts is checked against
 * this and nothing else. {@link #dialing()} is the client's own choice of route (and of
 * plaintext, for a network without TLS), never of trust.
 */
public record Network(String chainId, List<PublicKey> validatorKeys, List<String> addresses, Digest genesisHash,
                      ByteString tlsCaCertificate, Dialing dialing) implements bftledger.ledger.TrustRoot {
    public Network {
        validatorKeys = List.copyOf(validatorKeys);
        addresses = List.copyOf(addresses);
        int n = validatorKeys.size();
        if (n < 4 || (n - 1) % 3 != 0 || addresses.size() != n) {
            throw new IllegalArgumentException("a network needs n = 3f+1 >= 4 validators with addresses, got " + n);
        }
        if (tlsCaCertificate == null || dialing == null) {
            throw new IllegalArgumentException("tlsCaCertificate (empty for none) and dialing are required");
        }
        for (int replica : dialing.overrides().keySet()) {
            if (replica >= n) {
                throw new IllegalArgumentException("a dial override names replica " + replica + "; the network has 0.." + (n - 1));
            }
        }
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
                new Dialing(true, dialing.overrides(), dialing.source()));
    }

    /** The same network, with every connection leaving from the local address {@code source}. */
    public Network withSourceAddress(java.net.InetAddress source) {
        return new Network(chainId, validatorKeys, addresses, genesisHash, tlsCaCertificate,
                new Dialing(dialing.plaintext(), dialing.overrides(), java.util.Objects.requireNonNull(source)));
    }

    /** The same network, with replica {@code replica} dialled at {@code target} (host:port) instead of its genesis address. */
    public Network withDialAddress(int replica, String target) {
        Map<Integer, String> overrides = new HashMap<>(dialing.overrides());
        overrides.put(replica, target);
        return new Network(chainId, validatorKeys, addresses, genesisHash, tlsCaCertificate,
                new Dialing(dialing.plaintext(), overrides, dialing.source()));
    }

    /** Where the client dials replica {@code replica}: its override, or its genesis address. */
    public String dialAddress(int replica) {
        return dialing.overrides().getOrDefault(replica, addresses.get(replica));
    }

    /** Whether genesis names a TLS CA, i.e. the network's nodes run TLS. */
    public boolean tls() {
        return !tlsCaCertificate.isEmpty();
    }

    /** Answers needed so that at least one comes from an honest replica. */
    public int weakQuorum() {
        return f() + 1;
    }

    /** Distinct signatures a commit certificate needs. */
    public int commitQuorum() {
        return quorum();
    }
}
