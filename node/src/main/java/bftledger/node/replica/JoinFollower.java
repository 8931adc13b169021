package bftledger.node.replica;

import bftledger.crypto.PublicKey;
import bftledger.ledger.BlockChecker;
import bftledger.ledger.BlockStore;
import bftledger.ledger.ChainGenesis;
import bftledger.ledger.ValidatorSets.ValidatorSet;
import bftledger.ledger.proto.Block;
import bftledger.node.net.PeerNetwork;
import bftledger.node.proto.FetchBlocksRequest;
import bftledger.node.proto.PeerTransportGrpc;
import io.grpc.ChannelCredentials;
import io.grpc.ManagedChannel;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import java.util.Iterator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A replica whose key is not (yet) in the set in force, started to join: it follows the chain
 * from the validators' block service, each block fully checked by the store (certificate by the
 * set in force at its height, signatures, re-execution), until the set in force at its next
 * height names its key. Then it takes part like any validator. No peer is trusted: a block that
 * does not check is dropped and the next validator asked.
 */
final class JoinFollower implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(JoinFollower.class);
    static final long FETCH_DEADLINE_MILLIS = 3_000;
    static final long IDLE_MILLIS = 500;
    static final long LOG_EVERY_MILLIS = 10_000;

    private final ChainGenesis genesis;
    private final BlockStore store;
    private final PublicKey key;
    private final ChannelCredentials credentials;
    private final Map<String, ManagedChannel> channels = new TreeMap<>();

    JoinFollower(ChainGenesis genesis, BlockStore store, PublicKey key, ChannelCredentials credentials) {
        this.genesis = genesis;
        this.store = store;
        this.key = key;
        this.credentials = credentials;
    }

    /** Returns once the set in force at the store's next height names {@code key}; interrupted: throws. */
    Epoch followUntilMember() throws InterruptedException {
        long lastLog = 0;
        while (true) {
            java.util.Optional<Epoch> epoch = Epoch.of(genesis, store, key);
            if (epoch.isPresent()) {
                log.info("event=joined height={} epoch={} replica={}", store.height(), epoch.get().set().epoch(), epoch.get().self());
                return epoch.get();
            }
            boolean progress = false;
            for (String address : sources()) {
                progress |= fetchFrom(address);
            }
            long now = System.currentTimeMillis();
            if (now - lastLog > LOG_EVERY_MILLIS) {
                lastLog = now;
                log.info("event=joining height={} sets=\"{}\" waiting for a validator set that names key {}", store.height(),
                        Epoch.describe(store.validatorSets(), store.height() + 1), key.shortHex());
            }
            if (!progress) {
                Thread.sleep(IDLE_MILLIS);
            }
            if (Thread.interrupted()) {
                throw new InterruptedException();
            }
        }
    }

    /** The validators of every set this store knows, newest first, without this replica itself. */
    private Set<String> sources() {
        List<ValidatorSet> sets = store.validatorSets();
        Set<String> addresses = new LinkedHashSet<>();
        for (int i = sets.size() - 1; i >= 0; i--) {
            ValidatorSet s = sets.get(i);
            for (int r = 0; r < s.n(); r++) {
                if (!s.keys().get(r).equals(key)) {
                    addresses.add(s.validators().get(r).getAddress());
                }
            }
        }
        return addresses;
    }

    private boolean fetchFrom(String address) {
        long from = store.height() + 1;
        int taken = 0;
        try {
            ManagedChannel channel = channels.computeIfAbsent(address, a -> NettyChannelBuilder.forTarget(a, credentials).build());
            Iterator<Block> it = PeerTransportGrpc.newBlockingStub(channel)
                    .withDeadlineAfter(FETCH_DEADLINE_MILLIS, TimeUnit.MILLISECONDS)
                    .fetchBlocks(FetchBlocksRequest.newBuilder().setFromHeight(from).setMaxBlocks(PeerNetwork.FETCH_BLOCKS_MAX).build());
            while (it.hasNext()) {
                Block block = it.next();
                BlockChecker.BlockCheck check = store.append(block);
                if (!check.ok()) {
                    log.warn("event=join-block-refused peer={} height={} problems={}", address, store.height() + 1, check.problems());
                    break;
                }
                taken++;
                if (Epoch.of(genesis, store, key).isPresent()) {
                    break;
                }
            }
        } catch (RuntimeException e) {
            log.debug("event=join-fetch-failed peer={} error={}", address, e.toString());
        }
        return taken > 0;
    }

    @Override
    public void close() {
        channels.values().forEach(ManagedChannel::shutdownNow);
    }
}
