package bftledger.node.cli;

import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Mixin;

/** A command that calls the network named by {@code --genesis}: the options and output they all share. */
abstract class NetworkCommand implements Callable<Integer> {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;
    @Mixin
    JsonOption json;
    @Mixin
    NetworkOptions net;

    void print(Map<String, Object> result, String text) {
        CommandOutput.print(spec, json.json, result, text);
    }
}
