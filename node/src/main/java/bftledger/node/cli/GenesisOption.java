package bftledger.node.cli;

import bftledger.ledger.ChainGenesis;
import bftledger.node.config.ConfigException;
import bftledger.node.config.GenesisFile;
import bftledger.sdk.Network;
import java.nio.file.Path;
import picocli.CommandLine.Option;

/** {@code --genesis}, shared by every command that talks to or audits a network. */
class GenesisOption {
    @Option(names = "--genesis", defaultValue = "localnet/genesis.bin",
            description = "The network's genesis file (default: ${DEFAULT-VALUE}).")
    Path genesis;

    ChainGenesis read() throws ConfigException {
        return GenesisFile.read(genesis);
    }

    Network network() throws ConfigException {
        return Network.fromGenesisBytes(read().bytes());
    }
}
