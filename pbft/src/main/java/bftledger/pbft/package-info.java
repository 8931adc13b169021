/**
 * The PBFT consensus core (Castro and Liskov, OSDI 1999 / TOCS 2002) as a pure state machine.
 *
 * <p>How the pieces fit, from the network inward:
 * <ol>
 *   <li>{@link bftledger.pbft.MessageCodec} parses peer bytes (size bound first) into a
 *       {@link bftledger.pbft.Signed} payload that keeps the bytes as received;</li>
 *   <li>{@link bftledger.pbft.MessageVerifier}, stateless and run on a pool outside the core,
 *       accepts or rejects it with a {@link bftledger.pbft.RejectReason};</li>
 *   <li>{@link bftledger.pbft.Replica#step} takes the accepted message (or a client request,
 *       tick, execution report, or state-transfer report) and returns an
 *       {@link bftledger.pbft.Output}: persist, then send, then execute;</li>
 *   <li>{@link bftledger.pbft.PersistCodec} stores the persist records in the node's WAL and
 *       {@link bftledger.pbft.Replica#restore} rebuilds a replica from them.</li>
 * </ol>
 * {@link bftledger.pbft.MessageFactory} signs arbitrary messages as a given replica; Byzantine
 * strategies use it to craft conflicting messages.
 */
package bftledger.pbft;
