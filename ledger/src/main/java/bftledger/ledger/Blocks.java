package bftledger.ledger;

import bftledger.crypto.Digest;
import bftledger.crypto.Sha256;
import bftledger.ledger.proto.Block;
import bftledger.ledger.proto.BlockHeader;
import bftledger.ledger.proto.SignedTransaction;
import com.google.protobuf.ByteString;
import com.google.protobuf.InvalidProtocolBufferException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import com.google.protobuf.Descriptors;
import com.google.protobuf.Message;

/** Block bounds, hashing and strict parsing. Block hash = SHA-256(header bytes as stored). */
public final class Blocks {
    /** Most transactions in one block; the consensus batch size must not exceed it. */
    public static final int MAX_TRANSACTIONS_PER_BLOCK = 2048;
    /** Bound on a serialized Block: transactions at their maximum size, receipts and a certificate fit. */
    public static final int MAX_BLOCK_BYTES = 24 * 1024 * 1024;

    private Blocks() {}

    public static Digest hash(Block block) {
        return Sha256.hash(block.getHeader().toByteArray());
    }

    /** The transaction ids, SHA-256 of each body, in block order. */
    public static List<Digest> txIds(Block block) {
        List<Digest> ids = new ArrayList<>(block.getTransactionsCount());
        for (SignedTransaction tx : block.getTransactionsList()) {
            ids.add(Transactions.id(tx));
        }
        return ids;
    }

    /**
     * Parses stored or received block bytes, refusing anything over {@link #MAX_BLOCK_BYTES} and
     * any encoding that is not exactly what this code writes (so a flipped byte cannot hide in an
     * unknown field or a non-canonical varint).
     */
    public static Block parse(byte[] bytes) throws InvalidProtocolBufferException {
        if (bytes.length > MAX_BLOCK_BYTES) {
            throw new InvalidProtocolBufferException("block of " + bytes.length + " bytes, over MAX_BLOCK_BYTES = " + MAX_BLOCK_BYTES);
        }
        Block block = Block.parseFrom(bytes);
        if (hasUnknownFields(block)) {
            throw new InvalidProtocolBufferException("block carries unknown fields");
        }
        if (!Arrays.equals(block.toByteArray(), bytes)) {
            throw new InvalidProtocolBufferException("block bytes are not in canonical encoding");
        }
        return block;
    }

    /** True if {@code message} or any message inside it carries fields this schema does not know. */
    static boolean hasUnknownFields(Message message) {
        if (!message.getUnknownFields().asMap().isEmpty()) {
            return true;
        }
        for (Map.Entry<Descriptors.FieldDescriptor, Object> e : message.getAllFields().entrySet()) {
            if (e.getKey().getJavaType() != Descriptors.FieldDescriptor.JavaType.MESSAGE) {
                continue;
            }
            if (e.getKey().isRepeated()) {
                for (Object o : (List<?>) e.getValue()) {
                    if (hasUnknownFields((Message) o)) {
                        return true;
                    }
                }
            } else if (hasUnknownFields((Message) e.getValue())) {
                return true;
            }
        }
        return false;
    }

    /** Parses a block's header bytes, refusing a non-canonical encoding. */
    public static BlockHeader header(Block block) throws InvalidProtocolBufferException {
        ByteString raw = block.getHeader();
        BlockHeader header = BlockHeader.parseFrom(raw);
        if (hasUnknownFields(header)) {
            throw new InvalidProtocolBufferException("block header carries unknown fields");
        }
        if (!header.toByteString().equals(raw)) {
            throw new InvalidProtocolBufferException("block header is not in canonical encoding");
        }
        return header;
    }
}
