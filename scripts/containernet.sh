#!/usr/bin/env bash
# The 4-node network as four containers on a podman bridge network, TLS on, each node addressed in
# genesis by its container name; clients on the host reach them through ports published on
# 127.0.0.1 (`--connect`), still checking each node's certificate against its genesis name.
#
#   scripts/containernet.sh up     [--dir D] [--prefix P] [--host-port H] [--memory M]
#   scripts/containernet.sh status [--dir D]          containers, then every node's view, height, peers
#   scripts/containernet.sh cli    [--dir D] ARGS...  a client command from the host (adds --genesis, --connect)
#   scripts/containernet.sh byzantine I STRATEGY [--dir D] [--seed N]   restart container I as an adversary
#   scripts/containernet.sh byzantine I honest [--dir D]                and back
#   scripts/containernet.sh demo   [--dir D]          the demo's flow against the running containers
#   scripts/containernet.sh down   [--dir D]          remove the containers, network and data volumes, by name
#
# D (default ./containernet) holds what `init` made (genesis.bin, ca/, accounts/, node<i>/) and
# container/node<i>/, the read-only /etc/bftledger of container i. Names, all from the prefix P
# (default bftledger): network P-net, containers P-node<i>, volumes P-node<i>-data and
# P-node<i>-signing (the signing mark, kept apart from the data). Host ports:
# gRPC H+i (default 27100), metrics H+2000+i. Needs root; podman, runc and mmdebstrap are
# installed from the distribution when missing, and the image is built by scripts/image.sh.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=lib/podman.sh
source "$root/scripts/lib/podman.sh"
cli="$root/scripts/bftledger"
nodes=4
grpc_port=7100
health_port=7200
metrics_base=9100

cmd="${1:-}"
[[ -n "$cmd" ]] && shift || true
byz_node=""
byz_strategy=""
if [[ "$cmd" == byzantine ]]; then
  [[ $# -ge 2 ]] || { echo "usage: $0 byzantine I STRATEGY|honest [--dir D] [--seed N]" >&2; exit 2; }
  byz_node="$1"; byz_strategy="$2"; shift 2
  [[ "$byz_node" =~ ^[0-9]+$ ]] && ((byz_node < nodes)) || { echo "I must be 0..$((nodes - 1)), got '$byz_node'" >&2; exit 2; }
fi
dir="containernet"
prefix="bftledger"
host_port=27100
memory=512m
seed=7
cli_args=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --dir) dir="$2"; shift 2 ;;
    --prefix) prefix="$2"; shift 2 ;;
    --host-port) host_port="$2"; shift 2 ;;
    --memory) memory="$2"; shift 2 ;;
    --seed) seed="$2"; shift 2 ;;
    -h|--help) sed -n '2,18p' "$0"; exit 0 ;;
    *) if [[ "$cmd" == cli ]]; then cli_args+=("$1"); shift; else echo "unknown option $1; see $0 --help" >&2; exit 2; fi ;;
  esac
done
mkdir -p "$dir"
dir="$(cd "$dir" && pwd)"
env_file="$dir/containernet.env"
# A running network remembers its prefix and ports: later commands need no options.
if [[ "$cmd" != up && -f "$env_file" ]]; then
  # shellcheck disable=SC1090
  source "$env_file"
fi
version="$(sed -n 's|^  <version>\(.*\)</version>|\1|p' "$root/pom.xml" | head -n 1)"
net="$prefix-net"
name() { echo "$prefix-node$1"; }
connect() {
  local out=() i
  for ((i = 0; i < nodes; i++)); do out+=("$i=127.0.0.1:$((host_port + i))"); done
  (IFS=,; echo "${out[*]}")
}
client() { "$cli" "$@" --genesis "$dir/genesis.bin" --connect "$(connect)"; }

init_network() {
  [[ -f "$dir/genesis.bin" ]] && { echo "using the network in $dir"; return; }
  local addresses=() i
  for ((i = 0; i < nodes; i++)); do addresses+=("$(name "$i"):$grpc_port"); done
  "$cli" init --nodes "$nodes" --dir "$dir" --chain-id "$prefix-containernet" \
    --addresses "$(IFS=,; echo "${addresses[*]}")" --listen-host 0.0.0.0 \
    --metrics-base-port "$metrics_base" --health-base-port "$health_port" >/dev/null
  echo "created a $nodes-node network in $dir (genesis addresses ${addresses[*]})"
}

