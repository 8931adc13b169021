#!/usr/bin/env bash
# A chaos run: the bank workload on a fresh 4-node network while one node at a time is killed,
# paused, partitioned away, turned Byzantine, or stopped with its WAL or transaction index damaged
# and started again (it rejoins without voting after a WAL damage: rejoin.non.voting=true), then
# audits and availability figures.
#
#   scripts/chaos.sh --duration S [--seed N] [--dir D] [--loopback]
#
# --duration S  seconds of workload (at least 10); faults run during it, one at a time
# --seed N      the fault schedule's and workload's seed (default: random, printed); same seed,
#               same schedule
# --dir D       the network's directory (default target/chaos/run-<time>); must be new or empty
# --loopback    do not use network namespaces even if available (partitions then become SIGSTOP,
#               said so in the output)
#
# Needs root for namespaces (partitions are iptables cuts inside them); without, it runs on
# loopback. Builds network-tests/target/bftledger-byzantine.jar if missing or older than the
# sources. Prints the fault timeline, per-second commits, latencies and the checks; the last
# line is exactly `availability <percent>%, longest gap <seconds> s, acked <n>, lost <m>`.
# Exit 0 when nothing acknowledged was lost and every check passed, 1 otherwise, 2 on usage.
# Teardown always happens (trap): the runner's JVM by pid (it stops the nodes it started by
# their handles), and the namespace network by its name.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
jar="$root/network-tests/target/bftledger-byzantine.jar"
duration=""
seed=""
dir=""
loopback=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --duration) duration="$2"; shift 2 ;;
    --seed) seed="$2"; shift 2 ;;
    --dir) dir="$2"; shift 2 ;;
    --loopback) loopback=1; shift ;;
    -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
    *) echo "unknown option $1; see $0 --help" >&2; exit 2 ;;
  esac
done
[[ "$duration" =~ ^[0-9]+$ ]] && ((duration >= 10)) || { echo "--duration S (seconds, at least 10) is required" >&2; exit 2; }
[[ -z "$seed" || "$seed" =~ ^-?[0-9]+$ ]] || { echo "--seed must be an integer" >&2; exit 2; }
seed="${seed:-$((RANDOM * 32768 + RANDOM))}"
dir="${dir:-$root/target/chaos/run-$(date -u +%Y%m%dT%H%M%SZ)}"
if [[ -d "$dir" && -n "$(ls -A "$dir")" ]]; then
  echo "$dir is not empty; a chaos run needs a fresh network directory" >&2
  exit 2
fi
mkdir -p "$dir"
dir="$(cd "$dir" && pwd)"

# Build when the jar is missing or any module source is newer than it.
if [[ ! -f "$jar" ]] || [[ -n "$(find "$root"/{crypto,ledger,pbft,node,client-sdk,network-tests}/src/main "$root"/*/pom.xml "$root/pom.xml" -newer "$jar" -print -quit 2>/dev/null)" ]]; then
  echo "building $jar (log $dir/build.log) ..."
  if ! (cd "$root" && mvn -B -q -pl network-tests -am package -DskipTests) >"$dir/build.log" 2>&1; then
    tail -n 30 "$dir/build.log" >&2
    echo "build failed; see $dir/build.log" >&2
    exit 1
  fi
fi

# Namespace network name: ours alone (pid-based), at most 24 characters of [A-Za-z0-9_].
netns_name="chaos$$"
netns_args=()
if [[ -z "$loopback" ]]; then
  netns_args=(--netns-name "$netns_name")
fi

runner_pid=""
teardown() {
  local rc=$?
  trap - EXIT INT TERM
  if [[ -n "$runner_pid" ]] && kill -0 "$runner_pid" 2>/dev/null; then
    # The runner's children (node JVMs, the client relay) by pid, before it goes: if it has to be
    # SIGKILLed its shutdown hook does not run and they would be left behind.
    local children
    children="$(pgrep -P "$runner_pid" 2>/dev/null || true)"
    # SIGTERM runs the runner's shutdown hook, which stops the nodes it started and removes the namespaces.
    kill -TERM "$runner_pid" 2>/dev/null || true
    for _ in $(seq 1 300); do kill -0 "$runner_pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$runner_pid" 2>/dev/null && kill -KILL "$runner_pid" 2>/dev/null || true
    local p
    for p in $children; do
      kill -0 "$p" 2>/dev/null && kill -KILL "$p" 2>/dev/null || true
    done
  fi
  if [[ -z "$loopback" ]] && ip netns list 2>/dev/null | grep -q "^$netns_name-"; then
    "$root/scripts/netns.sh" down --name "$netns_name" >/dev/null 2>&1 || true
  fi
  exit "$rc"
}
trap teardown EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

java -Xmx512m -XX:+UseSerialGC -XX:ActiveProcessorCount=2 \
  --add-opens java.base/java.nio=ALL-UNNAMED --add-opens java.base/sun.nio.ch=ALL-UNNAMED \
  -cp "$jar" bftledger.chaos.ChaosMain --duration "$duration" --seed "$seed" --dir "$dir" \
  ${loopback:+--loopback} "${netns_args[@]}" 2>"$dir/chaos.err" &
runner_pid=$!
set +e
wait "$runner_pid"
rc=$?
set -e
runner_pid=""
if ((rc != 0)) && [[ -s "$dir/chaos.err" ]]; then
  echo "runner stderr (last lines; all in $dir/chaos.err):" >&2
  tail -n 20 "$dir/chaos.err" >&2
fi
exit "$rc"
