package bftledger.pbft;

/** The one way the core reports a broken internal invariant: a bug here, never peer input. */
final class Invariants {
    private Invariants() {}

    static void require(boolean condition, String what) {
        if (!condition) {
            throw new IllegalStateException("invariant broken: " + what);
        }
    }
}
