/**
 * The scenario suite's harness, in the spirit of Jepsen: real node processes, a workload, a fault,
 * a checker.
 *
 * <ul>
 *   <li>{@link bftledger.scenario.ScenarioCluster}: n node JVMs on loopback, behind one
 *       {@link bftledger.netfault.FaultProxy} each, or each in its own host of a
 *       {@link bftledger.netfault.NetnsNetwork} (reached through {@link bftledger.scenario.UnixRelay}
 *       in a client host); honest or Byzantine ({@code bftledger.byzantine.ByzantineNodeMain});
 *       twins (the same identities twice, in two networks); kill -9, SIGSTOP/SIGCONT, restart.</li>
 *   <li>{@link bftledger.scenario.BankWorkload}: concurrent signed transfers among funded accounts
 *       through the SDK, recording every acknowledged (proven) and every ambiguous outcome.</li>
 *   <li>{@link bftledger.scenario.BankChecker}: progress after the fault, one height and tip,
 *       identical blocks, acknowledged transactions present, money conserved and never negative,
 *       evidence, and offline over stopped nodes' data directories the full audit and block-by-block
 *       comparison; every failure names the check, the nodes and the heights.</li>
 * </ul>
 *
 * <p>The scenarios are the {@code bftledger.scenario.*Test} classes of this module's tests; run them
 * with {@code mvn -B -q -o -pl network-tests -am test -Dtest='bftledger.scenario.*Test'
 * -Dsurefire.failIfNoSpecifiedTests=false}. Namespace scenarios need root, iproute2 and iptables
 * and are skipped with the reason otherwise. Replay a run with {@code -Dbftledger.seed=N}.
 */
package bftledger.scenario;
