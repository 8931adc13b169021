package bftledger.sim;

import bftledger.crypto.Digest;
import bftledger.crypto.Sha256;
import bftledger.pbft.Output;
import bftledger.pbft.Request;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * The simulator's application: executes committed batches strictly in sequence order, each
 * request id at most once ever (the ledger's rule: a re-ordered id is a no-op), and keeps a hash
 * chain over what it executed as its state digest, which becomes the checkpoint digest. Its
 * history is durable: it survives a crash of the replica, as the LMDB block store does.
 */
public final class App {
    /**
     * One executed sequence number.
     *
     * @param requests the batch as ordered
     * @param effective the request ids that actually executed (not executed before)
     * @param block the batch as the core handed it out, with its commit certificate (what a
     *     lagging replica fetches and verifies); null in hand-made histories
     */
    public record Executed(long sequence, Digest batchDigest, List<Request> requests, List<Digest> effective,
            Digest state, Output.CommittedBatch block) {
        public Executed {
            requests = List.copyOf(requests);
            effective = List.copyOf(effective);
        }
    }

    private final Digest genesis;
    /** Null in hand-made histories: then no request changes the validator set. */
    private final Membership.Rules rules;
    /** The validator sets this history named, in order, the genesis set first. */
    private final List<Membership.Epoch> epochs = new ArrayList<>();
    private final List<Executed> history = new ArrayList<>();
    private final Set<Digest> executedIds = new HashSet<>();
    private final java.util.TreeMap<Long, Digest> executedHere = new java.util.TreeMap<>();

    public App(Digest genesis) {
        this(genesis, null);
    }

    public App(Digest genesis, Membership.Rules rules) {
        this.genesis = genesis;
        this.rules = rules;
        resetEpochs();
    }

    private void resetEpochs() {
        epochs.clear();
        if (rules != null) {
            epochs.add(new Membership.Epoch(0, 0, rules.genesis()));
        }
    }

    /** Every validator set this history named so far, the genesis set first (empty without rules). */
    public List<Membership.Epoch> epochs() {
        return List.copyOf(epochs);
    }

    /** The set that orders {@code sequence}, as far as this history knows. */
    public Membership.Epoch epochInForce(long sequence) {
        Membership.Epoch in = epochs.get(0);
        for (Membership.Epoch e : epochs) {
            if (e.start() < sequence) {
                in = e;
            }
        }
        return in;
    }

    /** The set after epoch {@code number}, or null while none is named. */
    public Membership.Epoch epochAfter(int number) {
        return number + 1 < epochs.size() ? epochs.get(number + 1) : null;
    }

    public long height() {
        return history.size();
    }

    public Digest state() {
        return history.isEmpty() ? genesis : history.get(history.size() - 1).state();
    }

    /** The state digest after {@code sequence}, or null when not executed here. */
    public Digest stateAt(long sequence) {
        if (sequence == 0) {
            return genesis;
        }
        return sequence > 0 && sequence <= history.size() ? history.get((int) sequence - 1).state() : null;
    }

    public List<Executed> history() {
        return List.copyOf(history);
    }

    /** The executed record of {@code sequence} (1-based, at most {@link #height()}). */
    public Executed at(long sequence) {
        return history.get((int) sequence - 1);
    }

    public boolean executed(Digest id) {
        return executedIds.contains(id);
    }

    /** The request ids in execution order. */
    public List<Digest> effectiveSequence() {
        List<Digest> out = new ArrayList<>();
        for (Executed e : history) {
            out.addAll(e.effective());
        }
        return out;
    }

    public Digest execute(Output.CommittedBatch batch) {
        if (batch.sequence() != height() + 1) {
            throw new IllegalStateException("executing " + batch.sequence() + " at height " + height());
        }
        List<Digest> effective = new ArrayList<>();
        for (Request r : batch.requests()) {
            if (executedIds.add(r.id())) {
                effective.add(r.id());
            }
        }
        for (Request r : batch.requests()) {
            if (effective.contains(r.id())) {
                namedSet(r, batch.sequence());
            }
        }
        Digest state = chain(state(), batch.sequence(), batch.digest(), effective);
        history.add(new Executed(batch.sequence(), batch.digest(), batch.requests(), effective, state, batch));
        executedHere.put(batch.sequence(), batch.digest());
        return state;
    }

    /**
     * Every batch this replica executed itself, by sequence, kept across state transfers: a real
     * block store never rewrites a block, so a batch executed here and later replaced by fetched
     * state is still a fork.
     */
    public java.util.SortedMap<Long, Digest> executedHere() {
        return java.util.Collections.unmodifiableSortedMap(executedHere);
    }

    /** State transfer: becomes {@code source}'s prefix up to {@code sequence}. */
    public void copyPrefix(App source, long sequence) {
        if (sequence > source.height()) {
            throw new IllegalArgumentException("source has only " + source.height());
        }
        history.clear();
        executedIds.clear();
        resetEpochs();
        for (int i = 0; i < sequence; i++) {
            Executed e = source.history.get(i);
            history.add(e);
            executedIds.addAll(e.effective());
            for (Request r : e.requests()) {
                if (e.effective().contains(r.id())) {
                    namedSet(r, e.sequence());
                }
            }
        }
    }

    private void namedSet(Request r, long sequence) {
        if (rules != null) {
            Membership.Epoch next = Membership.applied(rules, r, sequence, epochs.get(epochs.size() - 1));
            if (next != null) {
                epochs.add(next);
            }
        }
    }

    static Digest chain(Digest previous, long sequence, Digest batchDigest, List<Digest> effective) {
        byte[][] parts = new byte[3 + effective.size()][];
        parts[0] = previous.bytes();
        parts[1] = ByteBuffer.allocate(8).putLong(sequence).array();
        parts[2] = batchDigest.bytes();
        for (int i = 0; i < effective.size(); i++) {
            parts[3 + i] = effective.get(i).bytes();
        }
        return Sha256.hash(parts);
    }
}
