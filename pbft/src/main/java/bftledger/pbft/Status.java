package bftledger.pbft;

/**
 * A replica's periodic summary of where it is: peers answer with what it is missing (the
 * NEW-VIEW of a view it has not entered, the proof of a newer stable checkpoint, their own
 * checkpoints above its execution, and the messages of slots above its execution in the current
 * view). It carries no vote, so it is neither persisted nor evidence; it is signed like every
 * other message so a forged one cannot make peers send on someone else's behalf.
 */
public record Status(long view, boolean viewActive, long lowWatermark, long lastExecuted, int replica) implements Payload {
    public Status {
        if (view < 0 || lowWatermark < 0 || lastExecuted < 0 || replica < 0) {
            throw new IllegalArgumentException("malformed status");
        }
    }

    @Override
    public MessageType type() {
        return MessageType.STATUS;
    }
}
