package bftledger.node.replica;

import bftledger.api.proto.Evidence;
import bftledger.api.proto.GetAccountRequest;
import bftledger.api.proto.GetAccountResponse;
import bftledger.api.proto.GetBlockRequest;
import bftledger.api.proto.GetBlockResponse;
import bftledger.api.proto.GetCertifiedHeaderRequest;
import bftledger.api.proto.GetCertifiedHeaderResponse;
import bftledger.api.proto.GetEvidenceRequest;
import bftledger.api.proto.GetEvidenceResponse;
import bftledger.api.proto.GetRecordHistoryRequest;
import bftledger.api.proto.GetRecordHistoryResponse;
import bftledger.api.proto.GetRecordRequest;
import bftledger.api.proto.GetRecordResponse;
import bftledger.api.proto.GetStatusRequest;
import bftledger.api.proto.GetStatusResponse;
import bftledger.api.proto.GetTransactionRequest;
import bftledger.api.proto.GetTransactionResponse;
import bftledger.api.proto.LedgerApiGrpc;
import bftledger.api.proto.StreamBlocksRequest;
import bftledger.api.proto.SubmitBatchRequest;
import bftledger.api.proto.SubmitBatchResponse;
import bftledger.api.proto.SubmitRequest;
import bftledger.api.proto.SubmitResponse;
import bftledger.crypto.KeyPair;
import bftledger.ledger.BlockStore;
import bftledger.ledger.ChainGenesis;
import bftledger.ledger.ExecutedBlock;
import bftledger.ledger.proto.Block;
import bftledger.node.edge.AdmissionLimits;
import bftledger.node.edge.PeerLiveness;
import bftledger.node.metrics.NodeMetrics;
import bftledger.node.net.PeerNetwork;
import bftledger.pbft.Output;
import com.google.protobuf.ByteString;
import io.grpc.stub.StreamObserver;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.ScheduledExecutorService;

/**
 * The client API of one replica (the LedgerApi service of api.proto), routing each call to the
 * part that answers it: submissions ({@link ClientSubmissions}), proven reads
 * ({@link ProvenAnswers}, with {@link LedgerWaits} for heights and certifications), block
 * streams ({@link BlockStreams}); status and evidence are answered here. {@link #onBlock} is
 * called by the core loop once a block is durable, and tells each part.
 */
public final class ClientApiService extends LedgerApiGrpc.LedgerApiImplBase {
    public static final int STREAMS_MAX = BlockStreams.STREAMS_MAX;
    /** Most transactions one SubmitTransactions call may carry. */
    public static final int BATCH_TRANSACTIONS_MAX = ClientSubmissions.BATCH_TRANSACTIONS_MAX;

    private final int self;
    private final String name;
    private final ChainGenesis genesis;
    private final BlockStore store;
    private final PeerLiveness liveness;
    private final LedgerWaits waits;
    private final ProvenAnswers answers;
    private final ClientSubmissions submissions;
    private final BlockStreams streams;
    private CoreLoop core;
    private PeerNetwork peers;

    public ClientApiService(int self, String name, ChainGenesis genesis, KeyPair key, BlockStore store, VerifiedTransactions transactions,
                            NodeMetrics metrics, ScheduledExecutorService timers, ExecutorService streamPump,
                            int transactionBytesMax, int waitersMax, int waitMaxMillis, PeerLiveness liveness,
                            AdmissionLimits limits, java.util.function.IntConsumer badSignatures) {
        this.self = self;
        this.name = name;
        this.genesis = genesis;
        this.store = store;
        this.liveness = liveness;
        this.waits = new LedgerWaits(store, timers);
        this.answers = new ProvenAnswers(store, waits, liveness, metrics);
        this.submissions = new ClientSubmissions(self, key, store, transactions, metrics, timers, waits, answers,
                transactionBytesMax, waitersMax, waitMaxMillis, liveness, limits, badSignatures);
        this.streams = new BlockStreams(self, store, streamPump);
    }

    public void attach(CoreLoop core, PeerNetwork peers) {
        this.core = core;
        this.peers = peers;
        submissions.attach(core);
    }

    /** Called by the core loop once {@code block} is durable. */
    public void onBlock(ExecutedBlock block) {
        submissions.onBlock(block);
        waits.onBlock();
        streams.onBlock();
    }