# /etc/bftledger of container i: its config with the container's paths, genesis, its keys; owned
# by the image's user (uid 10001), keys owner-only, mounted read-only.
stage() {
  local i="$1" src="$dir/node$1" out="$dir/container/node$1"
  rm -rf "$out"
  mkdir -p "$out/tls"
  sed -e 's|^data\.dir=.*|data.dir=/var/lib/bftledger|' -e 's|^genesis\.file=.*|genesis.file=genesis.bin|' \
    -e '/^signing\.mark\.file=/d' "$src/node.properties" >"$out/node.properties"
  echo "signing.mark.file=/var/lib/bftledger-signing/signing-mark" >>"$out/node.properties"
  cp "$dir/genesis.bin" "$out/genesis.bin"
  cp "$src/node.key" "$out/node.key"
  cp "$src/tls/tls.crt" "$src/tls/tls.key" "$out/tls/"
  chown -R 10001:10001 "$out"
  chmod 600 "$out/node.key" "$out/tls/tls.key"
}

# Starts container i from IMAGE with ARGS (the image's default command when none).
run_node() {
  local i="$1" image="$2"
  shift 2
  # shellcheck disable=SC2046
  pm run -d --name "$(name "$i")" --network "$net" --label "bftledger.containernet=$prefix" \
    --read-only --tmpfs /tmp:rw,exec,nosuid,nodev,size=64m --memory "$memory" $(pm_ulimits) \
    -v "$(name "$i")-data:/var/lib/bftledger" -v "$(name "$i")-signing:/var/lib/bftledger-signing" \
    -v "$dir/container/node$i:/etc/bftledger:ro" \
    -p "127.0.0.1:$((host_port + i)):$grpc_port" -p "127.0.0.1:$((host_port + 2000 + i)):$((metrics_base + i))" \
    "$image" "$@" >/dev/null
}

await_ready() {
  local deadline=$((SECONDS + ${1:-120})) i
  until client status --timeout 3s >/dev/null 2>&1; do
    for ((i = 0; i < nodes; i++)); do
      if [[ "$(pm inspect -f '{{.State.Running}}' "$(name "$i")" 2>/dev/null)" != true ]]; then
        echo "container $(name "$i") is not running; its last log lines:" >&2
        pm logs --tail 20 "$(name "$i")" >&2 || true
        return 1
      fi
    done
    if ((SECONDS >= deadline)); then
      echo "the network did not become ready in time; logs: podman logs $(name 0)" >&2
      return 1
    fi
    sleep 1
  done
}

up() {
  pm_require
  "$root/scripts/image.sh" build
  init_network
  cat >"$env_file" <<ENV
prefix=$prefix
host_port=$host_port
memory=$memory
ENV
  if ! pm network exists "$net"; then
    # podman may warn that it has no syslog; only a failure's message matters.
    pm network create "$net" >/dev/null 2>"$dir/network-create.log" || { cat "$dir/network-create.log" >&2; exit 1; }
  fi
  local i
  for ((i = 0; i < nodes; i++)); do
    if pm container exists "$(name "$i")"; then
      echo "$(name "$i") exists already"
      continue
    fi
    stage "$i"
    run_node "$i" "localhost/bftledger:$version"
    echo "started $(name "$i") (gRPC on 127.0.0.1:$((host_port + i)), metrics 127.0.0.1:$((host_port + 2000 + i)))"
  done
  echo "waiting for all $nodes nodes to answer status over TLS ..."
  await_ready 180
  client status
  echo
  echo "The network is up. Client commands from the host: scripts/containernet.sh cli status | transfer ... | audit --online"
}

