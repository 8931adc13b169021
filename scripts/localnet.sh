#!/usr/bin/env bash
# A local bftledger network on loopback: N node processes, one directory.
#
#   scripts/localnet.sh up     [--nodes N] [--dir D]   build if needed, init (once), start, wait until ready
#   scripts/localnet.sh down   [--dir D]               stop exactly the processes `up` started (by pid file)
#   scripts/localnet.sh status [--dir D]               every node's view, height, primary, peers
#   scripts/localnet.sh logs   [--dir D]               follow the node logs
#   scripts/localnet.sh start-node I [--dir D]         start nodeI alone (scripts/reconfigure.sh uses it)
#
# Layout of D (default ./localnet): genesis.bin, accounts/*.key, nodeI/{node.properties,node.key,data/},
# run/nodeI.pid, logs/nodeI.log.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cli="$root/scripts/bftledger"
jar="$root/node/target/bftledger.jar"

cmd="${1:-}"
[[ -n "$cmd" ]] && shift || true
node_arg=""
if [[ "$cmd" == start-node ]]; then
  node_arg="${1:?start-node needs a node number}"
  shift
fi
nodes=4
dir="localnet"
ready_timeout=120
while [[ $# -gt 0 ]]; do
  case "$1" in
    --nodes) nodes="$2"; shift 2 ;;
    --dir) dir="$2"; shift 2 ;;
    --timeout) ready_timeout="$2"; shift 2 ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) echo "unknown option $1; see $0 --help" >&2; exit 2 ;;
  esac
done
mkdir -p "$dir"
dir="$(cd "$dir" && pwd)"

# shellcheck source=lib/node-jvm.sh
source "$root/scripts/lib/node-jvm.sh"

alive() { [[ -f "$1" ]] && kill -0 "$(cat "$1")" 2>/dev/null; }
# Every node answers; after scripts/reconfigure.sh removed genesis nodes, the validator sets are
# proven instead (status asks genesis's nodes).
ready() {
  "$cli" status --genesis "$dir/genesis.bin" --timeout 3s $(transport) >/dev/null 2>&1 && return 0
  compgen -G "$dir/removed-node*" >/dev/null &&
    "$cli" validators status --genesis "$dir/genesis.bin" --timeout 3s $(transport) >/dev/null 2>&1
}
# A network made with `init --plaintext` is reached without TLS, which clients must be told.
transport() { grep -qs '^tls.plaintext=true' "$dir/node0/node.properties" && echo --plaintext || true; }

build() {
  if [[ ! -f "$jar" ]]; then
    echo "building $jar ..."
    (cd "$root" && mvn -B -q -pl node -am package -DskipTests)
  fi
}

up() {
  build
  if [[ ! -f "$dir/genesis.bin" ]]; then
    "$cli" init --nodes "$nodes" --dir "$dir"
  else
    nodes=$(ls -d "$dir"/node[0-9]* | wc -l)
    echo "using the existing network in $dir ($nodes nodes)"
  fi
  node_jvm_select
  local started=()
  for node_dir in "$dir"/node[0-9]*/; do
    i="${node_dir%/}"
    i="${i##*/node}"
    start_node "$i"
    started+=("$i")
  done
  echo "waiting for all $nodes nodes to answer status (up to ${ready_timeout}s) ..."
  deadline=$((SECONDS + ready_timeout))
  until ready; do
    for i in "${started[@]}"; do
      if ! alive "$dir/run/node$i.pid"; then
        echo "node$i exited; last log lines:" >&2
        tail -n 20 "$dir/logs/node$i.log" >&2
        exit 1
      fi
    done
    if ((SECONDS >= deadline)); then
      echo "the network did not become ready in ${ready_timeout}s; see $dir/logs/" >&2
      exit 1
    fi
    sleep 1
  done
  "$cli" status --genesis "$dir/genesis.bin" $(transport) || true   # a removed genesis node shows DOWN
  cat <<USAGE

The network is up. Try:
  scripts/bftledger transfer --genesis $dir/genesis.bin --key $dir/accounts/account0.key --to $dir/accounts/account1.key --amount 10
  scripts/bftledger account show --genesis $dir/genesis.bin --account $dir/accounts/account1.key
  scripts/bftledger status --genesis $dir/genesis.bin
  curl -s 127.0.0.1:9100/metrics | grep ^bftledger
  scripts/localnet.sh down --dir $dir      (then: scripts/bftledger audit --data $dir/node0/data --genesis $dir/genesis.bin)
USAGE
}

# Starts nodeI unless it runs already. Started directly so the pid file holds the JVM's own pid;
# the JVM and its flags are scripts/lib/node-jvm.sh's. BFTLEDGER_NODE_JAVA_OPTS adds JVM flags
# (e.g. a JFR recording for scripts/bench.sh profiling). BFTLEDGER_NODE_AOT_RECORD=D makes each
# node write an AOT cache to D/nodeI.aot when it exits (scripts/aot-cache.sh's training run). A
# node a validator-set change added (scripts/reconfigure.sh marks it with a file named `joining`)
# starts with --join: it follows the chain until its set takes over.
start_node() {
  local i="$1" pidfile="$dir/run/node$1.pid"
  mkdir -p "$dir/run" "$dir/logs"
  if alive "$pidfile"; then
    echo "node$i already running (pid $(cat "$pidfile"))"
    return
  fi
  local opts=() opt extra=()
  for opt in "${node_jvm_opts[@]}"; do
    # A training run records a new cache rather than starting from the old one.
    [[ -n "${BFTLEDGER_NODE_AOT_RECORD:-}" && "$opt" == -XX:AOTCache=* ]] || opts+=("$opt")
  done
  if [[ -n "${BFTLEDGER_NODE_AOT_RECORD:-}" ]]; then
    opts+=("-XX:AOTCacheOutput=$BFTLEDGER_NODE_AOT_RECORD/node$i.aot")
  fi
  [[ -f "$dir/node$i/joining" ]] && extra+=(--join)
  # shellcheck disable=SC2086
  nohup "$node_java" "${node_jvm_base_opts[@]}" "${opts[@]}" ${BFTLEDGER_NODE_JAVA_OPTS:-} \
    -jar "$jar" node start --config "$dir/node$i/node.properties" "${extra[@]}" >>"$dir/logs/node$i.log" 2>&1 &
  echo $! >"$pidfile"
  echo "started node$i (pid $!, log $dir/logs/node$i.log)"
}

down() {
  shopt -s nullglob
  local pids=()
  for pidfile in "$dir"/run/node*.pid; do
    if alive "$pidfile"; then
      pid="$(cat "$pidfile")"
      kill -TERM "$pid"
      pids+=("$pid")
      echo "stopping $(basename "$pidfile" .pid) (pid $pid)"
    fi
  done
  for pid in "${pids[@]}"; do
    for _ in $(seq 1 50); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.2
    done
    if kill -0 "$pid" 2>/dev/null; then
      echo "pid $pid did not stop after SIGTERM; sending SIGKILL" >&2
      kill -KILL "$pid" || true
    fi
  done
  rm -f "$dir"/run/node*.pid
  echo "stopped ${#pids[@]} node(s)"
}

case "$cmd" in
  up) up ;;
  down) down ;;
  status) "$cli" status --genesis "$dir/genesis.bin" $(transport) ;;
  logs) tail -n 50 -F "$dir"/logs/node*.log ;;
  start-node) build; node_jvm_select; start_node "$node_arg" ;;
  *) sed -n '2,12p' "$0"; exit 2 ;;
esac
