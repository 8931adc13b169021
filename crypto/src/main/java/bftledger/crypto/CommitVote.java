package bftledger.crypto;

import java.nio.ByteBuffer;

/**
 * The bytes a replica signs (under {@link Domain#COMMIT}) when it votes to commit a batch: the
 * one layout that both the consensus core and the ledger's certificate verifier must agree on,
 * so it lives here, below both. Fixed layout, big-endian:
 * {@code view u64 || sequence u64 || batch digest (32 bytes) || replica u32} = 52 bytes.
 * Because the layout is fixed, re-encoding the parsed fields reproduces the signed bytes exactly.
 */
public record CommitVote(long view, long sequence, Digest batchDigest, int replica) {
    public static final int ENCODED_LENGTH = 8 + 8 + Digest.LENGTH + 4;

    public CommitVote {
        if (view < 0 || sequence < 0 || replica < 0) {
            throw new IllegalArgumentException("negative view, sequence or replica in a commit vote");
        }
        if (batchDigest == null) {
            throw new IllegalArgumentException("commit vote without a batch digest");
        }
    }

    public byte[] encode() {
        return ByteBuffer.allocate(ENCODED_LENGTH)
                .putLong(view)
                .putLong(sequence)
                .put(batchDigest.bytes())
                .putInt(replica)
                .array();
    }

    public static CommitVote decode(byte[] bytes) {
        if (bytes == null || bytes.length != ENCODED_LENGTH) {
            throw new IllegalArgumentException("a commit vote is " + ENCODED_LENGTH + " bytes");
        }
        ByteBuffer buffer = ByteBuffer.wrap(bytes);
        long view = buffer.getLong();
        long sequence = buffer.getLong();
        byte[] digest = new byte[Digest.LENGTH];
        buffer.get(digest);
        return new CommitVote(view, sequence, Digest.of(digest), buffer.getInt());
    }

    public byte[] sign(KeyPair key) {
        return key.sign(Domain.COMMIT, encode());
    }

    public boolean verify(PublicKey key, byte[] signature) {
        return key.verify(Domain.COMMIT, encode(), signature);
    }
}
