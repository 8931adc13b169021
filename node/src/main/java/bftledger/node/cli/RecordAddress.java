package bftledger.node.cli;

import bftledger.crypto.PublicKey;
import picocli.CommandLine.Option;

/** Which record a {@code record} subcommand reads: its owner (writer) and its key. */
final class RecordAddress {
    @Option(names = "--owner", required = true, description = "The writer's 64-hex public key or key file.")
    String owner;
    @Option(names = "--record-key", required = true, description = "The record's key.")
    String key;

    PublicKey owner() throws UserError {
        return Arguments.account(owner);
    }

    /** owner-short-hex/key, as the commands print it. */
    String describe(PublicKey ownerKey) {
        return ownerKey.shortHex() + "/" + key;
    }
}
