package bftledger.node.cli;

import picocli.CommandLine.Option;

/** {@code --json}, shared by every command: print the result as one JSON object instead of text. */
final class JsonOption {
    @Option(names = "--json", description = "Print the result as one JSON object.")
    boolean json;
}
