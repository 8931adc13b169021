package bftledger.ledger;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import bftledger.crypto.Digest;
import bftledger.crypto.KeyPair;
import bftledger.crypto.PublicKey;
import bftledger.crypto.Sha256;
import bftledger.ledger.proto.Block;
import bftledger.ledger.proto.BlockHeader;
import bftledger.ledger.proto.Genesis;
import bftledger.ledger.proto.InitialBalance;
import bftledger.ledger.proto.Receipt;
import bftledger.ledger.proto.SignedTransaction;
import bftledger.ledger.proto.TransactionBody;
import bftledger.ledger.proto.TxIndexEntry;
import bftledger.ledger.proto.Validator;
import com.google.protobuf.ByteString;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;

class FormatsTest {
    private final TestLedger net = TestLedger.standard();

    @Test
    void signedTransactionRoundTripsAndKeepsBodyBytes() throws Exception {
        VerifiedTransaction tx = net.transfer(0, 1, 5, 42);
        SignedTransaction back = SignedTransaction.parseFrom(tx.signed().toByteArray());
        assertEquals(tx.signed(), back);
        assertEquals(tx.id(), Sha256.hash(back.getBody().toByteArray()));
        TransactionBody body = TransactionBody.parseFrom(back.getBody());
        assertEquals(42, body.getNonce());
        assertEquals(5, body.getTransfer().getAmount());
        assertEquals(net.account(1), body.getTransfer().getTo());
    }

    @Test
    void blockRoundTripsAndHashIsOverHeaderBytes() throws Exception {
        MemoryState state = MemoryState.genesis(net.genesis);
        ExecutedBlock b = net.next(state, net.genesis.hash(), 1234, List.of(net.transfer(0, 1, 5, 1), net.put(2, "k", "v", 2)));
        byte[] bytes = b.block().toByteArray();
        Block back = Blocks.parse(bytes);
        assertEquals(b.block(), back);
        assertEquals(b.hash(), Sha256.hash(back.getHeader().toByteArray()));
        assertEquals(b.hash(), Blocks.hash(back));
        BlockHeader h = Blocks.header(back);
        assertEquals(1, h.getHeight());
        assertEquals(2, h.getTxCount());
        assertEquals(1234, h.getTimestampMillis());
        assertEquals(ByteString.copyFrom(net.genesis.hash().bytes()), h.getPreviousHash());
        assertEquals(Blocks.txIds(back), List.of(b.execution().changes().executed().get(0).txId(),
                b.execution().changes().executed().get(1).txId()));
    }

    @Test
    void nonCanonicalBlockBytesAreRefused() throws Exception {
        MemoryState state = MemoryState.genesis(net.genesis);
        ExecutedBlock b = net.next(state, net.genesis.hash(), 0, List.of());
        byte[] bytes = b.block().toByteArray();
        // Append an unknown field (number 99, varint 1): parses, but is not what we write.
        byte[] extended = new byte[bytes.length + 3];
        System.arraycopy(bytes, 0, extended, 0, bytes.length);
        extended[bytes.length] = (byte) 0x98;
        extended[bytes.length + 1] = 0x06;
        extended[bytes.length + 2] = 0x01;
        Block.parseFrom(extended);
        assertThrows(com.google.protobuf.InvalidProtocolBufferException.class, () -> Blocks.parse(extended));
    }

    @Test
    void txIndexEntryAndReceiptRoundTrip() throws Exception {
        Receipt r = Receipt.newBuilder().setTxId(ByteString.copyFrom(new byte[32])).setHeight(7).setIndex(3)
                .setStatus(Receipt.Status.FAILED).setReason("insufficient funds").build();
        TxIndexEntry e = TxIndexEntry.newBuilder().setHeight(7).setIndex(3).setReceipt(r).build();
        assertEquals(e, TxIndexEntry.parseFrom(e.toByteArray()));
    }

    @Test
    void genesisHashIsOverItsBytesAndRoundTrips() {
        byte[] bytes = net.genesis.bytes();
        ChainGenesis again = ChainGenesis.parse(bytes);
        assertEquals(net.genesis.hash(), Sha256.hash(bytes));
        assertEquals(net.genesis.hash(), again.hash());
        assertEquals(net.genesis.genesis(), again.genesis());
        assertEquals(net.genesis.stateRoot(), again.stateRoot());
        assertEquals(4, again.n());
        assertEquals(1, again.f());
        assertEquals(3, again.quorum());
        assertEquals(net.validators.get(2).publicKey(), again.validatorKey(2));
        assertEquals(1_000_000L, again.initialBalances().get(net.account(3)));
    }

    @Test
    void quorumFollowsValidatorCount() {
        assertEquals(1, new TestLedger(1, 1, 1).genesis.quorum());
        assertEquals(3, new TestLedger(4, 1, 1).genesis.quorum());
        assertEquals(5, new TestLedger(7, 1, 1).genesis.quorum());
        assertEquals(2, new TestLedger(7, 1, 1).genesis.f());
        assertEquals(2, new TestLedger(2, 1, 1).genesis.quorum());
        assertEquals(4, new TestLedger(5, 1, 1).genesis.quorum());
        assertEquals(1, new TestLedger(6, 1, 1).genesis.f());
        assertEquals(4, new TestLedger(6, 1, 1).genesis.quorum());
        assertEquals(6, new TestLedger(8, 1, 1).genesis.quorum());
        assertThrows(IllegalArgumentException.class, () -> new TestLedger(0, 1, 1));
    }

    @Test
    void badGenesisIsRefused() {
        Genesis good = net.genesis.genesis();
        Validator first = good.getValidators(0);
        assertThrows(IllegalArgumentException.class, () -> ChainGenesis.of(good.toBuilder().setValidators(1, first).build()),
                "duplicate validator key");
        assertThrows(IllegalArgumentException.class, () -> ChainGenesis.of(good.toBuilder().addBalances(good.getBalances(0)).build()),
                "duplicate account");
        assertThrows(IllegalArgumentException.class, () -> ChainGenesis.of(good.toBuilder().setChainId("").build()));
        assertThrows(IllegalArgumentException.class, () -> ChainGenesis.of(good.toBuilder()
                .addBalances(InitialBalance.newBuilder().setAccount(ByteString.copyFrom(new byte[31])).setAmount(1)).build()));
        assertThrows(IllegalArgumentException.class, () -> ChainGenesis.of(good.toBuilder()
                .addBalances(InitialBalance.newBuilder().setAccount(ByteString.copyFrom(KeyPair.deterministic("x").publicKey().bytes()))
                        .setAmount(-1)).build()), "balance above 2^63-1");
        assertThrows(IllegalArgumentException.class, () -> ChainGenesis.parse(new byte[] {(byte) 0xff}));
    }

    @Test
    void genesisStateRootDependsOnBalances() {
        TreeMap<PublicKey, Long> a = new TreeMap<>();
        a.put(net.user(0), 10L);
        List<Validator> vs = new ArrayList<>(net.genesis.genesis().getValidatorsList());
        ChainGenesis g1 = ChainGenesis.build("c", vs, a, 0);
        a.put(net.user(0), 11L);
        ChainGenesis g2 = ChainGenesis.build("c", vs, a, 0);
        assertTrue(!g1.stateRoot().equals(g2.stateRoot()));
        assertArrayEquals(g1.bytes(), ChainGenesis.parse(g1.bytes()).bytes());
        assertEquals(Digest.LENGTH, g1.stateRoot().bytes().length);
    }
}
