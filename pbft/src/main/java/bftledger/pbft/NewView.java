package bftledger.pbft;

import java.util.List;

/**
 * The primary of {@code view} starts it: a quorum of signed VIEW-CHANGEs for the view (V) and
 * the pre-prepares it derived from them (O), which every backup recomputes from V and compares.
 */
public record NewView(long view, List<Signed<ViewChange>> viewChanges, List<Signed<PrePrepare>> prePrepares)
        implements Payload {
    public NewView {
        if (view < 1) {
            throw new IllegalArgumentException("new view must be >= 1");
        }
        viewChanges = List.copyOf(viewChanges);
        prePrepares = List.copyOf(prePrepares);
    }

    @Override
    public MessageType type() {
        return MessageType.NEW_VIEW;
    }
}
