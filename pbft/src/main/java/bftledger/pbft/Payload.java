package bftledger.pbft;

/**
 * The content of a consensus message, before signing. Its encoding ({@link MessageCodec}) is a
 * fixed binary layout; the signature covers the encoded bytes as they travelled, which
 * {@link Signed} keeps, so nothing is ever re-serialized to be checked.
 */
public sealed interface Payload permits PrePrepare, Prepare, Commit, Checkpoint, ViewChange, NewView, Status {
    MessageType type();
}
