package bftledger.sdk;

import java.net.InetAddress;
import java.util.Map;
import java.util.TreeMap;

/**
 * How a client reaches the replicas, beyond what genesis and the validator sets since say. Nothing
 * here changes whom the client trusts: that is genesis (validator keys, and the TLS CA it names) and
 * the sets it approved.
 *
 * @param plaintext connect without TLS. Accepted only for a network whose genesis names no TLS
 *                  CA, and only when asked for explicitly ({@link Network#withPlaintext()}, CLI
 *                  {@code --plaintext}); a TLS network refuses it (see NetworkTlsTest#plaintextIsNeverASilentFallback).
 * @param overrides genesis's replica index to the {@code host:port} dialled instead of its genesis
 *                  address (a published container port, a tunnel). An override follows that
 *                  validator into later validator sets only while its key and address there are
 *                  genesis's; a validator genesis does not name is dialled at the address its set
 *                  gives ({@link Network#dialAddress(bftledger.ledger.ValidatorSets.ValidatorSet, int)},
 *                  pinned by ValidatorChangeTest#dialOverridesFollowAGenesisValidatorOnlyWhileItKeepsItsGenesisAddress).
 *                  Over TLS the replica's certificate is still checked against the host name of its
 *                  genesis address, so an override changes the route and never the identity (see
 *                  NetworkTlsTest#anOverrideStillChecksTheGenesisName).
 * @param source    the local address the client's connections leave from (a host with several),
 *                  or null for the system's choice. Replicas budget some things per client address
 *                  (call rates, bad signatures), so this is also which budget the client spends.
 */
public record Dialing(boolean plaintext, Map<Integer, String> overrides, InetAddress source) {
    /** TLS to the genesis addresses: what a client does unless told otherwise. */
    public static final Dialing DEFAULT = new Dialing(false, Map.of(), null);

    public Dialing(boolean plaintext, Map<Integer, String> overrides) {
        this(plaintext, overrides, null);
    }

    public Dialing {
        overrides = Map.copyOf(new TreeMap<>(overrides));
        for (Map.Entry<Integer, String> e : overrides.entrySet()) {
            if (e.getKey() < 0 || !validTarget(e.getValue())) {
                throw new IllegalArgumentException("a dial override maps a replica index (0 or more) to host:port; got "
                        + e.getKey() + "=" + e.getValue());
            }
        }
    }

    private static boolean validTarget(String target) {
        int colon = target == null ? -1 : target.lastIndexOf(':');
        if (colon <= 0 || colon == target.length() - 1) {
            return false;
        }
        try {
            int port = Integer.parseInt(target.substring(colon + 1));
            return port > 0 && port < 65536;
        } catch (NumberFormatException e) {
            return false;
        }
    }
}
