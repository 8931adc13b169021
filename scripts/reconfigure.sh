#!/usr/bin/env bash
# Change the validators of a running local network (scripts/localnet.sh) without stopping it.
#
#   scripts/reconfigure.sh add          [--dir D]   a new node joins: key, config, started with --join
#   scripts/reconfigure.sh remove  N    [--dir D]   nodeN leaves the set (it stops by itself at the boundary)
#   scripts/reconfigure.sh replace N    [--dir D]   a new node takes nodeN's place
#   scripts/reconfigure.sh rotate  N    [--dir D]   nodeN signs with a new key from the boundary on
#   scripts/reconfigure.sh status       [--dir D]   every validator set, proven from genesis
#
# Each change is what an operator does by hand (docs/operations.md, "Changing the validators"):
# `bftledger validators propose`, `approve` with the key of every node of the set in force (a
# quorum is what counts), `submit`; then it waits until the new set signs.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cli="$root/scripts/bftledger"

cmd="${1:-}"
[[ -n "$cmd" ]] && shift || true
target=""
if [[ "$cmd" =~ ^(remove|replace|rotate)$ ]]; then
  target="${1:?$cmd needs a node number (nodeN in the network directory)}"
  shift
fi
dir="localnet"
timeout=180
while [[ $# -gt 0 ]]; do
  case "$1" in
    --dir) dir="$2"; shift 2 ;;
    --timeout) timeout="$2"; shift 2 ;;
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
    *) echo "unknown option $1; see $0 --help" >&2; exit 2 ;;
  esac
done
dir="$(cd "$dir" && pwd)"
genesis="$dir/genesis.bin"
[[ -f "$genesis" ]] || { echo "no network in $dir (scripts/localnet.sh up first)" >&2; exit 1; }
plaintext=()
grep -qs '^tls.plaintext=true' "$dir/node0/node.properties" && plaintext=(--plaintext)
net=(--genesis "$genesis" "${plaintext[@]}")

alive() { [[ -f "$1" ]] && kill -0 "$(cat "$1")" 2>/dev/null; }
prop() { sed -n "s/^$2=//p" "$1" | head -n 1; }

# A new node directory: its key, its config (node0's with its own ports), its TLS certificate,
# marked `joining` so that it starts with --join. Prints its number.
new_node() {
  local k=0
  while [[ -e "$dir/node$k" || -e "$dir/removed-node$k" ]]; do k=$((k + 1)); done
  local base="$dir/node0/node.properties" node="$dir/node$k"
  mkdir -p "$node"
  "$cli" keygen --out "$node/node.key" >/dev/null
  local port metrics
  port=$(($(prop "$base" listen.port) + k))
  metrics=$(prop "$base" metrics.port)
  [[ "$metrics" != 0 ]] && metrics=$((metrics + k))
  sed -e "s/^replica=.*/replica=$k/" -e "s/^listen.port=.*/listen.port=$port/" -e "s/^metrics.port=.*/metrics.port=$metrics/" \
    "$base" >"$node/node.properties"
  if [[ ${#plaintext[@]} -eq 0 ]]; then
    "$cli" tls issue --genesis "$genesis" --node "$k" --address "127.0.0.1:$port" --name "node$k" --out "$node/tls" >/dev/null
  fi
  touch "$node/joining"
  echo "$k"
}

address() { echo "127.0.0.1:$(prop "$dir/node$1/node.properties" listen.port)"; }

# The sets are proven by a certified header: a network that has committed nothing has none yet.
ensure_certified() {
  if ! "$cli" validators status "${net[@]}" --timeout 5s >/dev/null 2>&1; then
    "$cli" transfer "${net[@]}" --key "$dir/accounts/account0.key" --to "$dir/accounts/account1.key" --amount 1 >/dev/null
  fi
}

# Proposes the edits given, approves with every node key there is, submits. Prints the first
# height of the new set.
change() {
  ensure_certified
  local proposal="$dir/run/change-$(date +%s%N).json"
  mkdir -p "$dir/run"
  "$cli" validators propose "${net[@]}" --out "$proposal" "$@" >&2
  local key
  for key in "$dir"/node[0-9]*/node.key; do
    # Nodes outside the set in force are refused, and say so; a quorum of the others is enough.
    "$cli" validators approve "${net[@]}" --proposal "$proposal" --key "$key" >/dev/null 2>&1 || true
  done
  "$cli" validators submit "${net[@]}" --proposal "$proposal" --key "$dir/node0/node.key" --json |
    tail -n 1 | sed -n 's/.*"first_height":\([0-9]*\).*/\1/p'
}

# Waits until no change is pending any more: a block the new set signed is certified. An idle
# network makes no block after the boundary, so a transfer between the demo accounts asks for one.
await_handover() {
  local deadline=$((SECONDS + timeout))
  until "$cli" validators status "${net[@]}" --timeout 10s --json 2>/dev/null | tail -n 1 | grep -q '"pending":null'; do
    if ((SECONDS >= deadline)); then
      echo "the new validator set did not take over in ${timeout}s; see $dir/logs/" >&2
      exit 1
    fi
    "$cli" transfer "${net[@]}" --timeout 10s --key "$dir/accounts/account0.key" --to "$dir/accounts/account1.key" \
      --amount 1 >/dev/null 2>&1 || sleep 1
  done
  "$cli" validators status "${net[@]}"
}

await_exit() {
  local pidfile="$dir/run/node$1.pid" deadline=$((SECONDS + timeout))
  while alive "$pidfile"; do
    if ((SECONDS >= deadline)); then
      echo "node$1 did not stop at the boundary in ${timeout}s; see $dir/logs/node$1.log" >&2
      exit 1
    fi
    sleep 1
  done
  rm -f "$pidfile"
}

case "$cmd" in
  add)
    k=$(new_node)
    "$root/scripts/localnet.sh" start-node "$k" --dir "$dir"
    first=$(change --add "$dir/node$k/node.key@$(address "$k")/node$k")
    echo "node$k joins; the new set signs from height $first"
    await_handover
    ;;
  remove)
    first=$(change --remove "$dir/node$target/node.key")
    echo "node$target leaves; the new set signs from height $first"
    await_handover
    await_exit "$target"
    mv "$dir/node$target" "$dir/removed-node$target"
    ;;
  replace)
    k=$(new_node)
    "$root/scripts/localnet.sh" start-node "$k" --dir "$dir"
    first=$(change --replace "$dir/node$target/node.key=$dir/node$k/node.key@$(address "$k")/node$k")
    echo "node$k takes node$target's place; the new set signs from height $first"
    await_handover
    await_exit "$target"
    mv "$dir/node$target" "$dir/removed-node$target"
    ;;
  rotate)
    "$cli" keygen --out "$dir/node$target/node.key.next" >/dev/null
    first=$(change --rotate "$dir/node$target/node.key=$dir/node$target/node.key.next")
    echo "node$target's new key signs from height $first"
    await_handover
    # Its old key is out: the node stops at the boundary and starts again with the new one.
    await_exit "$target"
    mv "$dir/node$target/node.key.next" "$dir/node$target/node.key"
    "$root/scripts/localnet.sh" start-node "$target" --dir "$dir"
    ;;
  status) "$cli" validators status "${net[@]}" ;;
  *) sed -n '2,13p' "$0"; exit 2 ;;
esac
