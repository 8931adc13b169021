package bftledger.api;

import io.grpc.Metadata;

/**
 * The parts of the client API that travel beside the messages of {@code api.proto}: gRPC
 * trailers a replica sets when it refuses a call. Replicas write them and clients read them, so
 * they live here, with the API's generated classes ({@code bftledger.api.proto}), and not in the
 * SDK: a replica depends on the API contract, never on the client that uses it.
 *
 * <p>A client in another language reads the same ASCII trailer names.
 */
public final class Wire {
    private Wire() {}

    /**
     * Why a replica refused a call, on every error it decides itself rather than one gRPC
     * reports for it: {@code in-flight-cap}, {@code queue-full} and {@code address-rate} from the
     * node's admission lanes, {@code sender-rate}, {@code waiters-full} and {@code core-queue-full}
     * when it sheds a submission, {@code no-quorum} when it cannot reach a quorum of peers.
     * Absent on a transport failure.
     */
    public static final Metadata.Key<String> REFUSAL_REASON = Metadata.Key.of("bftledger-refusal",
            Metadata.ASCII_STRING_MARSHALLER);

    /** Milliseconds the refused client should wait before asking this replica again (decimal ASCII). */
    public static final Metadata.Key<String> RETRY_AFTER_MILLIS = Metadata.Key.of("bftledger-retry-after-ms",
            Metadata.ASCII_STRING_MARSHALLER);
}
