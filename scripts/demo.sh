#!/usr/bin/env bash
# The bftledger demo, end to end, on one machine (a few minutes at most):
#   a 4-node network on loopback; signed transfers and a record put through the SDK, each with its
#   proven receipt; every node's status; then node 0, the primary, turns Byzantine (it equivocates:
#   different PRE-PREPAREs for one sequence to different backups); clients keep submitting; the
#   honest nodes change view away from it; the online audit names it with its signed evidence;
#   the offline audit re-verifies an honest node's ledger; a summary. The network is always torn down.
#
#   scripts/demo.sh [--dir D] [--base-port P]     (default ./localnet-demo; wiped first)
#
# Exits non-zero if any step fails.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dir="localnet-demo"
base_port=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --dir) dir="$2"; shift 2 ;;
    --base-port) base_port="$2"; shift 2 ;;
    -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
    *) echo "unknown option $1; see $0 --help" >&2; exit 2 ;;
  esac
done
cli="$root/scripts/bftledger"
command -v jq >/dev/null || { echo "the demo reads the CLI's --json output with jq: install it (apt-get install jq)" >&2; exit 2; }
started=$SECONDS
step() { printf '\n\033[1m== [%3ds] %s\033[0m\n' "$((SECONDS - started))" "$*"; }
fail() { echo "DEMO FAILED: $*" >&2; exit 1; }
# Every Java step is bounded; `timeout` kills it (and the demo fails) if it hangs.
bounded() { local secs="$1"; shift; timeout --kill-after=10 "$secs" "$@"; }

step "build (only if the jars are missing)"
if [[ ! -f "$root/node/target/bftledger.jar" || ! -f "$root/network-tests/target/bftledger-byzantine.jar" ]]; then
  echo "building node/target/bftledger.jar and network-tests/target/bftledger-byzantine.jar (first run, a few minutes) ..."
  build_log="$(mktemp)"
  if ! (cd "$root" && mvn -B -q -Dstyle.color=never -pl network-tests -am package -DskipTests) >"$build_log" 2>&1; then
    tail -n 30 "$build_log" >&2
    fail "the build failed (full log: $build_log); run: mvn -B -pl network-tests -am package -DskipTests"
  fi
  rm -f "$build_log"
  echo "built"
else
  echo "jars present"
fi

# A previous demo may still be running from this directory: stop exactly its processes, then wipe.
if [[ -d "$dir/run" ]]; then
  "$root/scripts/localnet.sh" down --dir "$dir" >/dev/null 2>&1 || true
fi
rm -rf "$dir"
mkdir -p "$dir"
dir="$(cd "$dir" && pwd)"
genesis="$dir/genesis.bin"
teardown() {
  local rc=$?
  echo
  echo "== tearing the network down"
  "$root/scripts/localnet.sh" down --dir "$dir" || true
  if ((rc != 0)); then
    echo "the demo failed (exit $rc); node logs are in $dir/logs/" >&2
  fi
  exit $rc
}
trap teardown EXIT
trap 'exit 130' INT TERM

step "start a 4-node network in $dir"
if [[ -n "$base_port" ]]; then
  "$cli" init --nodes 4 --dir "$dir" --base-port "$base_port" --metrics-base-port $((base_port + 100)) >/dev/null
fi
bounded 240 "$root/scripts/localnet.sh" up --nodes 4 --dir "$dir" | sed -n '/^node /,/^$/p' || fail "the network did not start"

step "signed transactions through the SDK (each receipt proven by f+1 signed replies or a certificate + inclusion proof)"
bounded 120 "$cli" demo-load --genesis "$genesis" --accounts "$dir/accounts" --transfers 4 --put greeting=hello-bft --timeout 30s \
  || fail "transactions did not commit"

step "status of every node"
bounded 60 "$cli" status --genesis "$genesis" || fail "not every node answers"
before_json="$(bounded 60 "$cli" status --genesis "$genesis" --json)"
view_before="$(jq -r '.nodes[] | select(.replica == 1) | .view' <<<"$before_json")"
height_before="$(jq -r '.nodes[] | select(.replica == 1) | .height' <<<"$before_json")"
primary_before="$(jq -r '.nodes[] | select(.replica == 1) | .primary' <<<"$before_json")"

step "inject a Byzantine primary: node $primary_before now equivocates (scripts/byzantine.sh $primary_before equivocate-primary)"
bounded 120 "$root/scripts/byzantine.sh" "$primary_before" equivocate-primary --dir "$dir" --seed 7 || fail "could not start the Byzantine node"

step "keep submitting: the honest replicas detect the equivocation, change view, and keep committing"
bounded 180 "$cli" demo-load --genesis "$genesis" --accounts "$dir/accounts" --transfers 6 --timeout 60s \
  || fail "transactions did not commit with a Byzantine primary"

step "status after the attack: a new view with a new primary"
bounded 60 "$cli" status --genesis "$genesis" || fail "not every node answers"
after_json="$(bounded 60 "$cli" status --genesis "$genesis" --json)"
honest=$(( (primary_before + 1) % 4 ))
view_after="$(jq -r --argjson r "$honest" '.nodes[] | select(.replica == $r) | .view' <<<"$after_json")"
primary_after="$(jq -r --argjson r "$honest" '.nodes[] | select(.replica == $r) | .primary' <<<"$after_json")"
height_after="$(jq -r --argjson r "$honest" '.nodes[] | select(.replica == $r) | .height' <<<"$after_json")"
((view_after > view_before)) || fail "no view change: view is still $view_after"
((primary_after != primary_before)) || fail "the equivocating node $primary_before is still the primary"
echo "view $view_before -> $view_after, primary $primary_before -> $primary_after, height $height_before -> $height_after"

step "online audit: every node's blocks and certificates, cross-node agreement, and the evidence they hold"
bounded 120 "$cli" audit --online --genesis "$genesis" 2>/dev/null | cut -c1-200 || fail "the online audit failed"
audit_json="$(bounded 120 "$cli" audit --online --json --genesis "$genesis" 2>/dev/null)" || fail "the online audit failed"
culprits="$(jq -c '.culprits' <<<"$audit_json")"
[[ "$culprits" == "[$primary_before]" ]] || fail "expected culprits [$primary_before], the audit says ${culprits:-nothing}"
echo "(signed messages cut to 200 columns above; --json has them whole) culprits: $culprits"

step "stop the network, then the offline audit of honest node$honest's data directory"
"$root/scripts/localnet.sh" down --dir "$dir"
bounded 120 "$cli" audit --data "$dir/node$honest/data" --genesis "$genesis" || fail "the offline audit of node$honest failed"

step "summary"
cat <<SUMMARY
  network            4 replicas (f = 1) on loopback, data in $dir
  before the attack  view $view_before, primary $primary_before, height $height_before: transfers and a record put committed, receipts proven
  attack             node $primary_before restarted as a Byzantine primary (equivocate-primary), same key and data
  after the attack   view $view_after, primary $primary_after, height $height_after: the honest nodes changed view and kept committing
  online audit       all nodes agree; culprits $culprits, proven by conflicting signed PRE-PREPAREs
  offline audit      node$honest's ledger re-verified from its data directory
  took               $((SECONDS - started))s
SUMMARY
echo "DEMO PASSED"
