package bftledger.node.cli;

import bftledger.crypto.PublicKey;
import bftledger.ledger.ChainGenesis;
import bftledger.ledger.ValidatorSets;
import bftledger.ledger.ValidatorSets.ValidatorSet;
import bftledger.ledger.proto.Validator;
import com.google.protobuf.ByteString;
import java.util.ArrayList;
import java.util.List;

/**
 * The edits {@code validators propose} applies to the set in force, in the order given: add a
 * validator at the end, remove one, replace one (a new key and address in its place) or rotate
 * one's key (same place, address and name). A target is a replica index of the set in force, or a
 * key; a key is 64 hex digits or a key file, whose public key is used. The result must be a
 * valid set by the ledger's rule ({@link ValidatorSets#setProblem}); see ValidatorsEditsTest.
 */
final class ValidatorsEdits {
    enum Kind {
        ADD("--add"), REMOVE("--remove"), REPLACE("--replace"), ROTATE("--rotate");

        final String option;

        Kind(String option) {
            this.option = option;
        }
    }

    /** One edit as written on the command line. */
    record Edit(Kind kind, String spec) {
        @Override
        public String toString() {
            return kind.option + " " + spec;
        }
    }

    private ValidatorsEdits() {}

    /** {@code current}'s validators after {@code edits}, in replica order. */
    static List<Validator> apply(ValidatorSet current, List<Edit> edits) throws UserError {
        if (edits.isEmpty()) {
            throw new UserError("nothing to propose: give at least one --add, --remove, --replace or --rotate.");
        }
        List<Validator> set = new ArrayList<>(current.validators());
        for (Edit e : edits) {
            try {
                apply(current, set, e);
            } catch (UserError error) {
                throw new UserError(e + ": " + error.getMessage());
            }
        }
        String problem = ValidatorSets.setProblem(set);
        if (problem != null) {
            throw new UserError("the edited set is not a valid validator set: " + problem + ".");
        }
        if (set.equals(current.validators())) {
            throw new UserError("the edits leave the set as it is: nothing to propose.");
        }
        return List.copyOf(set);
    }

    private static void apply(ValidatorSet current, List<Validator> set, Edit e) throws UserError {
        switch (e.kind()) {
            case ADD -> {
                Validator v = validator(e.spec());
                checkNew(set, v.getPublicKey());
                set.add(v);
            }
            case REMOVE -> set.remove(position(current, set, e.spec()));
            case REPLACE -> {
                String[] parts = split(e.spec(), "INDEX_OR_KEY=KEY@HOST:PORT[/NAME]");
                int at = position(current, set, parts[0]);
                Validator v = validator(parts[1]);
                checkNew(set, v.getPublicKey());
                set.set(at, v);
            }
            case ROTATE -> {
                String[] parts = split(e.spec(), "INDEX_OR_KEY=KEY");
                int at = position(current, set, parts[0]);
                ByteString key = ByteString.copyFrom(Arguments.account(parts[1]).bytes());
                checkNew(set, key);
                set.set(at, set.get(at).toBuilder().setPublicKey(key).build());
            }
        }
    }

    /** Where the validator {@code target} names is in {@code set}: by replica index of the set in force, or by key. */
    private static int position(ValidatorSet current, List<Validator> set, String target) throws UserError {
        ByteString key;
        String what;
        if (target.matches("\\d{1,9}")) {
            int replica = Integer.parseInt(target);
            if (replica >= current.n()) {
                throw new UserError("no replica " + replica + " in the set in force (epoch " + current.epoch() + ": replicas 0.."
                        + (current.n() - 1) + ").");
            }
            key = current.validators().get(replica).getPublicKey();
            what = "replica " + replica + " (" + describe(current.validators().get(replica)) + ")";
        } else {
            key = ByteString.copyFrom(Arguments.account(target).bytes());
            what = "key " + Arguments.hex(key).substring(0, 8);
        }
        int at = indexOf(set, key);
        if (at < 0) {
            throw new UserError(what + " is not in the set" + (current.indexOf(PublicKey.of(key.toByteArray())) >= 0
                    ? " any more (an earlier edit removed or replaced it)." : "."));
        }
        return at;
    }

    private static void checkNew(List<Validator> set, ByteString key) throws UserError {
        int at = indexOf(set, key);
        if (at >= 0) {
            throw new UserError("key " + Arguments.hex(key).substring(0, 8) + " is already validator " + at + " ("
                    + describe(set.get(at)) + "): a key signs for one replica only.");
        }
    }

    /** {@code KEY@HOST:PORT[/NAME]} as a validator. */
    static Validator validator(String spec) throws UserError {
        int at = spec.indexOf('@');
        if (at <= 0) {
            throw new UserError("write KEY@HOST:PORT[/NAME], KEY a 64-hex public key or a key file.");
        }
        PublicKey key = Arguments.account(spec.substring(0, at));
        String rest = spec.substring(at + 1);
        int slash = rest.indexOf('/');
        String address = slash < 0 ? rest : rest.substring(0, slash);
        String name = slash < 0 ? "" : rest.substring(slash + 1);
        checkAddress(address);
        return ChainGenesis.validator(key, address, name);
    }

    private static void checkAddress(String address) throws UserError {
        int colon = address.lastIndexOf(':');
        int port = -1;
        if (colon > 0) {
            try {
                port = Integer.parseInt(address.substring(colon + 1));
            } catch (NumberFormatException e) {
                port = -1;
            }
        }
        if (port < 1 || port > 65535) {
            throw new UserError("'" + address + "' is not HOST:PORT (the replica's gRPC endpoint, port 1-65535).");
        }
    }

    private static String[] split(String spec, String form) throws UserError {
        int eq = spec.indexOf('=');
        if (eq <= 0 || eq == spec.length() - 1) {
            throw new UserError("write " + form + ".");
        }
        return new String[] {spec.substring(0, eq), spec.substring(eq + 1)};
    }

    private static int indexOf(List<Validator> set, ByteString key) {
        for (int i = 0; i < set.size(); i++) {
            if (set.get(i).getPublicKey().equals(key)) {
                return i;
            }
        }
        return -1;
    }

    /** name, address and short key, as the validators commands print a validator. */
    static String describe(Validator v) {
        return (v.getName().isEmpty() ? "-" : v.getName()) + " " + v.getAddress() + " " + Arguments.hex(v.getPublicKey()).substring(0, 8);
    }
}
