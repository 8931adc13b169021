package bftledger.sim;

import bftledger.crypto.Digest;
import bftledger.crypto.KeyPair;
import bftledger.crypto.Sha256;
import bftledger.pbft.MessageFactory;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/**
 * A Byzantine identity that left the validator set (removed, replaced or rotated out) and keeps
 * using its old key against the sets after it: it replays what it signed in its own epoch, and
 * forges votes, checkpoints and status in the later epoch's views and sequences, signed with the
 * old key under its old index or under another member's. None of it may count: a later set's
 * verifier knows only that set's keys. At most {@link #ACTIONS_MAX} actions, so a run's cost stays
 * bounded.
 */
final class Ghost {
    static final int ACTIONS_MAX = 24;
    /** Own messages of the old epoch kept for replay. */
    static final int REPLAYS_KEPT = 32;

    /** Where the latest set is: its members' count, first view and sequence, and a slot an honest core accepted. */
    record Target(int n, long startView, long startSequence, int checkpointInterval, long view, long sequence,
            Digest digest) {}

    private final int machine;
    private final int index;
    private final int lastEpoch;
    private final KeyPair key;
    private final List<byte[]> replays;
    private int actions;

    Ghost(int machine, int index, int lastEpoch, KeyPair key, List<byte[]> ownWires) {
        this.machine = machine;
        this.index = index;
        this.lastEpoch = lastEpoch;
        this.key = key;
        this.replays = List.copyOf(ownWires);
    }

    int machine() {
        return machine;
    }

    /** The last epoch this identity was a member of. */
    int lastEpoch() {
        return lastEpoch;
    }

    boolean spent() {
        return actions >= ACTIONS_MAX;
    }

    /** One action against {@code target}: the wires to send to each of its members. */
    List<byte[]> act(SplittableRandom random, Target target) {
        actions++;
        int kind = random.nextInt(6);
        if (kind == 0 && !replays.isEmpty()) {
            return List.of(replays.get(random.nextInt(replays.size())));
        }
        // Under its old index, or impersonating another member of the new set.
        int as = random.nextBoolean() ? index : random.nextInt(target.n());
        MessageFactory factory = new MessageFactory(as, key);
        Digest other = Sha256.hash(ByteBuffer.allocate(12).putInt(machine).putLong(random.nextLong()).array());
        Digest digest = target.digest() != null && random.nextBoolean() ? target.digest() : other;
        long view = target.view() + (random.nextInt(4) == 0 ? 1 : 0);
        long sequence = target.sequence();
        List<byte[]> out = new ArrayList<>();
        switch (kind) {
            case 1 -> out.add(factory.prepare(view, sequence, digest).wire());
            case 2, 0 -> out.add(factory.commit(view, sequence, digest).wire());
            case 3 -> {
                long k = target.checkpointInterval();
                out.add(factory.checkpoint((sequence + k - 1) / k * k, digest).wire());
            }
            case 4 -> out.add(factory.status(view, true, target.startSequence(), sequence).wire());
            default -> {
                out.add(factory.prepare(view, sequence, digest).wire());
                out.add(factory.commit(view, sequence, digest).wire());
            }
        }
        return out;
    }
}
