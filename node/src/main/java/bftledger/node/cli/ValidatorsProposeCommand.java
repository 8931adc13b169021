package bftledger.node.cli;

import bftledger.ledger.ChainGenesis;
import bftledger.ledger.ValidatorSets.ValidatorSet;
import bftledger.ledger.proto.Validator;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code bftledger validators propose}: the proven latest set, edited as the options say in the
 * order given, written as a proposal file with no approvals yet.
 */
@Command(name = "propose", mixinStandardHelpOptions = true,
        description = "Write a proposal to change the validator set: the network's latest set (proven) with the edits applied"
                + " in the order given. Then a quorum of that set approves it (`validators approve`) and anyone submits it"
                + " (`validators submit`).")
final class ValidatorsProposeCommand extends NetworkCommand {
    @Option(names = "--out", required = true, description = "The proposal file to write (JSON); refuses to overwrite.")
    Path out;
    @Option(names = "--add", paramLabel = "KEY@HOST:PORT[/NAME]",
            description = "Add a validator as the last replica. KEY: a 64-hex public key or a key file (its public key).")
    List<String> add = new ArrayList<>();
    @Option(names = "--remove", paramLabel = "INDEX_OR_KEY", description = "Remove a validator: its replica index in the set"
            + " in force, or its key.")
    List<String> remove = new ArrayList<>();
    @Option(names = "--replace", paramLabel = "INDEX_OR_KEY=KEY@HOST:PORT[/NAME]",
            description = "Put a new validator (key, address, name) in a validator's place.")
    List<String> replace = new ArrayList<>();
    @Option(names = "--rotate", paramLabel = "INDEX_OR_KEY=KEY", description = "Give a validator a new key; it keeps its"
            + " place, address and name.")
    List<String> rotate = new ArrayList<>();

    @Override
    public Integer call() throws Exception {
        List<ValidatorsEdits.Edit> edits = edits();
        if (edits.isEmpty()) {
            throw new UserError("nothing to propose: give at least one --add, --remove, --replace or --rotate.");
        }
        if (Files.exists(out)) {
            throw new UserError(out + " exists: choose another --out, or move it away (it may hold approvals).");
        }
        ChainGenesis genesis = net.read();
        ValidatorsChain.Proven p;
        try (ValidatorsChain chain = ValidatorsChain.connect(genesis, net.network())) {
            p = chain.read(net.timeout());
        }
        ValidatorSet current = p.latest();
        List<Validator> validators = ValidatorsEdits.apply(current, edits);
        ValidatorsProposal proposal = ValidatorsProposal.of(genesis, current, validators);
        proposal.writeNew(out);
        ValidatorsDiff diff = ValidatorsDiff.of(current.validators(), validators);
        Map<String, Object> result = CommandOutput.fields("file", out.toString(), "epoch", proposal.epoch(),
                "current_set_hash", current.hash().hex(), "new_set_hash", proposal.proposed().hash().hex(),
                "approvals_needed", current.quorum(), "pending_until", p.pending().map(ValidatorSet::fromHeight).orElse(null));
        result.putAll(diff.json());
        result.putAll(p.provenFields());
        print(result, "wrote " + out + ": epoch " + current.epoch() + " -> " + proposal.epoch() + " (replaces set "
                + current.hash().shortHex() + ")\n" + diff.text() + "\n"
                + p.pending().map(s -> "  note: epoch " + s.epoch() + " does not sign until height " + s.fromHeight()
                        + "; this change can execute only from then on\n").orElse("")
                + "next: " + current.quorum() + " of the " + current.n() + " validators of epoch " + current.epoch() + " run"
                + " `bftledger validators approve --proposal " + out + " --key <their node.key>`, then anyone runs"
                + " `bftledger validators submit --proposal " + out + " --key <a key file>`\n" + p.provenText());
        return 0;
    }

    /** The edit options in the order they were given on the command line. */
    List<ValidatorsEdits.Edit> edits() {
        Map<String, List<String>> values = Map.of("--add", add, "--remove", remove, "--replace", replace, "--rotate", rotate);
        Map<String, Integer> used = new HashMap<>();
        List<ValidatorsEdits.Edit> edits = new ArrayList<>();
        for (CommandLine.Model.ArgSpec arg : spec.commandLine().getParseResult().matchedArgs()) {
            if (arg instanceof CommandLine.Model.OptionSpec option && values.containsKey(option.longestName())) {
                String name = option.longestName();
                int i = used.merge(name, 1, Integer::sum) - 1;
                ValidatorsEdits.Kind kind = ValidatorsEdits.Kind.valueOf(name.substring(2).toUpperCase());
                edits.add(new ValidatorsEdits.Edit(kind, values.get(name).get(i)));
            }
        }
        return edits;
    }
}
