package bftledger.sim;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** The fault primitives of the simulated network, one by one. */
class NetworkTest {
    private static List<Network.Packet<String>> drain(Network<String> net, long untilTick) {
        List<Network.Packet<String>> out = new ArrayList<>();
        for (long t = 0; t <= untilTick; t++) {
            out.addAll(net.due(t));
        }
        return out;
    }

    @Test
    void deliversEachPacketOnceWithinTheDelayRange() {
        Network<String> net = new Network<>(new SplittableRandom(1));
        net.setFaults(0, 0, 2, 5);
        for (int i = 0; i < 100; i++) {
            net.send(0, 1, "m" + i, 10, 0);
        }
        assertTrue(net.due(11).isEmpty(), "nothing may arrive before the minimum delay");
        List<Network.Packet<String>> got = drain(net, 15);
        assertEquals(100, got.size());
        for (Network.Packet<String> p : got) {
            assertTrue(p.due() >= 12 && p.due() <= 15, "due " + p.due());
        }
        assertEquals(0, net.inFlight());
    }

    @Test
    void randomDelaysReorderPackets() {
        Network<String> net = new Network<>(new SplittableRandom(2));
        net.setFaults(0, 0, 1, 6);
        for (int i = 0; i < 50; i++) {
            net.send(0, 1, String.format("%03d", i), 0, 0);
        }
        List<String> order = drain(net, 10).stream().map(Network.Packet::payload).toList();
        List<String> sorted = new ArrayList<>(order);
        sorted.sort(null);
        assertEquals(50, order.size());
        assertFalse(order.equals(sorted), "some packet must overtake an earlier one");
    }

    @Test
    void packetsDueTogetherComeOutInSendOrder() {
        Network<String> net = new Network<>(new SplittableRandom(3));
        net.setFaults(0, 0, 1, 1);
        net.send(0, 1, "a", 0, 0);
        net.send(2, 1, "b", 0, 0);
        net.send(1, 0, "c", 0, 0);
        assertEquals(List.of("a", "b", "c"), net.due(1).stream().map(Network.Packet::payload).toList());
    }

    @Test
    void dropsAboutTheConfiguredFraction() {
        Network<String> net = new Network<>(new SplittableRandom(4));
        net.setFaults(0.3, 0, 1, 1);
        for (int i = 0; i < 2000; i++) {
            net.send(0, 1, "m", 0, 0);
        }
        int delivered = net.due(1).size();
        assertEquals(2000 - net.dropped(), delivered);
        assertTrue(net.dropped() > 500 && net.dropped() < 700, "dropped " + net.dropped());
    }

    @Test
    void duplicatesMakeTwoCopies() {
        Network<String> net = new Network<>(new SplittableRandom(5));
        net.setFaults(0, 1.0, 1, 3);
        net.send(0, 1, "m", 0, 0);
        List<Network.Packet<String>> got = drain(net, 5);
        assertEquals(2, got.size());
        assertEquals(1, net.duplicated());
    }

    @Test
    void senderHeldDelayAddsToTheNetworkDelay() {
        Network<String> net = new Network<>(new SplittableRandom(6));
        net.setFaults(0, 0, 1, 1);
        net.send(0, 1, "slow", 0, 30);
        assertTrue(drain(net, 30).isEmpty());
        assertEquals(1, net.due(31).size());
    }

    @Test
    void partitionCutsAcrossSidesAndHealRestores() {
        Network<String> net = new Network<>(new SplittableRandom(7));
        net.setFaults(0, 0, 1, 1);
        net.partition(List.of(Set.of(0, 1), Set.of(2, 3)));
        net.send(0, 1, "same side", 0, 0);
        net.send(0, 2, "across", 0, 0);
        net.send(9, 3, "client", 0, 0);
        assertEquals(List.of("same side", "client"), net.due(1).stream().map(Network.Packet::payload).toList());
        assertEquals(1, net.cut());
        net.heal();
        net.send(0, 2, "healed", 1, 0);
        assertEquals(List.of("healed"), net.due(2).stream().map(Network.Packet::payload).toList());
    }

    @Test
    void partitionAlsoLosesPacketsAlreadyInFlight() {
        Network<String> net = new Network<>(new SplittableRandom(8));
        net.setFaults(0, 0, 3, 3);
        net.send(0, 2, "in flight", 0, 0);
        net.partition(List.of(Set.of(0, 1), Set.of(2, 3)));
        assertTrue(drain(net, 5).isEmpty());
        assertEquals(1, net.cut());
    }

    @Test
    void isolateCutsOneEndpointOffFromEveryone() {
        Network<String> net = new Network<>(new SplittableRandom(9));
        net.setFaults(0, 0, 1, 1);
        net.isolate(2);
        net.send(0, 2, "to", 0, 0);
        net.send(2, 1, "from", 0, 0);
        net.send(0, 1, "others", 0, 0);
        assertEquals(List.of("others"), net.due(1).stream().map(Network.Packet::payload).toList());
    }

    @Test
    void sameSeedSameSchedule() {
        List<Long> a = schedule(42);
        assertEquals(a, schedule(42));
        assertFalse(a.equals(schedule(43)));
    }

    private static List<Long> schedule(long seed) {
        Network<String> net = new Network<>(new SplittableRandom(seed));
        net.setFaults(0.1, 0.1, 1, 5);
        for (int i = 0; i < 100; i++) {
            net.send(i % 4, (i + 1) % 4, "m" + i, i / 10, 0);
        }
        return drain(net, 30).stream().map(p -> p.due() * 1000 + p.order()).toList();
    }
}
