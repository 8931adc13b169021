package bftledger.sim;

import bftledger.crypto.PublicKey;
import bftledger.pbft.Request;
import bftledger.pbft.Signed;
import java.util.Arrays;
import java.util.List;

/**
 * Never lets one client's requests reach the core, so as primary it never orders them while
 * ordering everyone else's; the backups' request timers must replace it. Sends honestly.
 */
final class Censor extends NamedStrategy {
    static final String NAME = "censor";
    static final String DESCRIPTION = "as primary never orders one chosen client's requests (orders all others)";

    private final byte[] victim;

    Censor(StrategyContext context, List<PublicKey> clients) {
        super(NAME, DESCRIPTION, context);
        this.victim = clients.isEmpty() ? null : clients.get(context.random().nextInt(clients.size())).bytes();
    }

    @Override
    public boolean admitRequest(Request request) {
        byte[] client = SimRequests.clientKeyBytes(request);
        if (victim == null) {
            // No known clients: censor half of all requests, by id.
            return (request.id().bytes()[0] & 1) == 0;
        }
        return client == null || !Arrays.equals(client, victim);
    }

    @Override
    public List<Send> onSend(Signed<?> message, int to) {
        return List.of(Send.now(to, message.wire()));
    }
}
