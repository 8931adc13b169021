package bftledger.crypto;

import java.nio.charset.StandardCharsets;

/**
 * The kind of message a signature is for. Every signature covers
 * {@code prefix() || message}, where the prefix is the ASCII text {@code "bftledger/v1/<tag>"}
 * followed by one zero byte, so a signature made for one kind (a transaction) never verifies as
 * another (a COMMIT vote). Tags are distinct and none is a prefix of another because of the
 * terminating zero byte. This rule is part of the public contract: a client in another language
 * signs {@code "bftledger/v1/transaction" 0x00 || body bytes} with plain Ed25519 (RFC 8032).
 */
public enum Domain {
    TRANSACTION("transaction"),
    REQUEST("request"),
    PRE_PREPARE("pre-prepare"),
    PREPARE("prepare"),
    COMMIT("commit"),
    CHECKPOINT("checkpoint"),
    VIEW_CHANGE("view-change"),
    NEW_VIEW("new-view"),
    REPLY("reply"),
    REPLY_BATCH("reply-batch"),
    RECEIPT("receipt"),
    PEER_HELLO("peer-hello"),
    STATUS("status"),
    VALIDATOR_CHANGE("validator-change");

    private final String tag;
    private final byte[] prefix;

    Domain(String tag) {
        this.tag = tag;
        byte[] text = ("bftledger/v1/" + tag).getBytes(StandardCharsets.US_ASCII);
        this.prefix = new byte[text.length + 1];
        System.arraycopy(text, 0, prefix, 0, text.length);
    }

    public String tag() {
        return tag;
    }

    /** The bytes prepended to a message of this kind before signing. */
    public byte[] prefix() {
        return prefix.clone();
    }

    byte[] framed(byte[] message, int offset, int length) {
        byte[] framed = new byte[prefix.length + length];
        System.arraycopy(prefix, 0, framed, 0, prefix.length);
        System.arraycopy(message, offset, framed, prefix.length, length);
        return framed;
    }
}
