package bftledger.sim;

/**
 * One message a (possibly Byzantine) replica actually puts on the wire: the destination replica,
 * the bytes, and how many ticks to hold it back before sending (0 = now). Bytes, not a
 * {@code Signed}, because a strategy may send things that do not decode.
 */
public record Send(int to, byte[] wire, int delayTicks) {
    public Send {
        if (wire == null || delayTicks < 0) {
            throw new IllegalArgumentException("send needs bytes and a non-negative delay");
        }
    }

    public static Send now(int to, byte[] wire) {
        return new Send(to, wire, 0);
    }
}
