package bftledger.node.edge;

import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Set;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.function.LongSupplier;

/**
 * The replica's failure detector: when each peer was last heard (an authenticated consensus
 * frame or a ping answer), the round-trip time of the latest ping, and how many of its
 * messages failed verification. A peer is suspected when it is silent past
 * {@code silenceNanos}, has sent messages with bad signatures, or is named in equivocation
 * evidence. The replica can reach a quorum when at least q-1 peers were heard within the
 * silence limit (with itself, the quorum q; 2f peers when n = 3f+1). Advisory only: it
 * decides whether to accept submissions and how to label reads, never anything in consensus.
 * Thread-safe, lock-free.
 */
public final class PeerLiveness {
    /** Not heard yet. */
    private static final long NEVER = Long.MIN_VALUE;

    private final int self;
    private final int n;
    /** Peers that, with this replica, make a quorum. */
    private final int peersNeeded;
    private final long silenceNanos;
    private final LongSupplier clock;
    private final AtomicLongArray lastHeardNanos;
    private final AtomicLongArray rttNanos;
    private final AtomicLongArray badMessages;
    private final long startNanos;

    public PeerLiveness(int self, int n, long silenceNanos, LongSupplier clock) {
        this.self = self;
        this.n = n;
        this.peersNeeded = bftledger.ledger.TrustRoot.quorum(n) - 1;
        this.silenceNanos = silenceNanos;
        this.clock = clock;
        this.lastHeardNanos = new AtomicLongArray(n);
        this.rttNanos = new AtomicLongArray(n);
        this.badMessages = new AtomicLongArray(n);
        this.startNanos = clock.getAsLong();
        for (int i = 0; i < n; i++) {
            lastHeardNanos.set(i, NEVER);
        }
    }

    public void onHeard(int peer) {
        if (valid(peer)) {
            lastHeardNanos.set(peer, clock.getAsLong());
        }
    }

    public void onPingAnswered(int peer, long roundTripNanos) {
        if (valid(peer)) {
            rttNanos.set(peer, Math.max(1, roundTripNanos));
            onHeard(peer);
        }
    }

    /** A message from {@code peer} whose signature or form did not verify. */
    public void onBadMessage(int peer) {
        if (valid(peer)) {
            badMessages.incrementAndGet(peer);
        }
    }

    private boolean valid(int peer) {
        return peer >= 0 && peer < n && peer != self;
    }

    /** Peers heard within the silence limit. */
    public int peersHeardRecently() {
        long now = clock.getAsLong();
        int heard = 0;
        for (int p = 0; p < n; p++) {
            long at = lastHeardNanos.get(p);
            if (p != self && at != NEVER && now - at <= silenceNanos) {
                heard++;
            }
        }
        return heard;
    }

    /** Milliseconds since {@code peer} was last heard; {@link Long#MAX_VALUE} if never (or not a peer). */
    public long lastHeardAgeMillis(int peer) {
        long at = valid(peer) ? lastHeardNanos.get(peer) : NEVER;
        return at == NEVER ? Long.MAX_VALUE : (clock.getAsLong() - at) / 1_000_000;
    }

    public int peersNeeded() {
        return peersNeeded;
    }

    /**
     * True when {@link #peersNeeded()} peers were heard within the silence limit. During the first silence period
     * after start nothing can have been heard yet, so the replica gives itself the benefit of
     * the doubt rather than refusing every client while its links come up.
     */
    public boolean quorumReachable() {
        return peersHeardRecently() >= peersNeeded() || clock.getAsLong() - startNanos < silenceNanos;
    }

    public long silenceMillis() {
        return silenceNanos / 1_000_000;
    }

    /** What is known about one peer; {@code lastHeardAgeMillis} is -1 when never heard. */
    public record Peer(int replica, long lastHeardAgeMillis, long rttMicros, long badMessages, List<String> suspicions) {
        public boolean suspected() {
            return !suspicions.isEmpty();
        }
    }

    /** Every other replica, in index order; {@code equivocators} are replicas named in evidence. */
    public List<Peer> peers(Collection<Integer> equivocators) {
        long now = clock.getAsLong();
        Set<Integer> cheats = Set.copyOf(equivocators);
        List<Peer> out = new ArrayList<>();
        for (int p = 0; p < n; p++) {
            if (p == self) {
                continue;
            }
            long at = lastHeardNanos.get(p);
            long age = at == NEVER ? -1 : (now - at) / 1_000_000;
            List<String> why = new ArrayList<>();
            if (at == NEVER || now - at > silenceNanos) {
                why.add("silent");
            }
            if (badMessages.get(p) > 0) {
                why.add("bad-signatures");
            }
            if (cheats.contains(p)) {
                why.add("equivocation");
            }
            out.add(new Peer(p, age, rttNanos.get(p) / 1_000, badMessages.get(p), List.copyOf(why)));
        }
        return out;
    }
}
