package bftledger.pbft;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

/** WAL records round-trip byte for byte, and a torn record is refused. */
class PersistCodecTest {

    @Test
    void everyRecordOfARunRoundTripsAndRestoresTheSameReplica() throws Exception {
        Cluster c = new Cluster(1, cfg -> cfg.withCheckpoints(2, 4).withTimeouts(4, 4, 3));
        c.dropIf = e -> e.from() == 0 && e.wire()[0] == MessageType.PRE_PREPARE.code() && c.replica(0).lastExecuted() >= 3;
        for (int k = 0; k < 5; k++) {
            c.submit(TestRequests.signed("wal" + k));
            c.deliverAll();
        }
        c.tick(10);
        PersistCodec codec = new PersistCodec(c.base);
        for (int i = 0; i < c.n; i++) {
            List<PersistRecord> records = c.persisted.get(i);
            assertEquals(true, records.stream().anyMatch(r -> r instanceof PersistRecord.Prepared));
            assertEquals(true, records.stream().anyMatch(r -> r instanceof PersistRecord.StableCheckpoint));
            assertEquals(true, records.stream().anyMatch(r -> r instanceof PersistRecord.ViewState));
            List<PersistRecord> back = new java.util.ArrayList<>();
            for (PersistRecord r : records) {
                byte[] bytes = PersistCodec.encode(r);
                PersistRecord decoded = codec.decode(bytes);
                assertArrayEquals(bytes, PersistCodec.encode(decoded));
                back.add(decoded);
            }
            Replica a = Replica.restore(c.base.withReplica(i, c.keys.get(i)), records, c.apps.get(i).height);
            Replica b = Replica.restore(c.base.withReplica(i, c.keys.get(i)), back, c.apps.get(i).height);
            b.checkInvariants();
            assertEquals(a.view(), b.view());
            assertEquals(a.lowWatermark(), b.lowWatermark());
            assertEquals(a.stableDigest(), b.stableDigest());
            assertEquals(a.viewActive(), b.viewActive());
            assertEquals(c.replica(i).lowWatermark(), b.lowWatermark());
            assertEquals(c.replica(i).view(), b.view());
        }
    }

    @Test
    void tornAndUnknownRecordsAreRefused() {
        Fixtures fx = new Fixtures();
        PersistCodec codec = new PersistCodec(fx.config);
        byte[] bytes = PersistCodec.encode(new PersistRecord.OwnMessage(fx.as(1).prepare(0, 1, Fixtures.digest(1))));
        MalformedMessageException torn = assertThrows(MalformedMessageException.class,
                () -> codec.decode(Arrays.copyOf(bytes, bytes.length - 3)));
        assertEquals(RejectReason.MALFORMED, torn.reason());
        byte[] unknown = bytes.clone();
        unknown[0] = 9;
        assertEquals(RejectReason.UNKNOWN_TYPE, assertThrows(MalformedMessageException.class, () -> codec.decode(unknown)).reason());
        byte[] view = PersistCodec.encode(new PersistRecord.ViewState(3, true));
        assertThrows(MalformedMessageException.class, () -> codec.decode(Arrays.copyOf(view, view.length + 1)));
    }
}
