package bftledger.sdk;

/** The result of checking something a replica sent: accepted, or rejected with the reason. */
public record Verdict(boolean ok, String reason) {
    public static final Verdict OK = new Verdict(true, "");

    public static Verdict reject(String reason) {
        return new Verdict(false, reason);
    }
}
