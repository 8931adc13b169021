package bftledger.pbft;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import bftledger.crypto.Digest;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Test;

/** Paper section 4.2: PRE-PREPARE, PREPARE, COMMIT, execution in order; batching and pipelining. */
class NormalCaseTest {

    @ParameterizedTest
    @ValueSource(ints = {1, 2, 3, 4})
    void oneRequestIsOrderedByThreePhasesAndExecutedEverywhere(int f) {
        Cluster c = new Cluster(f);
        Request r = TestRequests.signed("hello " + f);
        c.submit(r);
        c.deliverAll();
        for (int i = 0; i < c.n; i++) {
            assertEquals(1, c.apps.get(i).executed.size(), "replica " + i + " executed");
            Output.CommittedBatch b = c.apps.get(i).executed.get(0);
            assertEquals(1, b.sequence());
            assertEquals(0, b.view());
            assertEquals(List.of(r), b.requests());
            c.assertCertificates(i);
            assertEquals(1, c.sentCount(i, MessageType.COMMIT), "replica " + i + " commits once");
        }
        assertEquals(1, c.sentCount(0, MessageType.PRE_PREPARE));
        assertEquals(0, c.sentCount(0, MessageType.PREPARE), "the primary does not prepare");
        for (int i = 1; i < c.n; i++) {
            assertEquals(0, c.sentCount(i, MessageType.PRE_PREPARE));
            assertEquals(1, c.sentCount(i, MessageType.PREPARE), "backup " + i + " prepares once");
        }
        c.assertAgreement();
    }

    @Test
    void requestsWaitingWhileThePipelineIsFullAreBatchedTogether() {
        Cluster c = new Cluster(1, cfg -> cfg.withBatching(3, 1 << 20, 1 << 16, 1));
        List<Request> requests = new ArrayList<>();
        for (int k = 0; k < 7; k++) {
            requests.add(TestRequests.signed("r" + k));
            c.submit(requests.get(k));
        }
        c.deliverAll();
        List<Integer> sizes = c.apps.get(2).executed.stream().map(b -> b.requests().size()).toList();
        assertEquals(List.of(1, 3, 3), sizes, "first alone, then full batches of the count bound");
        assertEquals(requests.stream().map(Request::id).toList(), c.executedIds(2), "arrival order kept");
        c.assertAgreement();
    }

    @Test
    void batchesRespectTheByteBound() {
        Cluster c = new Cluster(1, cfg -> cfg.withBatching(100, 400, 200, 1));
        for (int k = 0; k < 6; k++) {
            c.submit(TestRequests.signed("payload-" + k + "-" + "x".repeat(40)));
        }
        c.deliverAll();
        for (Output.CommittedBatch b : c.apps.get(1).executed) {
            long bytes = b.requests().stream().mapToLong(Request::payloadLength).sum();
            assertTrue(bytes <= 400, "batch of " + bytes + " bytes");
        }
        assertEquals(6, c.executedIds(1).size());
    }

    @Test
    void thePrimaryPipelinesUpToTheDepthBoundAndNoFurther() {
        Cluster c = new Cluster(1, cfg -> cfg.withBatching(1, 1 << 20, 1 << 16, 3));
        for (int k = 0; k < 10; k++) {
            c.request(0, TestRequests.signed("p" + k));
        }
        assertEquals(3, c.sentCount(0, MessageType.PRE_PREPARE), "three batches in flight before any executes");
        c.deliverAll();
        assertEquals(10, c.apps.get(0).executed.size());
        assertEquals(10, c.apps.get(3).executed.size());
    }

    @Test
    void executionIsInSequenceOrderWhateverTheDeliveryOrder() {
        long seed = Long.getLong("bftledger.seed", System.nanoTime());
        Random random = new Random(seed);
        Cluster c = new Cluster(1, cfg -> cfg.withBatching(2, 1 << 20, 1 << 16, 8));
        for (int k = 0; k < 20; k++) {
            c.request(0, TestRequests.signed("o" + k));
        }
        c.deliverAllShuffled(random);
        for (int i = 0; i < c.n; i++) {
            List<Output.CommittedBatch> ex = c.apps.get(i).executed;
            assertEquals(20, c.executedIds(i).size(), "seed " + seed + " replica " + i);
            for (int k = 0; k < ex.size(); k++) {
                assertEquals(k + 1, ex.get(k).sequence(), "seed " + seed);
            }
        }
        c.assertAgreement();
    }

    @Test
    void aDuplicateRequestIsNotOrderedTwice() {
        Cluster c = new Cluster(1);
        Request r = TestRequests.signed("once");
        c.submit(r);
        c.step(0, new Event.ClientRequest(r));
        assertTrue(c.rejections.get(0).stream().anyMatch(x -> x.reason() == RejectReason.DUPLICATE));
        c.deliverAll();
        c.step(0, new Event.ClientRequest(r));
        assertTrue(c.rejections.get(0).stream().anyMatch(x -> x.reason() == RejectReason.ALREADY_EXECUTED));
        c.deliverAll();
        assertEquals(List.of(r.id()), c.executedIds(0));
        assertEquals(1, c.sentCount(0, MessageType.PRE_PREPARE));
    }

    @Test
    void pendingRequestsAreBounded() {
        Cluster c = new Cluster(1, cfg -> cfg.withBuffers(8, 3, 4, 4));
        for (int k = 0; k < 4; k++) {
            c.step(1, new Event.ClientRequest(TestRequests.signed("b" + k)));
        }
        assertEquals(3, c.replica(1).pendingRequests());
        assertEquals(RejectReason.PENDING_REQUESTS_FULL, c.rejections.get(1).get(0).reason());
    }

    @Test
    void theSameEventsGiveTheSameOutputs() {
        List<List<String>> runs = new ArrayList<>();
        for (int run = 0; run < 2; run++) {
            Cluster c = new Cluster(1, cfg -> cfg.withBatching(2, 1 << 20, 1 << 16, 2));
            c.dropIf = e -> e.from() == 3 && e.to() == 1;
            for (int k = 0; k < 9; k++) {
                c.submit(TestRequests.signed("d" + k));
                c.tick(1);
            }
            c.deliverAll();
            List<String> wires = new ArrayList<>();
            for (int i = 0; i < c.n; i++) {
                for (Signed<?> m : c.sent.get(i)) {
                    wires.add(i + ":" + java.util.HexFormat.of().formatHex(m.wire()));
                }
            }
            runs.add(wires);
        }
        assertEquals(runs.get(0), runs.get(1));
        assertTrue(new HashSet<>(runs.get(0)).size() > 20);
    }

    @Test
    void aCommitCertificateUsesTheLedgerSigningRule() {
        Cluster c = new Cluster(1);
        c.submit(TestRequests.signed("cert"));
        c.deliverAll();
        Output.CommittedBatch b = c.apps.get(3).executed.get(0);
        assertEquals(bftledger.crypto.HeaderAnchor.NONE, b.anchor(), "nothing executed before the first batch");
        Digest expected = bftledger.crypto.BatchDigest.of(b.timestampMillis(), List.of(TestRequests.id("cert")), b.anchor());
        assertEquals(expected, b.digest());
        assertEquals(3, b.certificate().size());
        c.assertCertificates(3);
    }
}
