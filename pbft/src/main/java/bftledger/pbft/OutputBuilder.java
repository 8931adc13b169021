package bftledger.pbft;

import java.util.ArrayList;
import java.util.List;

/** The {@link Output} of one step, filled in the order things happen. */
final class OutputBuilder {
    final List<PersistRecord> persist = new ArrayList<>();
    final List<Output.Outbound> messages = new ArrayList<>();
    final List<Output.CommittedBatch> execute = new ArrayList<>();
    final List<Output.StateTransferRequest> stateTransfer = new ArrayList<>();
    final List<Output.Evidence> evidence = new ArrayList<>();
    final List<Output.Rejection> rejections = new ArrayList<>();

    Output build() {
        return new Output(persist, messages, execute, stateTransfer, evidence, rejections);
    }
}
