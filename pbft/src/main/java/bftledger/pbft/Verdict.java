package bftledger.pbft;

/** The outcome of a check: the accepted value, or the reason and a human-readable detail. */
public sealed interface Verdict<T> permits Verdict.Accepted, Verdict.Rejected {
    record Accepted<T>(T value) implements Verdict<T> {}

    record Rejected<T>(RejectReason reason, String detail) implements Verdict<T> {}

    static <T> Verdict<T> accept(T value) {
        return new Accepted<>(value);
    }

    static <T> Verdict<T> reject(RejectReason reason, String detail) {
        return new Rejected<>(reason, detail);
    }

    default boolean accepted() {
        return this instanceof Accepted<T>;
    }

    /** The accepted value; throws when rejected, so callers branch on {@link #accepted()} first. */
    default T value() {
        if (this instanceof Accepted<T> a) {
            return a.value();
        }
        throw new IllegalStateException("rejected verdict has no value: " + this);
    }
}
