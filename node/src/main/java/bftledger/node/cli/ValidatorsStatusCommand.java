package bftledger.node.cli;

import bftledger.ledger.ChainGenesis;
import bftledger.ledger.ValidatorSets.ValidatorSet;
import bftledger.ledger.proto.Validator;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import picocli.CommandLine.Command;

/** {@code bftledger validators status}: every validator set the network has had, which is in force, and any pending. */
@Command(name = "status", mixinStandardHelpOptions = true,
        description = "Show every validator set (epoch), the one in force at the network's height and a pending change,"
                + " proven against genesis.")
final class ValidatorsStatusCommand extends NetworkCommand {

    @Override
    public Integer call() throws Exception {
        ChainGenesis genesis = net.read();
        ValidatorsChain.Proven p;
        try (ValidatorsChain chain = ValidatorsChain.connect(genesis, net.network())) {
            p = chain.read(net.timeout());
        }
        List<Object> epochs = new ArrayList<>();
        StringBuilder text = new StringBuilder("validator sets of chain '" + genesis.chainId() + "' at height " + p.height()
                + " (proven)\n");
        for (ValidatorSet s : p.sets()) {
            String state = s.epoch() == p.inForce().epoch() ? "IN FORCE" : s.fromHeight() > p.height() ? "PENDING" : "past";
            Map<String, Object> m = CommandOutput.fields("epoch", s.epoch(), "from_height", s.fromHeight(), "state",
                    state.toLowerCase().replace(' ', '_'), "set_hash", s.hash().hex(), "n", s.n(), "f", ValidatorsDiff.f(s.n()),
                    "quorum", s.quorum());
            m.put("validators", validatorsJson(s));
            epochs.add(m);
            text.append(setText(s, state)).append('\n');
        }
        Map<String, Object> result = CommandOutput.fields("chain_id", genesis.chainId(), "height", p.height(),
                "in_force_epoch", p.inForce().epoch(), "pending", p.pending().map(s -> (Object) CommandOutput.fields(
                        "epoch", s.epoch(), "first_height", s.fromHeight())).orElse(null), "epochs", epochs);
        result.putAll(p.provenFields());
        text.append("in force at height ").append(p.height()).append(": epoch ").append(p.inForce().epoch()).append('\n')
                .append(p.pending().map(s -> "pending: epoch " + s.epoch() + " signs from height " + s.fromHeight())
                        .orElse("pending: none")).append('\n')
                .append(p.provenText());
        print(result, text.toString());
        return 0;
    }

    /** One set as a table: a header line, then a row per validator. */
    static String setText(ValidatorSet s, String state) {
        StringBuilder t = new StringBuilder(String.format("epoch %d  from height %d  n %d  f %d  quorum %d  set %s  %s%s%n",
                s.epoch(), s.fromHeight(), s.n(), ValidatorsDiff.f(s.n()), s.quorum(), s.hash().shortHex(), state,
                s.epoch() == 0 ? "  (genesis)" : ""));
        t.append(String.format("  %-8s %-16s %-24s %s%n", "replica", "name", "address", "key"));
        for (int i = 0; i < s.n(); i++) {
            Validator v = s.validators().get(i);
            t.append(String.format("  %-8d %-16s %-24s %s%n", i, v.getName().isEmpty() ? "-" : v.getName(), v.getAddress(),
                    Arguments.hex(v.getPublicKey()).substring(0, 8)));
        }
        return t.toString().stripTrailing();
    }

    static List<Object> validatorsJson(ValidatorSet s) {
        List<Object> out = new ArrayList<>();
        for (int i = 0; i < s.n(); i++) {
            out.add(ValidatorsDiff.validatorJson(i, s.validators().get(i)));
        }
        return out;
    }
}
