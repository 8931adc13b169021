/**
 * Fault injection on real processes, for the scenario suite that runs node JVMs.
 *
 * <ul>
 *   <li>{@link bftledger.netfault.NetnsNetwork}: hosts as network namespaces with their own
 *       addresses (scripts/netns.sh is the one implementation); run a node on host i with
 *       {@code exec(i, ...)}; cut links with partition / oneway / isolate, lose packets with drop,
 *       undo everything with heal.</li>
 *   <li>{@link bftledger.netfault.NetnsSupport#check()}: why namespaces cannot be used here, so
 *       tests skip with that reason instead of failing or passing silently.</li>
 *   <li>{@link bftledger.netfault.Pauser}: SIGSTOP / SIGCONT / SIGKILL of processes the test
 *       started.</li>
 *   <li>{@link bftledger.netfault.FaultProxy}: latency with jitter, pauses, cuts and a rate limit
 *       on a TCP path, because this kernel has no netem. Put one in front of a node's listening
 *       port (in-process on loopback, or as its own JVM inside a namespace via its main) and point
 *       the peers at the proxy. Message duplication and reordering are not here: they need message
 *       boundaries and belong to the node-side transport interceptor.</li>
 * </ul>
 */
package bftledger.netfault;
