#!/usr/bin/env bash
# Benchmark a fresh local network: start it, measure this machine's ceiling, run the closed-loop
# load generator (`bftledger bench`), optionally inject a fault, print the results, tear down.
#
#   scripts/bench.sh [--nodes N] [--duration S] [--warmup S] [--clients C] [--mix transfer|put|mixed]
#                    [--fault none|silent|kill-primary|equivocate|forged-signatures] [--forged-rate R]
#                    [--forged-in-honest-calls]
#                    [--rate R] [--calls-in-flight K]
#                    [--node-setting KEY=VALUE ...] [--keep] [--base-port P] [--plaintext]
#                    [--no-aot-cache]
#
# TLS is on, as `bftledger init` makes networks (mutual TLS between nodes, clients checking the
# network CA); --plaintext measures the same network without TLS, to report what TLS costs.
# Ceiling = BouncyCastle Ed25519 verifications/s on all cores (crypto's SignatureBenchmark),
# divided by N: every replica must verify every client signature once. Measured in the same run,
# before the network carries load. The last line is exactly:
#   throughput <tx/s> tx/s, ceiling <tx/s> tx/s, ratio <achieved/ceiling>
#
# Clients default to 512. In a closed loop, throughput = clients / latency: each block carries
# about what clients sent while the previous one was being agreed on, and what a block costs
# (consensus signatures, durable writes, messages) is shared by its transactions, so more
# clients mean fuller blocks and a higher share of the ceiling at a longer tail. 512 is where
# the run shows what the machine can carry with p99 still near 100 ms (docs/performance.md has
# the figures at 256 and 512 clients).
#
# Warm-up defaults to 120 s: four fresh node JVMs sharing two cores keep their C2 JIT compilers
# busy for about two minutes, which a long-running replica does not. The per-thread CPU line
# shows what is left of it. Where a JDK 25 or newer is found the nodes run on it from an AOT
# cache (scripts/lib/node-jvm.sh), made once per build by scripts/aot-cache.sh before the run
# when missing; --no-aot-cache runs them without it. The run prints which JVM and cache it used.
#
# --node-setting sets a key of every node's node.properties (e.g. tuning.pipeline.depth.max=2);
# repeatable. The node refuses unknown keys and out-of-range values at start.
#
# The run also prints, per node, where each block's time went over the window (order: own vote
# to committed; execute: to durable; replies: durable to every waiting client answered; the core
# thread's WAL appends and PBFT steps), read from the nodes' bftledger_block_stage_seconds timers
# at both ends of the window, and each node's disk use at the end (its data directory and block
# store file; with --node-setting prune.keep.blocks=N, how far it pruned).
#
# Faults: silent = SIGSTOP one backup before the load (SIGCONT at teardown); kill-primary = kill -9
# the primary of view 0 (node0) halfway through the measured window and report the longest gap
# between two commits (the time until commits resumed); equivocate = node0 restarted by
# scripts/byzantine.sh as equivocate-primary (skipped, exit 3, when that script is absent);
# forged-signatures = besides the honest clients, --forged-rate R transactions per second (default
# 10% of --rate, else 300) carrying another body's valid signature, sent as an attacker does: its
# own connections to every replica from its own loopback address, 127.0.0.2, never backing off
# (it dials again at once when a replica closes or holds its connection)
# (--forged-in-honest-calls: inside the honest clients' calls, spoiling the replicas' signature
# batches); the run reports how many were sent and refused, and each node's
# client-BAD_SIGNATURE rejects, calls refused unread once the address spent its bad-signature
# budget, the address's connections held and closed meanwhile, and failed signature batches
# (from its /metrics).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cli="$root/scripts/bftledger"
jar="$root/node/target/bftledger.jar"

nodes=4
duration=30
warmup=120
clients=512
mix=transfer
fault=none
forged_rate=0
forged_shared=()
rate=0
calls=0
keep=0
plaintext=()
node_settings=()
base_port=$((17100 + ($$ % 500) * 12))
ceiling_seconds=5
while [[ $# -gt 0 ]]; do
  case "$1" in
    --nodes) nodes="$2"; shift 2 ;;
    --duration) duration="$2"; shift 2 ;;
    --warmup) warmup="$2"; shift 2 ;;
    --clients) clients="$2"; shift 2 ;;
    --mix) mix="$2"; shift 2 ;;
    --fault) fault="$2"; shift 2 ;;
    --forged-rate) forged_rate="$2"; shift 2 ;;
    --forged-in-honest-calls) forged_shared=(--forged-in-honest-calls); shift ;;
    --rate) rate="$2"; shift 2 ;;
    --calls-in-flight) calls="$2"; shift 2 ;;
    --node-setting) node_settings+=("$2"); shift 2 ;;
    --keep) keep=1; shift ;;
    --plaintext) plaintext=(--plaintext); shift ;;
    --base-port) base_port="$2"; shift 2 ;;
    --ceiling-seconds) ceiling_seconds="$2"; shift 2 ;;
    --no-aot-cache) export BFTLEDGER_NODE_AOT_CACHE=off; shift ;;
    -h|--help) sed -n '2,52p' "$0"; exit 0 ;;
    *) echo "unknown option $1; see $0 --help" >&2; exit 2 ;;
  esac
