package bftledger.node.config;

import bftledger.crypto.Digest;
import bftledger.crypto.PublicKey;
import bftledger.crypto.Sha256;
import bftledger.ledger.proto.Genesis;
import bftledger.ledger.proto.Validator;
import com.google.protobuf.InvalidProtocolBufferException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.Set;

/**
 * The genesis file shared by every node and client: the serialized {@link Genesis} proto. Its
 * hash is SHA-256 of the file's bytes exactly as distributed, so the bytes are kept alongside
 * the parsed value and never re-serialized.
 */
public record GenesisFile(Genesis genesis, byte[] bytes, Digest hash) {
    /** Genesis files are small; a larger file is refused before it is parsed. */
    public static final int GENESIS_BYTES_MAX = 1 << 20;

    public static GenesisFile of(byte[] bytes) throws ConfigException {
        Genesis genesis;
        try {
            genesis = Genesis.parseFrom(bytes);
        } catch (InvalidProtocolBufferException e) {
            throw new ConfigException("genesis bytes do not parse as a Genesis: " + e.getMessage());
        }
        validate(genesis);
        return new GenesisFile(genesis, bytes.clone(), Sha256.hash(bytes));
    }

    public static GenesisFile read(Path path) throws ConfigException {
        byte[] bytes;
        try {
            if (Files.size(path) > GENESIS_BYTES_MAX) {
                throw new ConfigException("genesis file " + path + " is larger than " + GENESIS_BYTES_MAX
                        + " bytes; it is not a genesis file.");
            }
            bytes = Files.readAllBytes(path);
        } catch (NoSuchFileException e) {
            throw new ConfigException("genesis file " + path + " does not exist. Create a network with"
                    + " `bftledger init` or fix the genesis path in the node config.");
        } catch (IOException e) {
            throw new ConfigException("cannot read genesis file " + path + ": " + e.getMessage(), e);
        }
        try {
            return of(bytes);
        } catch (ConfigException e) {
            throw new ConfigException("genesis file " + path + ": " + e.getMessage()
                    + " Copy the network's genesis.bin again.");
        }
    }

    public static void write(Path path, Genesis genesis) throws ConfigException {
        try {
            if (path.getParent() != null) {
                Files.createDirectories(path.getParent());
            }
            Files.write(path, genesis.toByteArray());
        } catch (IOException e) {
            throw new ConfigException("cannot write genesis file " + path + ": " + e.getMessage(), e);
        }
    }

    static void validate(Genesis genesis) throws ConfigException {
        if (genesis.getChainId().isEmpty()) {
            throw new ConfigException("genesis has no chain id.");
        }
        int n = genesis.getValidatorsCount();
        if (n < 4 || (n - 1) % 3 != 0) {
            throw new ConfigException("genesis has " + n + " validators; PBFT needs n = 3f+1 with f >= 1 (4, 7, 10, ...).");
        }
        Set<PublicKey> keys = new HashSet<>();
        for (int i = 0; i < n; i++) {
            Validator v = genesis.getValidators(i);
            PublicKey key;
            try {
                key = PublicKey.of(v.getPublicKey().toByteArray());
            } catch (IllegalArgumentException e) {
                throw new ConfigException("genesis validator " + i + " has an invalid key: " + e.getMessage());
            }
            if (!keys.add(key)) {
                throw new ConfigException("genesis lists validator key " + key.shortHex() + " twice.");
            }
            if (!v.getAddress().contains(":")) {
                throw new ConfigException("genesis validator " + i + " has address '" + v.getAddress()
                        + "'; expected host:port.");
            }
        }
    }

    public int n() {
        return genesis.getValidatorsCount();
    }

    /** The number of faulty replicas tolerated, from n = 3f+1. */
    public int f() {
        return (n() - 1) / 3;
    }

    public PublicKey validatorKey(int replica) {
        return PublicKey.of(genesis.getValidators(replica).getPublicKey().toByteArray());
    }

    public String chainId() {
        return genesis.getChainId();
    }

    @Override
    public byte[] bytes() {
        return bytes.clone();
    }
}
