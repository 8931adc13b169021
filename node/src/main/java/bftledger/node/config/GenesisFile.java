package bftledger.node.config;

import bftledger.ledger.ChainGenesis;
import bftledger.ledger.proto.Genesis;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;

/**
 * The genesis file shared by every node and client: the serialized {@link Genesis} proto as
 * distributed (its SHA-256 is the genesis hash, so it is never re-serialized), parsed and
 * checked by the ledger's {@link ChainGenesis}.
 */
public final class GenesisFile {
    private GenesisFile() {}

    public static ChainGenesis read(Path path) throws ConfigException {
        byte[] bytes;
        try {
            if (Files.size(path) > ChainGenesis.MAX_GENESIS_BYTES) {
                throw new ConfigException("genesis file " + path + " is over " + ChainGenesis.MAX_GENESIS_BYTES
                        + " bytes; it is not a genesis file.");
            }
            bytes = Files.readAllBytes(path);
        } catch (NoSuchFileException e) {
            throw new ConfigException("genesis file " + path + " does not exist. Create a network with"
                    + " `bftledger init` or fix the genesis path.");
        } catch (IOException e) {
            throw new ConfigException("cannot read genesis file " + path + ": " + e.getMessage(), e);
        }
        try {
            return ChainGenesis.parse(bytes);
        } catch (IllegalArgumentException e) {
            throw new ConfigException("genesis file " + path + " is not a valid genesis: " + e.getMessage()
                    + ". Copy the network's genesis.bin again.");
        }
    }

    public static void write(Path path, ChainGenesis genesis) throws ConfigException {
        try {
            if (path.getParent() != null) {
                Files.createDirectories(path.getParent());
            }
            Files.write(path, genesis.bytes());
        } catch (IOException e) {
            throw new ConfigException("cannot write genesis file " + path + ": " + e.getMessage(), e);
        }
    }
}
