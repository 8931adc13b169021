package bftledger.node.vectors;

import static org.junit.jupiter.api.Assertions.assertEquals;

import bftledger.api.proto.GetAccountResponse;
import bftledger.api.proto.GetBlockResponse;
import bftledger.api.proto.GetRecordHistoryResponse;
import bftledger.api.proto.GetRecordResponse;
import bftledger.api.proto.TransactionProof;
import bftledger.crypto.Digest;
import bftledger.crypto.KeyPair;
import bftledger.crypto.PublicKey;
import bftledger.crypto.Sha256;
import bftledger.crypto.SparseMerkleTree;
import bftledger.ledger.BlockStore;
import bftledger.ledger.ChainGenesis;
import bftledger.ledger.Proofs;
import bftledger.ledger.RecordKey;
import bftledger.ledger.RecordValue;
import bftledger.ledger.Transactions;
import bftledger.ledger.VerifiedTransaction;
import bftledger.ledger.proto.Block;
import bftledger.ledger.proto.BlockHeader;
import bftledger.ledger.proto.CommitCertificate;
import bftledger.ledger.proto.HeaderProof;
import bftledger.ledger.proto.Receipt;
import bftledger.ledger.proto.SignedTransaction;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.google.protobuf.ByteString;
import com.google.protobuf.Message;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The proof test vectors of the client contract ({@code docs/test-vectors/proofs-v1.json}):
 * a genesis, answers as replicas give them (built here by a real block store from a deterministic
 * chain, the same code a node serves them with) and forgeries of each, with the verdict each must
 * get. This test rebuilds the file and compares it with the one in the repository, so the vectors
 * always describe the code; {@code -Dbftledger.vectors.write=true} rewrites the file. The SDK's
 * {@code ProofVectorsTest} checks every verdict with the client's verifier.
 */
class ProofVectorsTest {
    static final Path FILE = Path.of("..", "docs", "test-vectors", "proofs-v1.json");
    private static final String CHAIN = "bftledger-vectors";
    private static final HexFormat HEX = HexFormat.of();

    @TempDir
    Path tmp;

    private final List<KeyPair> validators = new ArrayList<>();
    private final List<KeyPair> users = new ArrayList<>();

    @Test
    void theVectorFileDescribesTheCode() throws Exception {
        String built = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValueAsString(build()) + "\n";
        if (Boolean.getBoolean("bftledger.vectors.write")) {
            Files.createDirectories(FILE.getParent());
            Files.writeString(FILE, built);
        }
        assertEquals(built, Files.readString(FILE), "docs/test-vectors/proofs-v1.json is out of date; rebuild it with "
                + "mvn -pl node test -Dtest=ProofVectorsTest -Dbftledger.vectors.write=true");
    }