done
case "$fault" in none|silent|kill-primary|equivocate|forged-signatures) ;;
  *) echo "--fault must be none, silent, kill-primary, equivocate or forged-signatures" >&2; exit 2 ;; esac
# The nodes serve metrics: the bench reads their core-stage timers at both ends of the window,
# and the forged-signatures fault their reject counters.
metrics_base=$((base_port + 6000))
if [[ "$fault" == forged-signatures ]]; then
  if [[ "$forged_rate" == 0 ]]; then
    forged_rate=$(awk -v r="$rate" 'BEGIN { print (r > 0 ? r / 10 : 300) }')
  fi
elif [[ "$forged_rate" != 0 ]]; then
  echo "--forged-rate needs --fault forged-signatures" >&2; exit 2
fi
duration="${duration%s}"
warmup="${warmup%s}"

if [[ "$fault" == equivocate && ! -x "$root/scripts/byzantine.sh" ]]; then
  echo "fault 'equivocate' skipped: scripts/byzantine.sh is not in this tree (it comes with the Byzantine node launcher)." >&2
  exit 3
fi

if [[ ! -f "$jar" ]]; then
  echo "building $jar ..." >&2
  (cd "$root" && mvn -B -q -pl node -am package -DskipTests) >&2
fi
# shellcheck source=lib/node-jvm.sh
source "$root/scripts/lib/node-jvm.sh"
node_jvm_select
if [[ -n "$node_aot" && "${BFTLEDGER_NODE_AOT_CACHE:-on}" != off ]] \
    && ! { aot_fresh "$node_aot" && aot_fresh "$bench_aot"; }; then
  # Once per build, before anything is measured (see scripts/aot-cache.sh).
  "$root/scripts/aot-cache.sh" >&2
  node_jvm_select
fi
aot_used=none
for opt in "${node_jvm_opts[@]}"; do [[ "$opt" == -XX:AOTCache=* ]] && aot_used="${opt#-XX:AOTCache=}"; done

dir="$(mktemp -d "${TMPDIR:-/tmp}/bftledger-bench.XXXXXX")"
stopped_pid=""
teardown() {
  set +e
  if [[ -n "${killer:-}" ]]; then kill "$killer" 2>/dev/null; fi
  if [[ -n "$stopped_pid" ]]; then kill -CONT "$stopped_pid" 2>/dev/null; fi
  "$root/scripts/localnet.sh" down --dir "$dir" >/dev/null 2>&1
  if [[ "$keep" == 1 ]]; then echo "kept $dir" >&2; else rm -rf "$dir"; fi
}
trap teardown EXIT INT TERM

# Own ports and one funded account per client, so runs never collide with another local network.
accounts=$(( clients < 2 ? 2 : clients ))
"$cli" init --nodes "$nodes" --dir "$dir" --base-port "$base_port" --metrics-base-port "$metrics_base" --accounts "$accounts" "${plaintext[@]}" >/dev/null
for setting in "${node_settings[@]}"; do
  [[ "$setting" == *=* ]] || { echo "--node-setting wants KEY=VALUE, got '$setting'" >&2; exit 2; }
  for ((i = 0; i < nodes; i++)); do
    # Properties files: a later line for the same key wins.
    echo "$setting" >>"$dir/node$i/node.properties"
  done
done
"$root/scripts/localnet.sh" up --dir "$dir" --timeout 180 >"$dir/up.log" 2>&1 || { cat "$dir/up.log" >&2; exit 1; }
echo "network: $nodes nodes on 127.0.0.1:$base_port.. in $dir, TLS $([[ ${#plaintext[@]} -gt 0 ]] && echo off || echo on)," \
  "Java $node_java_major ($node_java), AOT cache: $aot_used" >&2

if [[ "$fault" == silent ]]; then
  victim=$((nodes - 1))   # a backup in view 0
  stopped_pid="$(cat "$dir/run/node$victim.pid")"
  kill -STOP "$stopped_pid"
  echo "fault: node$victim (pid $stopped_pid) stopped with SIGSTOP before the load" >&2
