/**
 * The adversary harness's deterministic half: a simulator for the {@code pbft} core and the
 * Byzantine strategies.
 *
 * <ul>
 *   <li>{@link bftledger.sim.ByzantineStrategy}: a function over what a replica's (honest) core is
 *       about to send, returning the {@link bftledger.sim.Send}s actually put on the wire; plus an
 *       inbound filter for client requests and a "hears" filter for twins. Built by name with
 *       {@link bftledger.sim.Strategies#create} from a {@link bftledger.sim.StrategyContext} (the
 *       replica's id, key, {@code MessageFactory}, {@code Config} and a seeded generator). A
 *       Byzantine node process wraps its core's output the same way: for each outbound message and
 *       destination call {@code onSend}, send each result after {@code delayTicks} ticks; filter
 *       client requests with {@code admitRequest}; drop peers for which {@code hears} is false.</li>
 *   <li>{@link bftledger.sim.Simulation} runs one {@link bftledger.sim.Scenario} (drawn from a seed)
 *       over a {@link bftledger.sim.Network} in virtual time and returns a
 *       {@link bftledger.sim.SimResult}; {@link bftledger.sim.Checkers} are the properties checked.</li>
 *   <li>{@link bftledger.sim.Membership}: validator-set changes in a run (who is in each set, how a
 *       change is written as a request, where it hands over); a Byzantine identity that leaves the
 *       set turns {@link bftledger.sim.Ghost}.</li>
 *   <li>{@link bftledger.sim.SimulateMain} is {@code scripts/simulate.sh}.</li>
 * </ul>
 */
package bftledger.sim;
