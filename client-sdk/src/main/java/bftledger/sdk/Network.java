package bftledger.sdk;

import bftledger.crypto.Digest;
import bftledger.crypto.PublicKey;
import bftledger.crypto.Sha256;
import bftledger.ledger.proto.Genesis;
import bftledger.ledger.proto.Validator;
import com.google.protobuf.InvalidProtocolBufferException;
import java.util.ArrayList;
import java.util.List;

/**
 * What a client knows about a network, all taken from its genesis: the chain id, the validators'
 * keys and addresses in replica order, and the genesis hash. Everything the SDK accepts is
 * checked against this and nothing else.
 */
public record Network(String chainId, List<PublicKey> validatorKeys, List<String> addresses, Digest genesisHash)
        implements bftledger.ledger.TrustRoot {
    public Network {
        validatorKeys = List.copyOf(validatorKeys);
        addresses = List.copyOf(addresses);
        int n = validatorKeys.size();
        if (n < 4 || (n - 1) % 3 != 0 || addresses.size() != n) {
            throw new IllegalArgumentException("a network needs n = 3f+1 >= 4 validators with addresses, got " + n);
        }
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
        return new Network(genesis.getChainId(), keys, addresses, Sha256.hash(genesisBytes));
    }

    /** From a genesis file (genesis.bin as written by {@code bftledger init}). */
    public static Network fromGenesisFile(java.nio.file.Path path) throws java.io.IOException {
        return fromGenesisBytes(java.nio.file.Files.readAllBytes(path));
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
