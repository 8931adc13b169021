package bftledger.sim;

import bftledger.crypto.Digest;
import bftledger.crypto.Sha256;
import bftledger.pbft.Commit;
import bftledger.pbft.Prepare;
import bftledger.pbft.Signed;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Signs a second PREPARE or COMMIT with another digest for every slot it votes in and sends it
 * to part of the replicas, the true vote to the rest; sometimes both to one replica.
 */
final class EquivocateBackup extends NamedStrategy {
    static final String NAME = "equivocate-backup";
    static final String DESCRIPTION = "signs conflicting PREPAREs and COMMITs for one slot and sends them to different replicas";
    private static final int REMEMBERED_MAX = 256;
    private static final byte[] SALT = "equivocate-backup".getBytes(StandardCharsets.US_ASCII);

    private final Map<List<Long>, Signed<?>> alternates = new LinkedHashMap<>() {
        @Override
        protected boolean removeEldestEntry(Map.Entry<List<Long>, Signed<?>> eldest) {
            return size() > REMEMBERED_MAX;
        }
    };

    EquivocateBackup(StrategyContext context) {
        super(NAME, DESCRIPTION, context);
    }

    @Override
    public List<Send> onSend(Signed<?> message, int to) {
        Signed<?> alternate;
        if (message.signer() != context.replica()) {
            return List.of(Send.now(to, message.wire()));
        } else if (message.payload() instanceof Prepare p) {
            alternate = alternates.computeIfAbsent(List.of(1L, p.view(), p.sequence()),
                    k -> context.factory().prepare(p.view(), p.sequence(), other(p.digest())));
        } else if (message.payload() instanceof Commit c) {
            alternate = alternates.computeIfAbsent(List.of(2L, c.view(), c.sequence()),
                    k -> context.factory().commit(c.view(), c.sequence(), other(c.digest())));
        } else {
            return List.of(Send.now(to, message.wire()));
        }
        int roll = context.random().nextInt(4);
        if (roll == 0) {
            return List.of(Send.now(to, message.wire()), Send.now(to, alternate.wire()));
        }
        return List.of(Send.now(to, (roll == 1 ? message : alternate).wire()));
    }

    private static Digest other(Digest digest) {
        return Sha256.hash(SALT, digest.bytes());
    }
}
