package bftledger.pbft.review;

import static org.junit.jupiter.api.Assertions.fail;

import bftledger.crypto.Digest;
import bftledger.crypto.KeyPair;
import bftledger.crypto.PublicKey;
import bftledger.crypto.Sha256;
import bftledger.pbft.Config;
import bftledger.pbft.Event;
import bftledger.pbft.MalformedMessageException;
import bftledger.pbft.MessageCodec;
import bftledger.pbft.MessageFactory;
import bftledger.pbft.MessageVerifier;
import bftledger.pbft.Output;
import bftledger.pbft.Replica;
import bftledger.pbft.Request;
import bftledger.pbft.Signed;
import bftledger.pbft.TestRequests;
import bftledger.pbft.Verdict;
import java.nio.ByteBuffer;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.function.Function;
import java.util.function.Predicate;

/**
 * Review harness: a minimal synchronous network over the public API of the pbft core (the
 * package's own Cluster is package-private). FIFO delivery through the real codec and verifier,
 * a toy application, a tamper hook on what a replica sends, a drop predicate and isolation.
 */
final class Net {
    record Envelope(int from, int to, byte[] wire) {}

    static final class App {
        final List<Output.CommittedBatch> executed = new ArrayList<>();
        final Set<Digest> ids = new HashSet<>();
        Digest state = Digest.ZERO;
        long height;
    }

    final int n;
    final Config base;
    final List<KeyPair> keys = new ArrayList<>();
    final List<Replica> replicas = new ArrayList<>();
    final List<App> apps = new ArrayList<>();
    final List<List<Output.Rejection>> rejections = new ArrayList<>();
    final MessageVerifier verifier;
    final MessageCodec codec;
    final ArrayDeque<Envelope> queue = new ArrayDeque<>();
    final Set<Integer> isolated = new HashSet<>();
    Predicate<Envelope> dropIf = e -> false;
    Function<Envelope, List<Envelope>> tamper = List::of;
    long now = 1_000;

    Net(int f, Function<Config, Config> tune) {
        n = 3 * f + 1;
        List<PublicKey> pub = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            keys.add(KeyPair.deterministic("replica-" + i));
            pub.add(keys.get(i).publicKey());
        }
        base = tune.apply(Config.of(pub, 0, keys.get(0)));
        verifier = new MessageVerifier(base, TestRequests.VALIDATOR);
        codec = new MessageCodec(base);
        for (int i = 0; i < n; i++) {
            App app = new App();
            apps.add(app);
            replicas.add(new Replica(base.withReplica(i, keys.get(i)), id -> app.ids.contains(id)));
            rejections.add(new ArrayList<>());
        }
    }

    MessageFactory factory(int i) {
        return new MessageFactory(i, keys.get(i));
    }

    Signed<?> decode(byte[] wire) {
        try {
            return codec.decode(wire);
        } catch (MalformedMessageException e) {
            throw new AssertionError(e);
        }
    }

    void step(int i, Event event) {
        Output out = replicas.get(i).step(event);
        replicas.get(i).checkInvariants();
        rejections.get(i).addAll(out.rejections());
        for (Output.Outbound o : out.messages()) {
            for (int to = 0; to < n; to++) {
                if (to != i && (o.broadcast() || o.to() == to)) {
                    queue.addAll(tamper.apply(new Envelope(i, to, o.message().wire())));
                }
            }
        }
        for (Output.CommittedBatch b : out.execute()) {
            App app = apps.get(i);
            if (b.sequence() != app.height + 1) {
                fail("replica " + i + " executed " + b.sequence() + " after " + app.height);
            }
            app.height = b.sequence();
            app.state = Sha256.hash(app.state.bytes(), b.digest().bytes(), ByteBuffer.allocate(8).putLong(app.height).array());
            app.executed.add(b);
            b.requests().forEach(r -> app.ids.add(r.id()));
            step(i, new Event.Executed(b.sequence(), app.state));
        }
    }

    void submit(Request r) {
        for (int i = 0; i < n; i++) {
            step(i, new Event.ClientRequest(r));
        }
    }

    boolean blocked(Envelope e) {
        return isolated.contains(e.from()) || isolated.contains(e.to()) || dropIf.test(e);
    }

    void deliverAll() {
        int k = 0;
        while (!queue.isEmpty()) {
            Envelope e = queue.poll();
            if (blocked(e)) {
                continue;
            }
            Verdict<Signed<?>> v = verifier.verify(e.wire());
            if (v instanceof Verdict.Rejected<Signed<?>> r) {
                rejections.get(e.to()).add(new Output.Rejection(r.reason(), r.detail(), e.from()));
                continue;
            }
            step(e.to(), new Event.PeerMessage(v.value()));
            if (++k > 1_000_000) {
                fail("message storm");
            }
        }
    }

    void tick(int rounds) {
        for (int k = 0; k < rounds; k++) {
            now += 10;
            for (int i = 0; i < n; i++) {
                step(i, new Event.Tick(now));
            }
            deliverAll();
        }
    }

    Replica replica(int i) {
        return replicas.get(i);
    }
}
