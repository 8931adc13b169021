package bftledger.node.edge;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/** The failure detector: silence, bad signatures, equivocation, quorum reachability. */
class PeerLivenessTest {
    private final AtomicLong now = new AtomicLong(0);
    private final long silence = TimeUnit.SECONDS.toNanos(5);

    @Test
    void quorumNeedsTwoFPeersHeardRecentlyAfterTheStartGrace() {
        PeerLiveness l = new PeerLiveness(0, 4, silence, now::get);
        assertTrue(l.quorumReachable(), "grace while links come up");
        now.addAndGet(silence);
        assertFalse(l.quorumReachable(), "nothing heard after the grace");
        l.onHeard(1);
        assertFalse(l.quorumReachable());
        l.onPingAnswered(2, TimeUnit.MILLISECONDS.toNanos(3));
        assertTrue(l.quorumReachable());
        now.addAndGet(silence + 1);
        assertFalse(l.quorumReachable(), "both went silent");
        l.onHeard(0); // itself: ignored
        l.onHeard(3);
        assertEquals(1, l.peersHeardRecently());
    }

    @Test
    void suspicionsSayWhy() {
        PeerLiveness l = new PeerLiveness(1, 4, silence, now::get);
        l.onHeard(0);
        l.onPingAnswered(2, TimeUnit.MICROSECONDS.toNanos(1500));
        l.onHeard(3);
        l.onBadMessage(3);
        now.addAndGet(TimeUnit.SECONDS.toNanos(1));
        List<PeerLiveness.Peer> peers = l.peers(List.of(0));
        assertEquals(List.of(0, 2, 3), peers.stream().map(PeerLiveness.Peer::replica).toList());
        assertEquals(List.of("equivocation"), peers.get(0).suspicions());
        assertEquals(List.of(), peers.get(1).suspicions());
        assertEquals(1500, peers.get(1).rttMicros());
        assertEquals(1000, peers.get(1).lastHeardAgeMillis());
        assertEquals(List.of("bad-signatures"), peers.get(2).suspicions());
        now.addAndGet(silence);
        assertEquals(List.of("silent"), l.peers(List.of()).get(1).suspicions());
        PeerLiveness fresh = new PeerLiveness(1, 4, silence, now::get);
        assertEquals(-1, fresh.peers(List.of()).get(0).lastHeardAgeMillis(), "never heard");
    }

    @Test
    void agesPerPeer() {
        PeerLiveness l = new PeerLiveness(0, 4, silence, now::get);
        long second = TimeUnit.SECONDS.toNanos(1);
        assertEquals(Long.MAX_VALUE, l.lastHeardAgeMillis(1), "never heard");
        l.onHeard(1);
        now.addAndGet(second / 2);
        l.onPingAnswered(2, 1_000);
        now.addAndGet(second / 2 + 1);
        assertEquals(1000, l.lastHeardAgeMillis(1));
        assertEquals(500, l.lastHeardAgeMillis(2));
        assertEquals(Long.MAX_VALUE, l.lastHeardAgeMillis(0), "itself");
        assertEquals(Long.MAX_VALUE, l.lastHeardAgeMillis(7), "not a replica");
    }
}
