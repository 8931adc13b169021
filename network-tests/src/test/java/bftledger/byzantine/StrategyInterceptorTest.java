package bftledger.byzantine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import bftledger.crypto.KeyPair;
import bftledger.crypto.PublicKey;
import bftledger.crypto.Sha256;
import bftledger.ledger.proto.SignedTransaction;
import bftledger.node.replica.OutboundInterceptor;
import bftledger.pbft.Batch;
import bftledger.pbft.Config;
import bftledger.pbft.MessageFactory;
import bftledger.pbft.PrePrepare;
import bftledger.pbft.Request;
import bftledger.pbft.Signed;
import bftledger.sdk.TransactionFactory;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The adapter that runs simulator strategies in a node: time in milliseconds, requests in the simulator's layout. */
class StrategyInterceptorTest {
    private static final List<KeyPair> KEYS = List.of(KeyPair.deterministic("s0"), KeyPair.deterministic("s1"),
            KeyPair.deterministic("s2"), KeyPair.deterministic("s3"));
    private static final List<PublicKey> VALIDATORS = KEYS.stream().map(KeyPair::publicKey).toList();
    private static final Config CONFIG = Config.of(VALIDATORS, 0, KEYS.get(0));

    private static Request request(KeyPair client) {
        SignedTransaction tx = new TransactionFactory("c").transfer(client, KEYS.get(1).publicKey(), 1);
        byte[] bytes = tx.toByteArray();
        return new Request(TransactionFactory.id(tx), bytes);
    }

    @Test
    void silentSendsNothingAndHonestFactoryIsIdentity() {
        OutboundInterceptor silent = StrategyInterceptor.factory("silent", 1, List.of()).create(CONFIG, 50);
        Signed<?> m = new MessageFactory(0, KEYS.get(0)).prepare(0, 1, Sha256.hash(new byte[] {1}));
        assertTrue(silent.intercept(m, 1).isEmpty());
        assertEquals(OutboundInterceptor.IDENTITY, OutboundInterceptor.HONEST.create(CONFIG, 50));
    }

    @Test
    void slowPrimaryDelaysAreTicksTimesTickLength() {
        OutboundInterceptor slow = StrategyInterceptor.factory("slow-primary", 1, List.of()).create(CONFIG, 50);
        byte[] payload = {1};
        Signed<PrePrepare> pp = new MessageFactory(0, KEYS.get(0)).prePrepare(0, 1,
                new Batch(1, List.of(new Request(Sha256.hash(payload), payload))));
        List<OutboundInterceptor.Outgoing> out = slow.intercept(pp, 2);
        assertEquals(1, out.size());
        assertEquals(CONFIG.requestTimeoutTicks() * 3 / 4 * 50L, out.get(0).delayMillis());
        assertTrue(Arrays.equals(pp.wire(), out.get(0).wire()));
    }

    @Test
    void equivocatingPrimarySendsTwoDigestsForOneSlot() {
        OutboundInterceptor eq = StrategyInterceptor.factory("equivocate-primary", 3, List.of()).create(CONFIG, 50);
        byte[] p1 = {1};
        byte[] p2 = {2};
        Signed<PrePrepare> pp = new MessageFactory(0, KEYS.get(0)).prePrepare(0, 2, new Batch(1,
                List.of(new Request(Sha256.hash(p1), p1), new Request(Sha256.hash(p2), p2))));
        java.util.Set<String> seen = new java.util.HashSet<>();
        for (int to = 1; to < 4; to++) {
            for (OutboundInterceptor.Outgoing o : eq.intercept(pp, to)) {
                seen.add(java.util.HexFormat.of().formatHex(o.wire()));
            }
        }
        assertEquals(2, seen.size(), "the backups see two different signed PRE-PREPAREs for sequence 2");
    }

    @Test
    void censorRecognisesItsVictimInANodeRequest() {
        KeyPair victim = KeyPair.deterministic("victim");
        KeyPair other = KeyPair.deterministic("other");
        OutboundInterceptor censor = StrategyInterceptor.factory("censor", 5, List.of(victim.publicKey())).create(CONFIG, 50);
        assertFalse(censor.admitRequest(request(victim)), "the only known client is the victim");
        assertTrue(censor.admitRequest(request(other)));
        Request laidOut = StrategyInterceptor.inSimulatorLayout(request(victim));
        assertTrue(Arrays.equals(victim.publicKey().bytes(), Arrays.copyOf(laidOut.payload(), PublicKey.LENGTH)));
        assertNotEquals(request(other).payloadLength(), 0);
    }
}
