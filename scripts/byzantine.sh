#!/usr/bin/env bash
# Turn one node of a running local network (scripts/localnet.sh) into a Byzantine adversary, or back.
#
#   scripts/byzantine.sh NODE STRATEGY [--dir D] [--seed N]   restart node NODE with that strategy
#   scripts/byzantine.sh NODE honest   [--dir D]              restart node NODE as a normal node
#   scripts/byzantine.sh --list                               the strategies, one line each
#
# The adversary is the real node (same key, same data directory, same ports) with one of the
# simulator's strategies (network-tests, package bftledger.sim) applied to everything it sends.
# Exactly node NODE's pid (D/run/nodeNODE.pid) is stopped; the new process gets the same pid file
# (so `scripts/localnet.sh down` stops it too) and appends to D/logs/nodeNODE.log.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
node_jar="$root/node/target/bftledger.jar"
byz_jar="$root/network-tests/target/bftledger-byzantine.jar"
jvm=(java -Xmx256m -XX:+UseSerialGC -XX:ActiveProcessorCount=1
  --add-opens java.base/java.nio=ALL-UNNAMED --add-opens java.base/sun.nio.ch=ALL-UNNAMED)

build() {
  if [[ ! -f "$byz_jar" || ! -f "$node_jar" ]]; then
    echo "building $byz_jar ..." >&2
    (cd "$root" && mvn -B -q -pl network-tests -am package -DskipTests) >&2
  fi
}

usage() { sed -n '2,12p' "$0"; }

if [[ "${1:-}" == "--list" ]]; then
  build
  echo "honest             a normal node again (restores NODE)"
  exec "${jvm[@]}" -jar "$byz_jar" --list
fi
if [[ $# -lt 2 || "${1:-}" == -h || "${1:-}" == --help ]]; then
  usage
  [[ "${1:-}" == -h || "${1:-}" == --help ]] && exit 0 || exit 2
fi
node="$1"
strategy="$2"
shift 2
dir="localnet"
seed=""
ready_timeout=60
while [[ $# -gt 0 ]]; do
  case "$1" in
    --dir) dir="$2"; shift 2 ;;
    --seed) seed="$2"; shift 2 ;;
    --timeout) ready_timeout="$2"; shift 2 ;;
    *) echo "unknown option $1; see $0 --help" >&2; exit 2 ;;
  esac
done
[[ "$node" =~ ^[0-9]+$ ]] || { echo "NODE must be a node number (0, 1, ...), got '$node'" >&2; exit 2; }
dir="$(cd "$dir" 2>/dev/null && pwd)" || { echo "no network directory $dir; start one with scripts/localnet.sh up" >&2; exit 1; }
config="$dir/node$node/node.properties"
pidfile="$dir/run/node$node.pid"
log="$dir/logs/node$node.log"
[[ -f "$config" ]] || { echo "no node$node in $dir (missing $config)" >&2; exit 1; }
build
if [[ "$strategy" != honest ]] && ! "${jvm[@]}" -jar "$byz_jar" --list | awk '{print $1}' | grep -qx -- "$strategy"; then
  echo "unknown strategy '$strategy'; scripts/byzantine.sh --list shows them" >&2
  exit 2
fi
mkdir -p "$dir/run" "$dir/logs"

# Stop exactly this node's process, by its pid file.
if [[ -f "$pidfile" ]] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
  pid="$(cat "$pidfile")"
  kill -TERM "$pid"
  for _ in $(seq 1 100); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    echo "node$node (pid $pid) did not stop after SIGTERM; sending SIGKILL" >&2
    kill -KILL "$pid" || true
    while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
  fi
  echo "stopped node$node (pid $pid)"
else
  echo "node$node was not running"
fi

offset=$(stat -c %s "$log" 2>/dev/null || echo 0)
if [[ "$strategy" == honest ]]; then
  echo "=== $(date -u +%FT%TZ) node$node restarted as an honest node" >>"$log"
  nohup "${jvm[@]}" -jar "$node_jar" node start --config "$config" >>"$log" 2>&1 &
else
  echo "=== $(date -u +%FT%TZ) node$node restarted as a BYZANTINE node: $strategy" >>"$log"
  nohup "${jvm[@]}" -jar "$byz_jar" --config "$config" --strategy "$strategy" ${seed:+--seed "$seed"} >>"$log" 2>&1 &
fi
pid=$!
echo "$pid" >"$pidfile"
echo "$strategy" >"$dir/run/node$node.mode"

# Ready when the new process says it serves (the line comes after the gRPC server is listening).
deadline=$((SECONDS + ready_timeout))
until tail -c +"$((offset + 1))" "$log" | grep -q "serving on port"; do
  if ! kill -0 "$pid" 2>/dev/null; then
    echo "node$node exited while starting; last log lines:" >&2
    tail -n 20 "$log" >&2
    rm -f "$pidfile"
    exit 1
  fi
  if ((SECONDS >= deadline)); then
    echo "node$node did not become ready in ${ready_timeout}s; see $log" >&2
    exit 1
  fi
  sleep 0.2
done
if [[ "$strategy" == honest ]]; then
  echo "node$node is an honest node again (pid $pid, log $log)"
else
  echo "node$node is now BYZANTINE: $strategy (pid $pid, log $log)"
fi