fi
if [[ "$fault" == equivocate ]]; then
  # The view-0 primary (node0) sends conflicting PRE-PREPAREs; the honest replicas must change view away from it.
  "$root/scripts/byzantine.sh" 0 equivocate-primary --dir "$dir" >&2
fi
if [[ "$fault" == kill-primary ]]; then
  primary_pid="$(cat "$dir/run/node0.pid")"
  ( sleep $((warmup + duration / 2)); kill -9 "$primary_pid" 2>/dev/null && echo "fault: killed primary node0 (pid $primary_pid) with SIGKILL at $((warmup + duration / 2)) s" >&2 ) &
  killer=$!
fi

pids="$(cat "$dir"/run/node*.pid | paste -sd, -)"
echo "load: $clients clients, mix $mix, ${warmup}s warm-up + ${duration}s measured; uptime: $(uptime)" >&2
# shellcheck disable=SC2086
"$node_java" "${bench_jvm_base_opts[@]}" "${bench_jvm_opts[@]}" ${BFTLEDGER_BENCH_JAVA_OPTS:-} \
  -jar "$jar" bench --network "$dir" --clients "$clients" --duration "${duration}s" --warmup "${warmup}s" \
  --mix "$mix" --rate "$rate" --calls-in-flight "$calls" --ceiling-seconds "$ceiling_seconds" --cpu-pids "$pids" \
  --forged-rate "$forged_rate" "${forged_shared[@]}" "${plaintext[@]}" --json >"$dir/bench.out"
# The JSON result is the last line (a JVM option such as a JFR recording may print before it).
tail -n 1 "$dir/bench.out" >"$dir/bench.json"
[[ -n "${killer:-}" ]] && wait "$killer" 2>/dev/null || true
echo "load average after the run: $(cut -d' ' -f1-3 /proc/loadavg)" >&2