    public int waiting() {
        return submissions.waiting();
    }

    @Override
    public void submitTransaction(SubmitRequest request, StreamObserver<SubmitResponse> out) {
        submissions.submitTransaction(request, out);
    }

    @Override
    public void submitTransactions(SubmitBatchRequest request, StreamObserver<SubmitBatchResponse> out) {
        submissions.submitTransactions(request, out);
    }

    @Override
    public void getTransaction(GetTransactionRequest request, StreamObserver<GetTransactionResponse> out) {
        answers.getTransaction(request, out);
    }

    @Override
    public void getBlock(GetBlockRequest request, StreamObserver<GetBlockResponse> out) {
        answers.getBlock(request, out);
    }

    @Override
    public void getAccount(GetAccountRequest request, StreamObserver<GetAccountResponse> out) {
        answers.getAccount(request, out);
    }

    @Override
    public void getRecord(GetRecordRequest request, StreamObserver<GetRecordResponse> out) {
        answers.getRecord(request, out);
    }

    @Override
    public void getRecordHistory(GetRecordHistoryRequest request, StreamObserver<GetRecordHistoryResponse> out) {
        answers.getRecordHistory(request, out);
    }

    @Override
    public void getCertifiedHeader(GetCertifiedHeaderRequest request, StreamObserver<GetCertifiedHeaderResponse> out) {
        answers.getCertifiedHeader(request, out);
    }

    @Override
    public void streamBlocks(StreamBlocksRequest request, StreamObserver<Block> out) {
        streams.stream(request, out);
    }

    @Override
    public void getStatus(GetStatusRequest request, StreamObserver<GetStatusResponse> out) {
        CoreLoop.Status status = core.status();
        BlockStore.Tip tip = store.tip();
        out.onNext(GetStatusResponse.newBuilder().setReplica(self).setName(name).setChainId(genesis.chainId())
                .setView(status.view()).setPrimary(status.primary()).setHeight(tip.height())
                .setLastBlockHash(ByteString.copyFrom(tip.hash().bytes())).setStableCheckpoint(status.stableCheckpoint())
                .addAllPeersConnected(peers.connectedPeers()).setViewChanging(!status.viewActive())
                .setPendingTransactions(status.pendingRequests()).setEvidenceCount(core.evidence().size())
                .setGenesisHash(ByteString.copyFrom(genesis.hash().bytes())).setQuorumReachable(liveness.quorumReachable())
                .addAllPeerLiveness(peerLiveness()).setCertifiedHeight(store.certifiedHeight())
                .addAllDamagedHeights(store.damagedHeights()).setStorageStall(status.storageStall())
                .setVoting(status.voting()).setPrunedBelow(store.prunedBelow()).build());
        out.onCompleted();
    }

    /** The failure detector's view, with equivocators taken from the evidence held. */
    private List<bftledger.api.proto.PeerLiveness> peerLiveness() {
        List<Integer> equivocators = core.evidence().stream().map(Output.Evidence::replica).toList();
        List<bftledger.api.proto.PeerLiveness> out = new ArrayList<>();
        for (PeerLiveness.Peer p : liveness.peers(equivocators)) {
            out.add(bftledger.api.proto.PeerLiveness.newBuilder().setReplica(p.replica()).setHasHeard(p.lastHeardAgeMillis() >= 0)
                    .setLastHeardAgeMillis(Math.max(0, p.lastHeardAgeMillis())).setRttMicros(p.rttMicros())
                    .setSuspected(p.suspected()).addAllSuspicions(p.suspicions()).setBadMessages(p.badMessages()).build());
        }
        return out;
    }

    @Override
    public void getEvidence(GetEvidenceRequest request, StreamObserver<GetEvidenceResponse> out) {
        GetEvidenceResponse.Builder response = GetEvidenceResponse.newBuilder();
        for (Output.Evidence e : core.evidence()) {
            response.addEvidence(Evidence.newBuilder().setReplica(e.replica()).setKind("conflicting " + e.type())
                    .setView(e.view()).setSequence(e.sequence()).setFirst(ByteString.copyFrom(e.first().wire()))
                    .setSecond(ByteString.copyFrom(e.second().wire())));
        }
        out.onNext(response.build());
        out.onCompleted();
    }
}
