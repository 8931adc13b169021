package bftledger.node.edge;

import bftledger.node.metrics.NodeMetrics;
import java.util.List;

/** Registers the failure detector's and the bulkheads' figures as gauges. */
public final class EdgeMetrics {
    private EdgeMetrics() {}

    public static void register(NodeMetrics metrics, int self, int n, PeerLiveness liveness, Bulkheads bulkheads) {
        metrics.gauge("bftledger_quorum_reachable", "1 when enough other replicas to make a quorum were heard recently", "scope", "replica",
                () -> liveness.quorumReachable() ? 1 : 0);
        metrics.gauge("bftledger_peers_heard_recently", "other replicas heard within the silence limit", "scope", "replica",
                liveness::peersHeardRecently);
        for (int p = 0; p < n; p++) {
            if (p == self) {
                continue;
            }
            int peer = p;
            String tag = Integer.toString(p);
            metrics.gauge("bftledger_peer_last_heard_age_seconds", "seconds since the peer was last heard (-1: never)",
                    "peer", tag, () -> {
                        long ms = peer(liveness, peer).lastHeardAgeMillis();
                        return ms < 0 ? -1 : ms / 1_000.0;
                    });
            metrics.gauge("bftledger_peer_rtt_seconds", "round-trip time of the latest ping to the peer", "peer", tag,
                    () -> peer(liveness, peer).rttMicros() / 1_000_000.0);
            metrics.gauge("bftledger_peer_suspected", "1 when the peer is suspected (silent or bad signatures)", "peer", tag,
                    () -> peer(liveness, peer).suspected() ? 1 : 0);
            metrics.gauge("bftledger_peer_bad_messages", "messages from the peer that failed verification", "peer", tag,
                    () -> peer(liveness, peer).badMessages());
        }
        for (Bulkheads.Lane lane : Bulkheads.Lane.values()) {
            if (lane != Bulkheads.Lane.OTHER) {
                metrics.gauge("bftledger_lane_in_flight", "calls admitted and not finished, by lane", "lane",
                        lane.name().toLowerCase(), () -> bulkheads.inFlight(lane));
                metrics.gauge("bftledger_lane_queued", "tasks waiting for a lane's threads", "lane",
                        lane.name().toLowerCase(), () -> bulkheads.queued(lane));
            }
        }
        metrics.gauge("bftledger_heap_used_bytes", "JVM heap in use", "scope", "jvm",
                () -> Runtime.getRuntime().totalMemory() - Runtime.getRuntime().freeMemory());
        metrics.gauge("bftledger_heap_max_bytes", "JVM heap limit (-Xmx)", "scope", "jvm", () -> Runtime.getRuntime().maxMemory());
    }

    private static PeerLiveness.Peer peer(PeerLiveness liveness, int peer) {
        List<PeerLiveness.Peer> all = liveness.peers(List.of());
        for (PeerLiveness.Peer p : all) {
            if (p.replica() == peer) {
                return p;
            }
        }
        throw new IllegalArgumentException("no peer " + peer);
    }
}