    private ChainGenesis genesis(String chain) {
        List<bftledger.ledger.proto.Validator> vs = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            vs.add(ChainGenesis.validator(validators.get(i).publicKey(), "node" + i + ":7000", "node" + i));
        }
        TreeMap<PublicKey, Long> balances = new TreeMap<>();
        balances.put(users.get(0).publicKey(), 1_000L);
        balances.put(users.get(1).publicKey(), 50L);
        return ChainGenesis.build(chain, vs, balances, 1_700_000_000_000L);
    }

    private Map<String, Object> build() throws Exception {
        for (int i = 0; i < 4; i++) {
            validators.add(KeyPair.deterministic("vector-validator-" + i));
        }
        for (int i = 0; i < 3; i++) {
            users.add(KeyPair.deterministic("vector-user-" + i));
        }
        ChainGenesis genesis = genesis(CHAIN);
        KeyPair alice = users.get(0);
        KeyPair bob = users.get(1);
        KeyPair carol = users.get(2);
        VerifiedTransaction paid = transfer(alice, bob.publicKey(), 30, 1);
        VerifiedTransaction unfunded = transfer(carol, bob.publicKey(), 5, 2);
        VerifiedTransaction first = put(alice, "note", "first", 3);
        VerifiedTransaction second = put(alice, "note", "second", 4);
        VerifiedTransaction third = put(alice, "note", "third", 5);
        List<List<VerifiedTransaction>> blocks = List.of(List.of(paid, unfunded), List.of(first), List.of(second, third),
                List.of(), List.of());
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("description", "Proofs a bftledger replica gives and a client checks against the genesis alone, and"
                + " forgeries of them; every value is hex of the exact protobuf bytes a replica sends. A verifier must"
                + " accept exactly the cases marked valid. See docs/client-contract.md.");
        out.put("chain_id", CHAIN);
        out.put("genesis", HEX.formatHex(genesis.bytes()));
        out.put("genesis_hash", genesis.hash().hex());
        List<Object> cases = new ArrayList<>();
        out.put("cases", cases);
        try (BlockStore store = BlockStore.open(tmp.resolve("store"), genesis)) {
            for (List<VerifiedTransaction> txs : blocks) {
                append(store, genesis, txs);
            }
            transactionCases(store, paid, unfunded, cases);
            stateCases(store, genesis, bob, carol, cases);
            recordCases(store, alice, cases);
            blockCases(store, cases);
            headerCases(store, cases);
        }
        cases.add(otherNetwork(tmp.resolve("other"), paid, unfunded));
        cases.add(stateTreeCase());
        cases.add(signingCase(alice));
        return out;
    }

    private VerifiedTransaction transfer(KeyPair from, PublicKey to, long amount, long nonce) {
        return Transactions.signVerified(Transactions.transfer(CHAIN, from.publicKey(), nonce, to, amount), from);
    }

    private VerifiedTransaction put(KeyPair from, String key, String value, long nonce) {
        return Transactions.signVerified(Transactions.putRecord(CHAIN, from.publicKey(), nonce, key,
                ByteString.copyFromUtf8(value)), from);
    }

    /** The next block, anchoring the one before (as an idle primary does; any earlier one is valid), certified by validators 0..2. */
    private void append(BlockStore store, ChainGenesis genesis, List<VerifiedTransaction> txs) {
        bftledger.node.TestBlocks.append(store, genesis, validators, txs);
    }

    private static TransactionProof proof(BlockStore store, Digest id) {
        BlockStore.TxRecord r = store.transaction(id).orElseThrow();
        TransactionProof.Builder p = TransactionProof.newBuilder().setTransaction(r.transaction()).setReceipt(r.receipt())
                .setBlockHeader(r.block().getHeader()).setCertificate(r.block().getCertificate())
                .setTxInclusion(Proofs.toProto(r.txProof())).setReceiptInclusion(Proofs.toProto(r.receiptProof()));
        store.headerProof(r.height()).ifPresent(p::setHeaderProof);
        return p.build();
    }

    private void transactionCases(BlockStore store, VerifiedTransaction paid, VerifiedTransaction unfunded, List<Object> cases) {
        TransactionProof success = proof(store, paid.id());
        TransactionProof failed = proof(store, unfunded.id());
        cases.add(transactionCase("a SUCCESS transfer", success, true));
        cases.add(transactionCase("a FAILED transfer (no funds)", failed, true));
        cases.add(transactionCase("forged: the FAILED receipt shown as SUCCESS", failed.toBuilder()
                .setReceipt(failed.getReceipt().toBuilder().setStatus(Receipt.Status.SUCCESS).clearReason()).build(), false));
        cases.add(transactionCase("forged: the receipt's reason changed", failed.toBuilder()
                .setReceipt(failed.getReceipt().toBuilder().setReason("paid in full")).build(), false));
        cases.add(transactionCase("forged: another transaction under the receipt", success.toBuilder()
                .setTransaction(unfunded.signed()).build(), false));
        cases.add(transactionCase("forged: a header certificate one signature short of 2f+1",
                success.toBuilder().setHeaderProof(fewerSignatures(success.getHeaderProof())).build(), false));
        cases.add(transactionCase("forged: the header's state root changed under the same certificate",
                success.toBuilder().setHeaderProof(alteredHeader(success.getHeaderProof())).build(), false));
        cases.add(transactionCase("not proven: no header proof (the block not yet certified)",
                success.toBuilder().clearHeaderProof().build(), false));
    }

    private static Map<String, Object> transactionCase(String name, TransactionProof proof, boolean valid) {
        return fields("name", name, "kind", "transaction_proof", "proof", hex(proof), "valid", valid,
                "tx_id", Sha256.hash(proof.getTransaction().getBody().toByteArray()).hex(),
                "status", proof.getReceipt().getStatus().name());
    }

    private void stateCases(BlockStore store, ChainGenesis genesis, KeyPair bob, KeyPair carol, List<Object> cases) {
        GetAccountResponse present = account(store, bob.publicKey());
        GetAccountResponse absent = account(store, KeyPair.deterministic("vector-never-credited").publicKey());
        cases.add(accountCase("an account's balance", bob.publicKey(), present, true));
        cases.add(accountCase("an account never credited: absence proven, balance 0",
                KeyPair.deterministic("vector-never-credited").publicKey(), absent, true));
        cases.add(accountCase("an unfunded sender whose transfer failed keeps its genesis balance 0 (never credited)",
                carol.publicKey(), account(store, carol.publicKey()), true));
        cases.add(accountCase("forged: balance plus one", bob.publicKey(), present.toBuilder().setBalance(present.getBalance() + 1)
                .build(), false));
        cases.add(accountCase("forged: the account said absent", bob.publicKey(), present.toBuilder().setExists(false)
                .setBalance(0).build(), false));
        cases.add(accountCase("forged: a sibling hash of the state proof changed", bob.publicKey(), present.toBuilder()
                .setStateProof(present.getStateProof().toBuilder().setSiblings(0, flip(present.getStateProof().getSiblings(0))))
                .build(), false));
        cases.add(accountCase("forged: the same proof for another account", carol.publicKey(), present.toBuilder()
                .setAccount(ByteString.copyFrom(carol.publicKey().bytes())).build(), false));
    }

    private static GetAccountResponse account(BlockStore store, PublicKey account) {
        BlockStore.StateRead<Long> read = store.accountProof(ByteString.copyFrom(account.bytes()));
        HeaderProof header = certifiedFor(store, read.height());
        return GetAccountResponse.newBuilder().setAccount(ByteString.copyFrom(account.bytes())).setBalance(read.value().orElse(0L))
                .setExists(read.value().isPresent()).setHeight(header(header).getHeight())
                .setBlockHash(ByteString.copyFrom(Sha256.hash(header.getHeader().toByteArray()).bytes()))
                .setStateProof(Proofs.toProto(read.proof())).setHeaderProof(header).setAtMinHeight(true).build();
    }

    /** The proof for the certified header with the same state as {@code height} (the tip is an empty block). */
    private static HeaderProof certifiedFor(BlockStore store, long height) {
        long certified = Math.min(height, store.certifiedHeight());
        return store.headerProof(certified).orElseThrow();
    }

    private static Map<String, Object> accountCase(String name, PublicKey account, GetAccountResponse r, boolean valid) {
        return fields("name", name, "kind", "account", "account", account.hex(), "response", hex(r), "valid", valid,
                "balance", r.getBalance());
    }

    private void recordCases(BlockStore store, KeyPair alice, List<Object> cases) {
        RecordKey key = RecordKey.of(ByteString.copyFrom(alice.publicKey().bytes()), "note");
        BlockStore.StateRead<RecordValue> read = store.recordProof(key);
        HeaderProof header = certifiedFor(store, read.height());
        RecordValue value = read.value().orElseThrow();
        GetRecordResponse current = GetRecordResponse.newBuilder().setFound(true).setValue(value.value())
                .setWriterTxId(ByteString.copyFrom(value.writer().bytes())).setHeight(header(header).getHeight())
                .setStateProof(Proofs.toProto(read.proof())).setHeaderProof(header).setAtMinHeight(true).build();
        cases.add(recordCase("a record's value and writer", alice, "note", current, true));
        cases.add(recordCase("forged: the value changed", alice, "note", current.toBuilder()
                .setValue(ByteString.copyFromUtf8("fourth")).build(), false));
        cases.add(recordCase("forged: the record said never written", alice, "note", current.toBuilder().setFound(false)
                .clearValue().clearWriterTxId().build(), false));
        RecordKey none = RecordKey.of(ByteString.copyFrom(alice.publicKey().bytes()), "none");
        BlockStore.StateRead<RecordValue> absent = store.recordProof(none);
        cases.add(recordCase("a record never written: absence proven", alice, "none", GetRecordResponse.newBuilder()
                .setFound(false).setHeight(header(certifiedFor(store, absent.height())).getHeight())
                .setStateProof(Proofs.toProto(absent.proof())).setHeaderProof(certifiedFor(store, absent.height()))
                .setAtMinHeight(true).build(), true));

        List<TransactionProof> writes = new ArrayList<>();
        Digest next = value.writer();
        while (next != null) {
            TransactionProof write = proof(store, next);
            writes.add(write);
            ByteString previous = write.getReceipt().getPreviousTxId();
            next = previous.isEmpty() ? null : Digest.of(previous.toByteArray());
        }
        GetRecordHistoryResponse history = GetRecordHistoryResponse.newBuilder().setCurrent(current).addAllWrites(writes)
                .setComplete(true).build();
        cases.add(historyCase("a record's three values, newest first", alice, history, true));
        cases.add(historyCase("forged: the middle value left out", alice, history.toBuilder().removeWrites(1).build(), false));
        cases.add(historyCase("forged: claimed incomplete when the first write is listed", alice,
                history.toBuilder().setComplete(false).build(), false));
        cases.add(historyCase("forged: a value rewritten", alice, history.toBuilder().setWrites(1, writes.get(1).toBuilder()
                .setTransaction(writes.get(1).getTransaction().toBuilder().setBody(flip(writes.get(1).getTransaction().getBody()))))
                .build(), false));
    }

    private static Map<String, Object> recordCase(String name, KeyPair owner, String key, GetRecordResponse r, boolean valid) {
        return fields("name", name, "kind", "record", "owner", owner.publicKey().hex(), "key", key, "response", hex(r),
                "valid", valid, "value", r.getValue().toString(StandardCharsets.UTF_8));
    }

    private static Map<String, Object> historyCase(String name, KeyPair owner, GetRecordHistoryResponse r, boolean valid) {
        return fields("name", name, "kind", "record_history", "owner", owner.publicKey().hex(), "key", "note",
                "response", hex(r), "valid", valid, "values", r.getWritesCount());
    }

    private void blockCases(BlockStore store, List<Object> cases) {
        Block block = store.block(1).orElseThrow();
        GetBlockResponse r = GetBlockResponse.newBuilder().setFound(true).setBlock(block)
                .setBlockHash(ByteString.copyFrom(Sha256.hash(block.getHeader().toByteArray()).bytes()))
                .setHeaderProof(store.headerProof(1).orElseThrow()).build();
        cases.add(blockCase("a block with its header proven", r, true));
        cases.add(blockCase("forged: a transaction's body changed", r.toBuilder().setBlock(block.toBuilder().setTransactions(0,
                block.getTransactions(0).toBuilder().setBody(flip(block.getTransactions(0).getBody())))).build(), false));
        cases.add(blockCase("forged: a receipt changed", r.toBuilder().setBlock(block.toBuilder().setReceipts(1,
                block.getReceipts(1).toBuilder().setStatus(Receipt.Status.SUCCESS).clearReason())).build(), false));
        cases.add(blockCase("forged: a transaction left out", r.toBuilder().setBlock(block.toBuilder().removeTransactions(1)
                .removeReceipts(1)).build(), false));
    }

    private static Map<String, Object> blockCase(String name, GetBlockResponse r, boolean valid) {
        return fields("name", name, "kind", "block", "response", hex(r), "valid", valid, "height", 1);
    }

    /** Block 1's header proven through the blocks tree of the latest certified header. */
    private void headerCases(BlockStore store, List<Object> cases) {
        long latest = store.certifiedHeight();
        HeaderProof extension = store.headerProof(1, latest).orElseThrow();
        cases.add(fields("name", "block 1 proven in the blocks_root of the latest certified header (height " + latest + ")",
                "kind", "header_proof", "proof", hex(extension), "valid", true, "height", 1));
        cases.add(fields("name", "forged: the audit path changed", "kind", "header_proof", "proof", hex(extension.toBuilder()
                .setHistory(extension.getHistory().toBuilder().setPath(0, flip(extension.getHistory().getPath(0)))).build()),
                "valid", false, "height", 1));
        cases.add(fields("name", "forged: block 2's header claimed at block 1's leaf", "kind", "header_proof", "proof",
                hex(extension.toBuilder().setHeader(store.block(2).orElseThrow().getHeader()).build()), "valid", false, "height", 1));
    }

    /** A proof from a network with the same validators and chain id but another genesis. */
    private Map<String, Object> otherNetwork(Path dir, VerifiedTransaction paid, VerifiedTransaction unfunded) {
        ChainGenesis other = ChainGenesis.of(genesis(CHAIN).genesis().toBuilder().setCreatedMillis(1_700_000_000_001L).build());
        try (BlockStore store = BlockStore.open(dir, other)) {
            append(store, other, List.of(paid, unfunded));
            append(store, other, List.of());
            return transactionCase("forged: a proof from another network of the same validators and chain id",
                    proof(store, paid.id()), false);
        }
    }

    /** The published state-tree rule on a fixed input (keys SHA-256 of "a", "b", "c"). */
    private static Map<String, Object> stateTreeCase() {
        List<SparseMerkleTree.Change> entries = new ArrayList<>();
        TreeMap<Digest, Digest> sorted = new TreeMap<>();
        for (String[] kv : new String[][] {{"a", "1"}, {"b", "2"}, {"c", "3"}}) {
            sorted.put(Sha256.hash(kv[0].getBytes(StandardCharsets.US_ASCII)), Sha256.hash(kv[1].getBytes(StandardCharsets.US_ASCII)));
        }
        List<Object> leaves = new ArrayList<>();
        sorted.forEach((k, v) -> {
            entries.add(new SparseMerkleTree.Change(k, v));
            leaves.add(fields("key", k.hex(), "value_hash", v.hex()));
        });
        return fields("name", "the state tree rule on three keys", "kind", "state_tree", "leaves", leaves,
                "root", SparseMerkleTree.build(entries).root().hash().hex(), "valid", true);
    }

    private static Map<String, Object> signingCase(KeyPair sender) {
        SignedTransaction tx = Transactions.sign(Transactions.transfer(CHAIN, sender.publicKey(), 7, sender.publicKey(), 1), sender);
        return fields("name", "a signed transfer: id = SHA-256(body), Ed25519 over \"bftledger/v1/transaction\" 0x00 || body",
                "kind", "signed_transaction", "signed_transaction", hex(tx), "sender", sender.publicKey().hex(),
                "tx_id", Sha256.hash(tx.getBody().toByteArray()).hex(), "valid", true);
    }

    private static HeaderProof fewerSignatures(HeaderProof p) {
        CommitCertificate c = p.getCertificate().getCertificate();
        return p.toBuilder().setCertificate(p.getCertificate().toBuilder().setCertificate(c.toBuilder().removeSignatures(0))).build();
    }

    private static HeaderProof alteredHeader(HeaderProof p) {
        BlockHeader h = header(p);
        return p.toBuilder().setHeader(h.toBuilder().setStateRoot(flip(h.getStateRoot())).build().toByteString()).build();
    }

    private static BlockHeader header(HeaderProof p) {
        try {
            return BlockHeader.parseFrom(p.getHeader());
        } catch (com.google.protobuf.InvalidProtocolBufferException e) {
            throw new IllegalStateException(e);
        }
    }

    private static ByteString flip(ByteString b) {
        byte[] bytes = b.toByteArray();
        bytes[bytes.length - 1] ^= 1;
        return ByteString.copyFrom(bytes);
    }

    private static String hex(Message m) {
        return HEX.formatHex(m.toByteArray());
    }

    private static Map<String, Object> fields(Object... kv) {
        Map<String, Object> m = new LinkedHashMap<>();
        for (int i = 0; i < kv.length; i += 2) {
            m.put((String) kv[i], kv[i + 1]);
        }
        return m;
    }
}
