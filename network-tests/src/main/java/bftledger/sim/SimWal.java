package bftledger.sim;

import bftledger.node.replica.SigningCeiling;
import bftledger.node.replica.SigningMark;
import bftledger.node.replica.SigningRecovery;
import bftledger.pbft.MalformedMessageException;
import bftledger.pbft.PersistCodec;
import bftledger.pbft.PersistRecord;
import bftledger.pbft.SigningFloor;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.SplittableRandom;
import java.util.zip.CRC32C;

/**
 * One simulated replica's durable storage as the node keeps it: the consensus WAL (records in
 * pbft's {@link PersistCodec} layout, each with a CRC32C, an identity, an append position) and,
 * apart from it, the signing mark (the WAL's identity and position after every append, a
 * {@link SigningCeiling} raised ahead of need, the floor after a loss). {@link #restart} decides
 * with the node's own {@link SigningRecovery#decide}, always with {@code rejoin.non.voting}: a WAL
 * that is damaged, not the one the mark names, or behind its position is set aside and the
 * replica restarts under the ceiling as its floor. The faults ({@link #damage}) touch only the WAL: the mark lives elsewhere.
 */
final class SimWal {
    private static final Path WAL = Path.of("data", "wal");
    private static final Path MARK = Path.of("signing-mark");

    private final int replicaIndex;
    private final List<byte[]> records = new ArrayList<>();
    private int generation;
    private byte[] identity;
    private SigningMark.State mark;

    SimWal(int replicaIndex) {
        this.replicaIndex = replicaIndex;
        this.identity = identity(replicaIndex, 0);
        this.mark = new SigningMark.State(identity, 0, SigningCeiling.NONE, SigningFloor.NONE);
    }

    private static byte[] identity(int replicaIndex, int generation) {
        return ByteBuffer.allocate(16).putLong(replicaIndex).putLong(generation).array();
    }

    /** What a restart hands the core: the records to restore from and the floor to restore under. */
    record Restart(List<PersistRecord> records, SigningFloor floor, String setAside) {}

    /** One output's records, durably, then the mark, as the node's core loop does before anything is sent. */
    void append(List<PersistRecord> batch, long sequenceMargin) {
        if (batch.isEmpty()) {
            return;
        }
        for (PersistRecord r : batch) {
            byte[] body = PersistCodec.encode(r);
            records.add(ByteBuffer.allocate(body.length + 4).put(body).putInt(checksum(body, body.length)).array());
        }
        mark = new SigningMark.State(identity, records.size(), mark.ceiling().cover(batch, sequenceMargin), mark.floor());
    }

    int size() {
        return records.size();
    }

    /** The node's start: records checked, the WAL judged against the mark, and restored or set aside. */
    Restart restart(PersistCodec codec) throws MalformedMessageException {
        List<PersistRecord> decoded = new ArrayList<>();
        String damage = null;
        for (int i = 0; i < records.size() && damage == null; i++) {
            byte[] stored = records.get(i);
            int length = stored.length - 4;
            if (length < 1 || checksum(stored, length) != ByteBuffer.wrap(stored, length, 4).getInt()) {
                damage = "record " + i + " fails its checksum";
            } else {
                decoded.add(codec.decode(Arrays.copyOf(stored, length)));
            }
        }
        SigningRecovery.WalFound found = damage != null ? SigningRecovery.WalFound.damaged(damage)
                : new SigningRecovery.WalFound(identity, records.size(), null);
        SigningRecovery.Decision decision = SigningRecovery.decide(Optional.of(mark), found, 0, true, WAL, MARK);
        if (decision instanceof SigningRecovery.Decision.Resume resume) {
            return new Restart(decoded, resume.floor(), null);
        }
        if (decision instanceof SigningRecovery.Decision.RejoinNonVoting rejoin) {
            records.clear();
            identity = identity(replicaIndex, ++generation);
            mark = new SigningMark.State(identity, 0, mark.ceiling(), rejoin.floor());
            return new Restart(List.of(), rejoin.floor(), rejoin.why());
        }
        throw new IllegalStateException("a replica with a signing mark is resumed or rejoins, not " + decision);
    }

    /** Applies {@code fault} to the WAL (not to the mark, which the node keeps elsewhere). */
    void damage(Scenario.StorageFault.Kind fault, SplittableRandom random) {
        switch (fault) {
            case CORRUPT -> corrupt(random);
            case TORN -> tear(random);
            case LOST -> lose();
            case OLDER_COPY -> restoreOlder(random);
        }
    }

    /** A flipped bit in one stored record (a lying disk, a cosmic ray). */
    void corrupt(SplittableRandom random) {
        if (records.isEmpty()) {
            return;
        }
        byte[] record = records.get(random.nextInt(records.size()));
        record[random.nextInt(record.length)] ^= (byte) (1 << random.nextInt(8));
    }

    /** The last writes lost though reported durable, the one before them landed in part. */
    void tear(SplittableRandom random) {
        if (records.isEmpty()) {
            return;
        }
        int lost = 1 + random.nextInt(Math.min(8, records.size()));
        byte[] partial = records.get(records.size() - lost);
        records.subList(records.size() - lost, records.size()).clear();
        if (random.nextBoolean() && partial.length > 1) {
            records.add(Arrays.copyOf(partial, 1 + random.nextInt(partial.length - 1)));
        }
    }

    /** The WAL gone: the node makes a new, empty one at start. */
    void lose() {
        records.clear();
        identity = identity(replicaIndex, ++generation);
    }

    /** An older copy of the WAL put back: a prefix of what was written, same identity. */
    void restoreOlder(SplittableRandom random) {
        if (!records.isEmpty()) {
            records.subList(random.nextInt(records.size()), records.size()).clear();
        }
    }

    private static int checksum(byte[] bytes, int length) {
        CRC32C crc = new CRC32C();
        crc.update(bytes, 0, length);
        return (int) crc.getValue();
    }
}
