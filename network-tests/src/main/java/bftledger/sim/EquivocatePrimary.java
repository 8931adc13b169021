package bftledger.sim;

import bftledger.pbft.Batch;
import bftledger.pbft.PrePrepare;
import bftledger.pbft.Request;
import bftledger.pbft.Signed;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * As primary, signs a second PRE-PREPARE for every (view, sequence) with a different batch and
 * sends it to part of the backups, the original to the rest; now and then both to one backup,
 * which must record the pair as evidence.
 */
final class EquivocatePrimary extends NamedStrategy {
    static final String NAME = "equivocate-primary";
    static final String DESCRIPTION = "as primary sends different PRE-PREPAREs for one sequence to different backups";
    private static final int REMEMBERED_MAX = 256;

    private final Map<List<Long>, Signed<PrePrepare>> alternates = new LinkedHashMap<>() {
        @Override
        protected boolean removeEldestEntry(Map.Entry<List<Long>, Signed<PrePrepare>> eldest) {
            return size() > REMEMBERED_MAX;
        }
    };

    EquivocatePrimary(StrategyContext context) {
        super(NAME, DESCRIPTION, context);
    }

    @Override
    public List<Send> onSend(Signed<?> message, int to) {
        if (!(message.payload() instanceof PrePrepare pp) || message.signer() != context.replica()) {
            return List.of(Send.now(to, message.wire()));
        }
        Signed<PrePrepare> alternate = alternates.computeIfAbsent(List.of(pp.view(), pp.sequence()),
                k -> context.factory().prePrepare(pp.view(), pp.sequence(), conflicting(pp.batch(), pp.sequence())));
        int roll = context.random().nextInt(8);
        if (roll == 0) {
            return List.of(Send.now(to, message.wire()), Send.now(to, alternate.wire()));
        }
        boolean sideA = Long.hashCode(pp.sequence() * 31 + to + pp.view() * 7) % 2 == 0;
        return List.of(Send.now(to, (sideA ? message : alternate).wire()));
    }

    /** A different batch for the same slot: later timestamp, reversed order, or one request fewer. */
    static Batch conflicting(Batch batch, long sequence) {
        List<Request> requests = new ArrayList<>(batch.requests());
        int variant = (int) (sequence % 3);
        if (variant == 1 && requests.size() > 1) {
            java.util.Collections.reverse(requests);
            return new Batch(batch.timestampMillis(), requests, batch.anchor());
        }
        if (variant == 2 && !requests.isEmpty()) {
            requests.remove(requests.size() - 1);
            return new Batch(batch.timestampMillis(), requests, batch.anchor());
        }
        return new Batch(batch.timestampMillis() + 1, requests, batch.anchor());
    }
}
