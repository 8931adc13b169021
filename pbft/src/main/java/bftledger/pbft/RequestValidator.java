package bftledger.pbft;

import java.util.List;
import java.util.Optional;

/**
 * Checks a client request the core will order: the node plugs in the ledger's transaction
 * checks (id is the hash of the body, signature valid, chain id); tests plug in a simple signed
 * request. Called by {@link MessageVerifier} outside the core, possibly on many threads at once,
 * so implementations must be thread-safe and must not depend on replica state.
 */
@FunctionalInterface
public interface RequestValidator {
    /** Empty when the request is valid; otherwise why it is not (becomes the rejection detail). */
    Optional<String> problem(Request request);

    /**
     * {@link #problem} for each request, in order. Validators that can check many requests more
     * cheaply than one by one (client signatures verified as a batch) override this.
     */
    default List<Optional<String>> problems(List<Request> requests) {
        List<Optional<String>> problems = new java.util.ArrayList<>(requests.size());
        for (Request r : requests) {
            problems.add(problem(r));
        }
        return problems;
    }
}
