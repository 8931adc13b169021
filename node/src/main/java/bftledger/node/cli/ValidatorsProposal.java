package bftledger.node.cli;

import bftledger.crypto.Digest;
import bftledger.crypto.KeyPair;
import bftledger.crypto.PublicKey;
import bftledger.ledger.ChainGenesis;
import bftledger.ledger.TrustRoot;
import bftledger.ledger.ValidatorSets;
import bftledger.ledger.ValidatorSets.ValidatorSet;
import bftledger.ledger.proto.ChangeValidators;
import bftledger.ledger.proto.Validator;
import bftledger.ledger.proto.ValidatorApproval;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.google.protobuf.ByteString;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;

/**
 * A proposed validator-set change as the operators pass it around: the network (genesis hash),
 * the set it replaces ({@code replaces}, whose hash is the change's current_set_hash), the new set
 * and the approvals gathered so far, kept in increasing replica order. A file is only a carrier:
 * every approval in it is checked against the proposal before anything is signed or submitted,
 * so a file changed after someone approved it is refused ({@link #checkApprovals()}). Contract of
 * the approvals: ChangeValidators in ledger.proto (see ValidatorsProposalTest).
 */
record ValidatorsProposal(String chainId, Digest genesisHash, ValidatorSet replaces, List<Validator> validators,
                          List<ValidatorApproval> approvals) {
    static final String FORMAT = "bftledger-validator-change-v1";
    private static final ObjectMapper READER = new ObjectMapper();

    ValidatorsProposal {
        validators = List.copyOf(validators);
        approvals = List.copyOf(approvals);
    }

    /** A proposal without approvals to move {@code genesis}'s network from {@code replaces} to {@code validators}. */
    static ValidatorsProposal of(TrustRoot genesis, ValidatorSet replaces, List<Validator> validators) {
        return new ValidatorsProposal(genesis.chainId(), genesis.genesisHash(), replaces, validators, List.of());
    }

    long epoch() {
        return replaces.epoch() + 1;
    }

    ByteString currentSetHash() {
        return ByteString.copyFrom(replaces.hash().bytes());
    }

    /** The transaction's operation, approvals included. */
    ChangeValidators change() {
        return ChangeValidators.newBuilder().setEpoch(epoch()).setCurrentSetHash(currentSetHash())
                .addAllValidators(validators).addAllApprovals(approvals).build();
    }

    /** The new set as it would sign once in force (its first height is not known before the change executes). */
    ValidatorSet proposed() {
        return set(epoch(), 0, validators);
    }

    // ------------------------------------------------------------------------------ checks

    /** Refuses a proposal for another network than {@code genesis}'s. */
    void checkGenesis(TrustRoot genesis) throws UserError {
        if (!genesisHash.equals(genesis.genesisHash())) {
            throw new UserError("the proposal is for the network of genesis " + genesisHash.hex() + " (chain '" + chainId
                    + "'), not this one (" + genesis.genesisHash().hex() + "): check --genesis and --proposal.");
        }
    }

    /**
     * Refuses a proposal that no longer replaces the network's latest set: once another change
     * executed, this one would fail, and its approvals sign for a set that is gone.
     */
    void checkCurrent(ValidatorSet latest) throws UserError {
        if (!latest.hash().equals(replaces.hash()) || latest.epoch() != replaces.epoch()) {
            throw new UserError("stale proposal: it replaces epoch " + replaces.epoch() + " (set " + replaces.hash().shortHex()
                    + "), but the network's latest set is epoch " + latest.epoch() + " (set " + latest.hash().shortHex()
                    + "). Propose again from the set now in force (`bftledger validators propose`).");
        }
    }

    /**
     * Refuses approvals that are not each a valid signature of this proposal by a distinct member
     * of the set it replaces, in increasing replica order: a file edited after it was approved,
     * or an approval of some other proposal pasted in.
     */
    void checkApprovals() throws UserError {
        byte[] message = message();
        long previous = -1;
        for (ValidatorApproval a : approvals) {
            long replica = Integer.toUnsignedLong(a.getReplica());
            if (replica >= replaces.n()) {
                throw new UserError("tampered proposal: an approval by replica " + replica + ", but the set it replaces has "
                        + replaces.n() + " (0.." + (replaces.n() - 1) + "). Get the proposal again from its proposer.");
            }
            if (replica <= previous) {
                throw new UserError("tampered proposal: approvals are not in increasing replica order (" + replica + " after "
                        + previous + "). Get the proposal again from its proposer.");
            }
            previous = replica;
            PublicKey key = replaces.keys().get((int) replica);
            if (a.getSignature().size() != bftledger.crypto.Signature.LENGTH
                    || !key.verify(bftledger.crypto.Domain.VALIDATOR_CHANGE, message, a.getSignature().toByteArray())) {
                throw new UserError("tampered proposal: replica " + replica + "'s approval does not verify against this proposal"
                        + " (the file was changed after it was approved, or the approval is of another proposal)."
                        + " Get the proposal again from its proposer.");
            }
        }
    }

    /** Refuses to go on with fewer approvals than the set it replaces needs to authorise the change. */
    void checkQuorum() throws UserError {
        int needed = replaces.quorum();
        if (approvals.size() < needed) {
            throw new UserError(approvals.size() + " approvals, the set in force needs " + needed + ": "
                    + (needed - approvals.size()) + " more of its validators must run `bftledger validators approve`"
                    + " on this file before it is submitted.");
        }
    }

    /** Why the new set cannot be a validator set (the ledger's own rule), or null. */
    String setProblem() {
        return ValidatorSets.setProblem(validators);
    }

    // ------------------------------------------------------------------------------ approving

    /** {@code key}'s index in the set this proposal replaces; refuses a key that is not a member. */
    int replicaOf(PublicKey key) throws UserError {
        int replica = replaces.indexOf(key);
        if (replica < 0) {
            throw new UserError("key " + key.shortHex() + " is not a validator of epoch " + replaces.epoch()
                    + ", the set this proposal replaces: only its members approve. Use that validator's node.key.");
        }
        return replica;
    }

    /** This proposal with {@code key}'s approval added, or put in place of its earlier one. */
    ValidatorsProposal approvedBy(KeyPair key) throws UserError {
        int replica = replicaOf(key.publicKey());
        byte[] signature = ValidatorSets.approve(key, genesisHash, replaces, validators);
        List<ValidatorApproval> next = new ArrayList<>();
        for (ValidatorApproval a : approvals) {
            if (a.getReplica() != replica) {
                next.add(a);
            }
        }
        next.add(ValidatorApproval.newBuilder().setReplica(replica).setSignature(ByteString.copyFrom(signature)).build());
        next.sort(Comparator.comparingLong(a -> Integer.toUnsignedLong(a.getReplica())));
        return new ValidatorsProposal(chainId, genesisHash, replaces, validators, next);
    }

    private byte[] message() {
        return ValidatorSets.approvalMessage(genesisHash, epoch(), currentSetHash(), validators);
    }

    // ------------------------------------------------------------------------------ the file

    /** The file's JSON: snake_case keys, keys, hashes and signatures in hex, as the CLI prints them. */
    Map<String, Object> json() {
        return CommandOutput.fields("format", FORMAT, "chain_id", chainId, "genesis_hash", genesisHash.hex(),
                "epoch", epoch(), "current_set_hash", replaces.hash().hex(),
                "replaces", CommandOutput.fields("epoch", replaces.epoch(), "from_height", replaces.fromHeight(),
                        "validators", validatorsJson(replaces.validators())),
                "validators", validatorsJson(validators),
                "approvals", approvals.stream().map(a -> (Object) CommandOutput.fields("replica", Integer.toUnsignedLong(a.getReplica()),
                        "signature", Arguments.hex(a.getSignature()))).toList());
    }

    static List<Object> validatorsJson(List<Validator> validators) {
        return validators.stream().map(v -> (Object) CommandOutput.fields("public_key", Arguments.hex(v.getPublicKey()),
                "address", v.getAddress(), "name", v.getName())).toList();
    }

    /** Writes a new file; refuses to replace one (a proposal holds others' approvals). */
    void writeNew(Path file) throws UserError {
        try {
            Files.writeString(file, CommandOutput.toIndentedJson(json()) + "\n", StandardCharsets.UTF_8,
                    java.nio.file.StandardOpenOption.CREATE_NEW);
        } catch (FileAlreadyExistsException e) {
            throw new UserError(file + " exists: choose another --out, or move it away (it may hold approvals).");
        } catch (IOException e) {
            throw new UserError("cannot write " + file + ": " + e.getMessage());
        }
    }

    /** Replaces {@code file} whole (written beside it, then renamed), so a crash leaves the old or the new file. */
    void overwrite(Path file) throws UserError {
        Path dir = file.toAbsolutePath().getParent();
        try {
            Path tmp = Files.createTempFile(dir, file.getFileName().toString(), ".tmp");
            try {
                Files.writeString(tmp, CommandOutput.toIndentedJson(json()) + "\n", StandardCharsets.UTF_8);
                Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
            } finally {
                Files.deleteIfExists(tmp);
            }
        } catch (IOException e) {
            throw new UserError("cannot write " + file + ": " + e.getMessage());
        }
    }

    static ValidatorsProposal read(Path file) throws UserError {
        String text;
        try {
            text = Files.readString(file, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UserError("cannot read the proposal " + file + ": " + e.getMessage());
        }
        try {
            return parse(text);
        } catch (UserError e) {
            throw new UserError("proposal " + file + ": " + e.getMessage());
        }
    }

    /**
     * A proposal from its JSON, checked to be consistent with itself (epoch, current_set_hash and
     * the set it replaces agree; the new set is a valid one). Its approvals are checked apart
     * ({@link #checkApprovals()}).
     */
    static ValidatorsProposal parse(String text) throws UserError {
        JsonNode root;
        try {
            root = READER.readTree(text);
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new UserError("not JSON: " + e.getOriginalMessage());
        }
        if (root == null || !root.isObject() || !FORMAT.equals(root.path("format").asText())) {
            throw new UserError("not a validator-change proposal (its \"format\" is not \"" + FORMAT + "\").");
        }
        JsonNode replacesNode = field(root, "replaces");
        List<Validator> replacing = validators(field(replacesNode, "validators"), "replaces.validators");
        ValidatorSet replaces = set(number(replacesNode, "epoch"), number(replacesNode, "from_height"), replacing);
        if (!replaces.hash().equals(digest(root, "current_set_hash"))) {
            throw new UserError("tampered proposal: current_set_hash is not the hash of the set it replaces.");
        }
        if (number(root, "epoch") != replaces.epoch() + 1) {
            throw new UserError("tampered proposal: epoch " + number(root, "epoch") + " does not follow the replaced epoch "
                    + replaces.epoch() + ".");
        }
        List<ValidatorApproval> approvals = new ArrayList<>();
        for (JsonNode a : array(root, "approvals")) {
            long replica = number(a, "replica");
            if (replica > 0xFFFF_FFFFL) {
                throw new UserError("approval by replica " + replica + ": not a replica index.");
            }
            approvals.add(ValidatorApproval.newBuilder().setReplica((int) replica)
                    .setSignature(ByteString.copyFrom(hex(a, "signature", -1))).build());
        }
        ValidatorsProposal p = new ValidatorsProposal(text(root, "chain_id"), digest(root, "genesis_hash"), replaces,
                validators(field(root, "validators"), "validators"), approvals);
        String problem = p.setProblem();
        if (problem != null) {
            throw new UserError("the proposed set is not a valid validator set: " + problem + ".");
        }
        return p;
    }

    private static List<Validator> validators(JsonNode array, String where) throws UserError {
        if (!array.isArray()) {
            throw new UserError("\"" + where + "\" is not a list.");
        }
        List<Validator> out = new ArrayList<>();
        for (JsonNode v : array) {
            byte[] key = hex(v, "public_key", bftledger.crypto.PublicKey.LENGTH);
            try {
                PublicKey.of(key);
            } catch (IllegalArgumentException e) {
                throw new UserError(where + "[" + out.size() + "]: " + e.getMessage());
            }
            out.add(Validator.newBuilder().setPublicKey(ByteString.copyFrom(key)).setAddress(text(v, "address"))
                    .setName(v.path("name").asText("")).build());
        }
        return out;
    }

    private static JsonNode field(JsonNode node, String name) throws UserError {
        JsonNode v = node.get(name);
        if (v == null || v.isNull()) {
            throw new UserError("missing \"" + name + "\".");
        }
        return v;
    }

    private static Iterable<JsonNode> array(JsonNode node, String name) throws UserError {
        JsonNode v = field(node, name);
        if (!v.isArray()) {
            throw new UserError("\"" + name + "\" is not a list.");
        }
        return v;
    }

    private static String text(JsonNode node, String name) throws UserError {
        JsonNode v = field(node, name);
        if (!v.isTextual()) {
            throw new UserError("\"" + name + "\" is not a string.");
        }
        return v.asText();
    }

    private static long number(JsonNode node, String name) throws UserError {
        JsonNode v = field(node, name);
        if (!v.canConvertToLong() || !v.isIntegralNumber() || v.asLong() < 0) {
            throw new UserError("\"" + name + "\" is not a non-negative whole number.");
        }
        return v.asLong();
    }

    private static Digest digest(JsonNode node, String name) throws UserError {
        return Digest.of(hex(node, name, Digest.LENGTH));
    }

    private static byte[] hex(JsonNode node, String name, int length) throws UserError {
        String s = text(node, name);
        try {
            byte[] b = HexFormat.of().parseHex(s);
            if (length >= 0 && b.length != length) {
                throw new UserError("\"" + name + "\" is " + b.length + " bytes, not " + length + ".");
            }
            return b;
        } catch (IllegalArgumentException e) {
            throw new UserError("\"" + name + "\" is not hex.");
        }
    }

    static ValidatorSet set(long epoch, long fromHeight, List<Validator> validators) {
        List<PublicKey> keys = validators.stream().map(v -> PublicKey.of(v.getPublicKey().toByteArray())).toList();
        return new ValidatorSet(epoch, fromHeight, validators, keys, ChainGenesis.validatorSetHash(keys));
    }
}
