package bftledger.sdk;

import bftledger.crypto.Digest;
import bftledger.ledger.proto.Receipt;
import java.util.List;

/**
 * A transaction proven committed: either {@code replicas} holds f+1 replicas whose signed
 * replies agreed, or {@code byProof} is true and one replica's certificate and inclusion proof
 * verified against genesis.
 */
public record Committed(Digest txId, Receipt receipt, long height, Digest blockHash, boolean byProof,
                        List<Integer> replicas) {
    public Committed {
        replicas = List.copyOf(replicas);
    }

    public String evidence() {
        return byProof ? "commit certificate + inclusion proof from replica " + replicas
                : "matching signed replies from replicas " + replicas;
    }
}
