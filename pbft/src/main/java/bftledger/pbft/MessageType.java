package bftledger.pbft;

import bftledger.crypto.Domain;

/** The wire type byte of each consensus message and the signing domain that goes with it. */
public enum MessageType {
    PRE_PREPARE(1, Domain.PRE_PREPARE),
    PREPARE(2, Domain.PREPARE),
    COMMIT(3, Domain.COMMIT),
    CHECKPOINT(4, Domain.CHECKPOINT),
    VIEW_CHANGE(5, Domain.VIEW_CHANGE),
    NEW_VIEW(6, Domain.NEW_VIEW),
    STATUS(7, Domain.STATUS);

    private final int code;
    private final Domain domain;

    MessageType(int code, Domain domain) {
        this.code = code;
        this.domain = domain;
    }

    public int code() {
        return code;
    }

    public Domain domain() {
        return domain;
    }

    /** The type for a wire code, or null when the code names none. */
    public static MessageType ofCode(int code) {
        for (MessageType t : values()) {
            if (t.code == code) {
                return t;
            }
        }
        return null;
    }
}
