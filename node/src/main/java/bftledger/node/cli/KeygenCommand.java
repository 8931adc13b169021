package bftledger.node.cli;

import bftledger.crypto.KeyPair;
import bftledger.node.config.ConfigException;
import bftledger.node.config.Keys;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code bftledger keygen}: a new Ed25519 key file. */
@Command(name = "keygen", mixinStandardHelpOptions = true, description = "Generate an Ed25519 key file (owner-only permissions).")
final class KeygenCommand implements Callable<Integer> {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;
    @Mixin
    JsonOption json;
    @Option(names = "--out", required = true, description = "Where to write the secret key file; refuses to overwrite.")
    Path out;

    @Override
    public Integer call() throws ConfigException {
        KeyPair key = KeyPair.generate();
        Keys.write(out, key);
        CommandOutput.print(spec, json.json, CommandOutput.fields("file", out.toString(), "public_key", key.publicKey().hex()),
                "wrote " + out + "\npublic key (account address): " + key.publicKey().hex());
        return 0;
    }
}
