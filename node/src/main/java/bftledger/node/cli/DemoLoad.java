package bftledger.node.cli;

import bftledger.crypto.KeyPair;
import bftledger.ledger.proto.Receipt;
import bftledger.node.config.Keys;
import bftledger.sdk.Committed;
import bftledger.sdk.LedgerClient;
import bftledger.sdk.LedgerClientException;
import bftledger.ledger.proto.SignedTransaction;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * The demo's workload through the SDK: signed transfers among the network's demo accounts
 * (round robin, account i pays account i+1) and optionally one record put, one at a time, each
 * shown with its proven receipt: transaction id, height, status, and how the SDK proved it
 * (f+1 matching signed replies, or one replica's commit certificate and inclusion proof).
 */
@Command(name = "demo-load", mixinStandardHelpOptions = true,
        description = "Submit signed transfers (and a record put) among the demo accounts of a local network and show each proven receipt.")
final class DemoLoad extends NetworkCommand {
    @Option(names = "--accounts", defaultValue = "localnet/accounts",
            description = "Directory of the demo account key files, account*.key (default: ${DEFAULT-VALUE}).")
    Path accounts;
    @Option(names = "--transfers", defaultValue = "5", description = "How many transfers (default: ${DEFAULT-VALUE}).")
    int transfers;
    @Option(names = "--amount", defaultValue = "10", description = "Amount of each transfer (default: ${DEFAULT-VALUE}).")
    long amount;
    @Option(names = "--put", description = "Also put one record, KEY=VALUE, signed by the first account.")
    String put;

    @Override
    public Integer call() throws Exception {
        List<KeyPair> keys = readAccounts();
        if (keys.size() < 2) {
            throw new UserError("need at least two account*.key files in " + accounts + " (bftledger init makes them).");
        }
        if (transfers < 0 || amount <= 0) {
            throw new UserError("--transfers must be >= 0 and --amount > 0.");
        }
        PrintWriter out = spec.commandLine().getOut();
        List<Object> receipts = new ArrayList<>();
        int failed = 0;
        try (LedgerClient client = LedgerClient.connect(net.network())) {
            for (int i = 0; i < transfers + (put != null ? 1 : 0); i++) {
                String what;
                SignedTransaction tx;
                if (i < transfers) {
                    KeyPair from = keys.get(i % keys.size());
                    KeyPair to = keys.get((i + 1) % keys.size());
                    what = "transfer " + amount + " account" + (i % keys.size()) + " -> account" + ((i + 1) % keys.size());
                    tx = client.transactions().transfer(from, to.publicKey(), amount);
                } else {
                    int eq = put.indexOf('=');
                    if (eq <= 0) {
                        throw new UserError("--put takes KEY=VALUE, got " + put);
                    }
                    what = "put record " + put.substring(0, eq) + " by account0";
                    tx = client.transactions().put(keys.get(0), put.substring(0, eq),
                            put.substring(eq + 1).getBytes(StandardCharsets.UTF_8));
                }
                Map<String, Object> row = new LinkedHashMap<>();
                row.put("what", what);
                try {
                    Committed c = client.submit(tx, net.timeout());
                    row.putAll(SubmitCommand.json(c));
                    row.put("proven_by", c.byProof() ? "certificate+inclusion-proof" : "f+1-signed-replies");
                    if (c.receipt().getStatus() != Receipt.Status.SUCCESS) {
                        failed++;
                    }
                    if (!json.json) {
                        out.printf("%-36s tx %s  height %-5d %-8s proven by %s%n", what, c.txId().shortHex(), c.height(),
                                c.receipt().getStatus(), c.evidence());
                        out.flush();
                    }
                } catch (LedgerClientException e) {
                    failed++;
                    row.put("error", e.getMessage());
                    if (!json.json) {
                        out.printf("%-36s FAILED: %s%n", what, e.getMessage());
                        out.flush();
                    }
                }
                receipts.add(row);
            }
        }
        if (json.json) {
            CommandOutput.print(spec, true, CommandOutput.fields("receipts", receipts, "failed", failed), "");
        } else {
            out.println((receipts.size() - failed) + " of " + receipts.size() + " transactions committed and proven");
        }
        return failed == 0 ? 0 : 1;
    }

    private List<KeyPair> readAccounts() throws Exception {
        List<Path> files;
        try (Stream<Path> s = Files.list(accounts)) {
            files = s.filter(p -> p.getFileName().toString().matches("account\\d+\\.key"))
                    .sorted((a, b) -> Integer.compare(index(a), index(b))).toList();
        } catch (IOException e) {
            throw new UserError("cannot read " + accounts + ": " + e.getMessage());
        }
        List<KeyPair> out = new ArrayList<>();
        for (Path f : files) {
            out.add(Keys.read(f));
        }
        return out;
    }

    private static int index(Path p) {
        return Integer.parseInt(p.getFileName().toString().replaceAll("\\D", ""));
    }
}
