#!/usr/bin/env bash
# Makes the nodes' AOT cache for the JDK 25 or newer they run on (scripts/lib/node-jvm.sh): a
# training run of a throwaway 4-node network under the benchmark's load (transfers and records),
# stopped with SIGTERM, after which each JVM writes what it loaded, linked and profiled; one
# node's cache is kept as node/target/aot/node-java<version>.aot, and the load generator's as
# bench-java<version>.aot. Nodes started later by localnet.sh, and bench.sh's load generator,
# use them while they are newer than the jar (a rebuild needs new ones).
#
#   scripts/aot-cache.sh [--seconds S]     S seconds of load, default 60
#
# Takes about S + 60 seconds. Does nothing, and says so, when no JDK 25 or newer is found.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
jar="$root/node/target/bftledger.jar"
seconds=60
while [[ $# -gt 0 ]]; do
  case "$1" in
    --seconds) seconds="$2"; shift 2 ;;
    -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
    *) echo "unknown option $1; see $0 --help" >&2; exit 2 ;;
  esac
done
# shellcheck source=lib/node-jvm.sh
source "$root/scripts/lib/node-jvm.sh"
if [[ ! -f "$jar" ]]; then
  echo "building $jar ..." >&2
  (cd "$root" && mvn -B -q -pl node -am package -DskipTests) >&2
fi
node_jvm_select
if [[ -z "$node_aot" ]]; then
  echo "no AOT cache: the nodes run on Java $node_java_major ($node_java); an AOT cache needs JDK 25 or newer" \
    "(install one, or point BFTLEDGER_NODE_JAVA at it)" >&2
  exit 0
fi

dir="$(mktemp -d "${TMPDIR:-/tmp}/bftledger-aot.XXXXXX")"
pids=()
cleanup() {
  set +e
  for pid in "${pids[@]}"; do kill -KILL "$pid" 2>/dev/null; done
  rm -rf "$dir"
}
trap cleanup EXIT INT TERM

started=$SECONDS
base_port=$((17100 + ($$ % 500) * 12))
"$root/scripts/bftledger" init --nodes 4 --dir "$dir" --base-port "$base_port" --accounts 512 --plaintext >/dev/null
mkdir -p "$dir/aot"
echo "training the AOT cache for Java $node_java_major: 4 nodes, ${seconds}s of load ..." >&2
BFTLEDGER_NODE_AOT_RECORD="$dir/aot" "$root/scripts/localnet.sh" up --dir "$dir" --timeout 180 >"$dir/up.log" 2>&1 \
  || { cat "$dir/up.log" >&2; exit 1; }
mapfile -t pids < <(cat "$dir"/run/node*.pid)
bench_opts=()
for opt in "${bench_jvm_opts[@]}"; do [[ "$opt" == -XX:AOTCache=* ]] || bench_opts+=("$opt"); done
"$node_java" "${bench_jvm_base_opts[@]}" "${bench_opts[@]}" "-XX:AOTCacheOutput=$dir/aot/bench.aot" \
  -jar "$jar" bench --network "$dir" --clients 512 --mix mixed --duration "${seconds}s" --warmup 5s --plaintext \
  >"$dir/load.log" 2>&1 || { tail -n 20 "$dir/load.log" >&2; exit 1; }
# Each JVM writes its cache as it exits, which takes a while on shared cores: wait, not SIGKILL.
kill -TERM "${pids[@]}"
for pid in "${pids[@]}"; do
  for _ in $(seq 1 600); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.5
  done
done
pids=()
made="$dir/aot/node0.aot"
if [[ ! -s "$made" || ! -s "$dir/aot/bench.aot" ]]; then
  echo "the training run wrote no AOT cache; node0's log and the load's output end with:" >&2
  tail -n 20 "$dir/logs/node0.log" "$dir/load.log" >&2
  exit 1
fi
mkdir -p "$(dirname "$node_aot")"
mv "$made" "$node_aot.tmp"
mv "$dir/aot/bench.aot" "$bench_aot.tmp"
mv "$node_aot.tmp" "$node_aot"
mv "$bench_aot.tmp" "$bench_aot"
echo "wrote $node_aot ($(du -h "$node_aot" | cut -f1)) and $bench_aot in $((SECONDS - started)) s" >&2