r="$dir/bench.json"
jq -r '"bench: \(.nodes) nodes, \(.clients) clients, mix \(.mix), TLS \(if .tls then "on" else "off (--plaintext)" end), \(.duration_seconds) s measured",
  "  committed \(.committed) tx, \(.tx_per_second) tx/s, in \(.blocks) blocks (\(.tx_per_block) tx per block)",
  "  latency ms: p50 \(.latency_ms.p50)  p95 \(.latency_ms.p95)  p99 \(.latency_ms.p99)  max \(.latency_ms.max)",
  "  errors \(.errors) \(.errors_by_kind|tostring), failed receipts \(.failed_receipts)",
  "  commits per second: \(.commits_per_second_timeline|map(tostring)|join(" "))",
  "  warm-up: \(if .seconds_to_90_percent >= 0 then "90% of the steady \(.steady_commits_per_second) commits/s after \(.seconds_to_90_percent) s of load" else "never reached 90% of the steady \(.steady_commits_per_second) commits/s" end)",
  "  ceiling: \(.ceiling_verifications_per_second) Ed25519 verifications/s (BouncyCastle, one at a time) on \(.cores) cores / \(.nodes) replicas",
  "  (batched, as the nodes verify client signatures: \(.batch_verifications_per_second // "n/a") verifications/s on \(.cores) cores)",
  (if (.batch_verifications_per_second // 0) > 0 then (.batch_verifications_per_second / .nodes | floor) as $c
    | "  batch-verification ceiling: \($c) tx/s (batched verifications/s on all cores / \(.nodes) replicas), ratio \((.tx_per_second / $c * 100 | round) / 100)"
   else empty end)' "$r"
# CPU per committed transaction over the measured window hardly depends on what else shares the
# cores (tx/s does); n verifications per transaction is the floor the ceiling assumes.
jq -r '((.cpu_us_per_tx_nodes // 0) + (.cpu_us_per_tx_generator // 0)) as $per_tx
  | "  cpu per committed tx: nodes \(.cpu_us_per_tx_nodes) us"
  + (if (.cpu_nodes_counted // .nodes) < .nodes then " (the \(.cpu_nodes_counted) of \(.nodes) nodes alive through the window)" else "" end)
  + " + load generator \(.cpu_us_per_tx_generator) us;"
  + " the \(.nodes) verifications it needs cost \(.nodes * .ceiling_cpu_us_per_verification | round) us"
  + " (\(.ceiling_cpu_us_per_verification) us each): CPU-bound ratio estimate"
  + " \(if $per_tx > 0 then ((.nodes * .ceiling_cpu_us_per_verification / $per_tx * 100 | round) / 100) else 0 end)"' "$r"
# Where that CPU went, by thread family (from /proc: includes JIT compiler and GC threads).
jq -r 'if .cpu_us_per_tx_nodes_by_thread then "  node CPU per tx by thread (us, all nodes): "
  + (.cpu_us_per_tx_nodes_by_thread | to_entries | map("\(.key) \(.value)") | join(", ")) else empty end' "$r"
jq -r 'if .cpu_us_per_tx_generator_by_thread then "  load generator CPU per tx by thread (us): "
  + (.cpu_us_per_tx_generator_by_thread | to_entries | map("\(.key) \(.value)") | join(", ")) else empty end' "$r"
# Per block, where each node's core thread spent its time (node0 is the primary of view 0).
jq -r 'if .core_stages_ms_per_block then "  ms per block (order: own vote to committed; execute: to durable; replies: to answered; wal, steps: core thread):",
  (.core_stages_ms_per_block | to_entries[] | "    \(.key): \(.value.blocks) blocks, " + (.value | del(.blocks) | to_entries | map("\(.key) \(.value)") | join(", ")))
  else empty end' "$r"
if [[ "$fault" == kill-primary ]]; then
  echo "  kill-primary: commits resumed after $(jq -r .longest_commit_gap_ms "$r") ms (longest gap between two commits, ending at second $(jq -r .longest_commit_gap_ends_at_second "$r"))"
fi
if [[ "$fault" == equivocate ]]; then
  echo "  equivocate: node0 (view-0 primary) ran equivocate-primary; longest gap between two commits $(jq -r .longest_commit_gap_ms "$r") ms"
fi
if [[ "$fault" == silent ]]; then
  echo "  silent: node$victim was stopped for the whole run"
fi
if [[ "$fault" == forged-signatures ]]; then
  jq -r '.forged | "  forged-signatures: \(.rate_per_second)/s\(if .in_honest_calls then " in honest calls" else " from their own client and address, \(.calls_per_transaction) calls each" end), sent \(.sent),"
    + " refused BAD_SIGNATURE \(.refused_bad_signature), refused unread (address out of bad-signature budget) \(.refused_unread // 0),"
    + " refused at the connection \(.refused_connection // 0), committed \(.committed), other \(.other_outcomes|tostring)"' "$r"
  for ((i = 0; i < nodes; i++)); do
    m="$(curl -fsS "http://127.0.0.1:$((metrics_base + i))/metrics" 2>/dev/null || true)"
    bad=$(awk '/^bftledger_rejected_messages_total\{.*reason="client-BAD_SIGNATURE"/ { s += $NF } END { print s + 0 }' <<<"$m")
    failed=$(awk '/^bftledger_signature_batches_failed_total/ { s += $NF } END { print s + 0 }' <<<"$m")
    unread=$(awk '/^bftledger_shed_requests_total\{/ && /lane="submit"/ && /reason="bad-signatures"/ { s += $NF } END { print s + 0 }' <<<"$m")
    accepts=$(awk '/^bftledger_shed_requests_total\{/ && /lane="connection"/ && /reason="bad-signatures"/ { s += $NF } END { print s + 0 }' <<<"$m")
    closed=$(awk '/^bftledger_shed_requests_total\{/ && /lane="connection"/ && /reason="bad-signatures-closed"/ { s += $NF } END { print s + 0 }' <<<"$m")
    echo "    node$i: client-BAD_SIGNATURE rejects $bad, refused unread $unread, connections held $accepts and closed $closed, failed signature batches $failed"
  done
fi
# What the run left on disk, per node (compare runs with --node-setting prune.keep.blocks=N).
for ((i = 0; i < nodes; i++)); do
  m="$(curl -fsS "http://127.0.0.1:$((metrics_base + i))/metrics" 2>/dev/null || true)"
  height=$(awk '/^bftledger_height/ { print $NF + 0; exit }' <<<"$m")
  pruned=$(awk '/^bftledger_pruned_below_height/ { print $NF + 0; exit }' <<<"$m")
  data_kib=$(du -sk "$dir/node$i/data" 2>/dev/null | cut -f1)
  store_bytes=$(stat -c %s "$dir/node$i/data/ledger/data.mdb" 2>/dev/null || echo 0)
  echo "  disk node$i: height ${height:-?}, data directory $(( ${data_kib:-0} / 1024 )) MiB (du)," \
    "block store file $(( store_bytes / 1048576 )) MiB$([[ -n "$pruned" ]] && echo ", pruned below height $pruned")"
done
jq -r '"throughput \(.tx_per_second) tx/s, ceiling \(.ceiling_tx_per_second) tx/s, ratio \(if .ceiling_tx_per_second > 0 then ((.tx_per_second / .ceiling_tx_per_second * 100 | round) / 100) else 0 end)"' "$r"
