package bftledger.sdk;

import bftledger.crypto.Digest;

/**
 * An answer that verified against genesis: {@code value} as of the certified header at
 * {@code height} (hash {@code blockHash}), given by {@code replica}.
 */
public record Proven<T>(T value, long height, Digest blockHash, int replica) {}
