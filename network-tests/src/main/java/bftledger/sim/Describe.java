package bftledger.sim;

import bftledger.pbft.Checkpoint;
import bftledger.pbft.Commit;
import bftledger.pbft.NewView;
import bftledger.pbft.Output;
import bftledger.pbft.PrePrepare;
import bftledger.pbft.Prepare;
import bftledger.pbft.Signed;
import bftledger.pbft.ViewChange;

/** Short human-readable forms of messages and outputs for traces. */
final class Describe {
    private Describe() {}

    static String message(Signed<?> m) {
        Object p = m.payload();
        String body;
        if (p instanceof PrePrepare x) {
            body = "PRE-PREPARE v" + x.view() + " s" + x.sequence() + " " + x.digest().shortHex() + " ("
                    + x.batch().requests().size() + " req)";
        } else if (p instanceof Prepare x) {
            body = "PREPARE v" + x.view() + " s" + x.sequence() + " " + x.digest().shortHex();
        } else if (p instanceof Commit x) {
            body = "COMMIT v" + x.view() + " s" + x.sequence() + " " + x.digest().shortHex();
        } else if (p instanceof Checkpoint x) {
            body = "CHECKPOINT s" + x.sequence() + " " + x.stateDigest().shortHex();
        } else if (p instanceof ViewChange x) {
            body = "VIEW-CHANGE to v" + x.newView() + " stable s" + x.stableSequence() + " P=" + x.prepared().size();
        } else if (p instanceof NewView x) {
            body = "NEW-VIEW v" + x.view() + " V=" + x.viewChanges().size() + " O=" + x.prePrepares().size();
        } else if (p instanceof bftledger.pbft.Status x) {
            body = "STATUS v" + x.view() + (x.viewActive() ? "" : " changing") + " h=" + x.lowWatermark() + " executed "
                    + x.lastExecuted();
        } else {
            body = String.valueOf(p);
        }
        return body + " by " + m.signer();
    }

    static String output(Output out) {
        StringBuilder b = new StringBuilder();
        if (!out.messages().isEmpty()) {
            b.append(" | sends");
            for (Output.Outbound o : out.messages()) {
                b.append(" [").append(o.broadcast() ? "*" : "->" + o.to()).append(" ")
                        .append(message(o.message())).append("]");
            }
        }
        if (!out.persist().isEmpty()) {
            b.append(" | persists ").append(out.persist().size());
        }
        if (!out.execute().isEmpty()) {
            b.append(" | executes");
            for (Output.CommittedBatch c : out.execute()) {
                b.append(" s").append(c.sequence()).append("(").append(c.requests().size()).append(")");
            }
        }
        for (Output.StateTransferRequest t : out.stateTransfer()) {
            b.append(" | state transfer to s").append(t.sequence());
        }
        for (Output.Evidence e : out.evidence()) {
            b.append(" | EVIDENCE against ").append(e.replica()).append(" ").append(e.type()).append(" v")
                    .append(e.view()).append(" s").append(e.sequence());
        }
        for (Output.Rejection r : out.rejections()) {
            b.append(" | rejects ").append(r.reason()).append(" (").append(r.detail()).append(")");
        }
        return b.toString();
    }
}