byzantine() {
  local i="$byz_node" image="localhost/bftledger-byzantine:$version"
  pm rm -f -t 10 "$(name "$i")" >/dev/null
  if [[ "$byz_strategy" == honest ]]; then
    run_node "$i" "localhost/bftledger:$version"
  else
    run_node "$i" "$image" byzantine --config /etc/bftledger/node.properties --strategy "$byz_strategy" --seed "$seed"
  fi
  local deadline=$((SECONDS + 90))
  until pm logs "$(name "$i")" 2>&1 | grep -q "serving on port"; do
    if [[ "$(pm inspect -f '{{.State.Running}}' "$(name "$i")" 2>/dev/null)" != true ]] || ((SECONDS >= deadline)); then
      echo "$(name "$i") did not start; its last log lines:" >&2
      pm logs --tail 20 "$(name "$i")" >&2 || true
      return 1
    fi
    sleep 0.5
  done
  echo "$(name "$i") now runs as: $byz_strategy"
}

status() {
  pm ps -a --filter "label=bftledger.containernet=$prefix" --format '{{.Names}}  {{.Status}}  {{.Image}}'
  client status
}

down() {
  local i removed=0 volume
  for ((i = 0; i < nodes; i++)); do
    if pm container exists "$(name "$i")"; then
      pm rm -f -t 10 "$(name "$i")" >/dev/null && removed=$((removed + 1))
    fi
    for volume in "$(name "$i")-data" "$(name "$i")-signing"; do
      pm volume exists "$volume" && pm volume rm -f "$volume" >/dev/null
    done
  done
  pm network exists "$net" && pm network rm -f "$net" >/dev/null
  echo "removed $removed container(s), their volumes and network $net"
}

demo() {
  local started=$SECONDS
  step() { printf '\n== [%3ds] %s\n' "$((SECONDS - started))" "$*"; }
  fail() { echo "CONTAINERNET DEMO FAILED: $*" >&2; exit 1; }
  field() { sed "s/.*\"replica\":$1,[^}]*\"$2\":\([0-9]*\),.*/\1/" <<<"$3"; }
  step "signed transactions through the SDK, from the host over TLS"
  timeout 120 "$cli" demo-load --genesis "$dir/genesis.bin" --connect "$(connect)" --accounts "$dir/accounts" \
    --transfers 4 --put greeting=hello-containers --timeout 30s || fail "transactions did not commit"
  local before primary view_before
  before="$(client status --json)" || fail "not every node answers"
  primary="$(field 1 primary "$before")"
  view_before="$(field 1 view "$before")"
  step "container $(name "$primary"), the primary, restarted as a Byzantine node (equivocate-primary)"
  byz_node="$primary" byz_strategy=equivocate-primary byzantine || fail "could not start the Byzantine container"
  step "keep submitting: the honest containers change view and keep committing"
  timeout 180 "$cli" demo-load --genesis "$dir/genesis.bin" --connect "$(connect)" --accounts "$dir/accounts" \
    --transfers 6 --timeout 60s || fail "transactions did not commit with a Byzantine primary"
  local after honest=$(((primary + 1) % nodes))
  after="$(client status --json)" || fail "not every node answers"
  (($(field "$honest" view "$after") > view_before)) || fail "no view change"
  (($(field "$honest" primary "$after") != primary)) || fail "the equivocating node is still the primary"
  step "online audit across the containers"
  local audit culprits
  audit="$(timeout 120 "$cli" audit --online --json --genesis "$dir/genesis.bin" --connect "$(connect)" 2>/dev/null)" \
    || fail "the online audit failed"
  culprits="$(grep -o '"culprits":\[[0-9,]*\]' <<<"$audit" | sed 's/"culprits"://')"
  [[ "$culprits" == "[$primary]" ]] || fail "expected culprits [$primary], the audit says ${culprits:-nothing}"
  echo "view $view_before -> $(field "$honest" view "$after"), culprits $culprits"
  step "container $(name "$primary") honest again"
  byz_node="$primary" byz_strategy=honest byzantine || fail "could not restore the node"
  echo "CONTAINERNET DEMO PASSED in $((SECONDS - started))s"
}

case "$cmd" in
  up) up ;;
  down) down ;;
  status) status ;;
  cli) client "${cli_args[@]}" ;;
  byzantine) byzantine ;;
  demo) demo ;;
  *) sed -n '2,18p' "$0"; exit 2 ;;
esac
