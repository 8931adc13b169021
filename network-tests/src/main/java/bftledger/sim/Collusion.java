package bftledger.sim;

import bftledger.crypto.Digest;
import bftledger.pbft.Batch;
import bftledger.pbft.Commit;
import bftledger.pbft.PrePrepare;
import bftledger.pbft.Prepare;
import bftledger.pbft.Signed;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Colluding equivocators: a primary and its accomplices split the other replicas into two sides
 * and show each side a different batch for every slot, all voting for both. With f accomplices
 * or fewer the honest replicas still agree; with more than f (two of four) each side reaches its
 * quorums alone and the honest replicas commit different batches, which is what
 * {@code BeyondFaultThresholdTest} uses to prove the agreement check can fail. Not in the
 * {@link Strategies} registry: it is an attack beyond the threshold, not a fault to tolerate.
 */
public final class Collusion {
    public static final String NAME = "collude";

    private final Set<Integer> sideB;
    private final Map<Digest, Digest> alternateOf = new HashMap<>();

    /** {@code sideB}: the replicas shown the alternate batches; everyone else sees the originals. */
    public Collusion(Set<Integer> sideB) {
        this.sideB = Set.copyOf(sideB);
    }

    public ByzantineStrategy member(StrategyContext context) {
        return new Member(context);
    }

    private final class Member implements ByzantineStrategy {
        private final StrategyContext context;

        Member(StrategyContext context) {
            this.context = context;
        }

        @Override
        public String name() {
            return NAME;
        }

        @Override
        public String description() {
            return "colluding equivocators showing two sides of the network two different batches per slot";
        }

        @Override
        public List<Send> onSend(Signed<?> message, int to) {
            if (!sideB.contains(to) || message.signer() != context.replica()) {
                return List.of(Send.now(to, message.wire()));
            }
            Signed<?> alternate = null;
            if (message.payload() instanceof PrePrepare pp) {
                Batch other = EquivocatePrimary.conflicting(pp.batch(), 0);
                Signed<PrePrepare> alt = context.factory().prePrepare(pp.view(), pp.sequence(), other);
                alternateOf.put(pp.digest(), alt.payload().digest());
                alternate = alt;
            } else if (message.payload() instanceof Prepare p && alternateOf.containsKey(p.digest())) {
                alternate = context.factory().prepare(p.view(), p.sequence(), alternateOf.get(p.digest()));
            } else if (message.payload() instanceof Commit c && alternateOf.containsKey(c.digest())) {
                alternate = context.factory().commit(c.view(), c.sequence(), alternateOf.get(c.digest()));
            }
            return List.of(Send.now(to, (alternate == null ? message : alternate).wire()));
        }
    }
}
