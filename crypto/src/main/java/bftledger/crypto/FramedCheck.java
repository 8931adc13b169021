package bftledger.crypto;

/**
 * One signature over the exact bytes that were signed ({@code framed}: for the node's own
 * checks the domain prefix followed by the message). The rule of {@link SignatureBatch} is
 * defined on these bytes; {@link SignatureCheck} only adds the prefix. Package-private, so that
 * outside this package every signature carries a domain, while tests can put published vectors
 * (over raw messages) through the same verification (see PublicVectorsTest).
 */
record FramedCheck(PublicKey key, byte[] framed, byte[] signature) {
    static FramedCheck of(SignatureCheck c) {
        return new FramedCheck(c.key(), c.domain().framed(c.message(), 0, c.message().length), c.signature());
    }

    boolean verify() {
        return SignatureBatch.verifyOne(key, framed, signature);
    }
}
