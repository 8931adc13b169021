#!/usr/bin/env bash
# netns.sh: a named test network of Linux network namespaces, and faults on it.
#
# Layout of network NAME with N hosts (everything lives inside namespaces; the root namespace's
# interfaces, addresses, routes and firewall are never touched):
#
#   namespace NAME-br    one bridge "br0"; ports v0..v<N-1>
#   namespace NAME-h<i>  loopback up; "eth0" = veth peer of v<i>; address SUBNET.<i+1>/24
#
# Because each network is a closed world behind its own bridge namespace, two networks may use
# the same subnet at once without seeing each other; the default subnet 10.77.0.0/24 is private.
#
# Faults are iptables rules in the hosts' namespaces, in chains of our own so `heal` removes
# exactly what we added:
#   NETFAULT_IN / NETFAULT_OUT            cuts (partition, oneway, isolate), jumped from INPUT/OUTPUT
#   NETFAULT_LOSS_IN / NETFAULT_LOSS_OUT  random loss (drop), jumped from INPUT/OUTPUT
# Rules are added only when absent (iptables -C), so repeating a command changes nothing.
# Cuts accumulate until `heal`; `drop` replaces the loss rules of the hosts it names.
#
# This kernel has no netem: latency, duplication and reordering are not done here (see the Java
# FaultProxy and the node's transport interceptor).
#
# Exit codes: 0 ok; 1 operation failed; 2 usage error; 3 cannot run here (not root, ip or
# iptables missing, namespaces unusable), with the reason on stderr.
set -Eeuo pipefail

readonly PROG=netns.sh
readonly HOSTS_MAX=64
readonly DEFAULT_SUBNET=10.77.0

die() { echo "$PROG: $*" >&2; exit 1; }
usage_error() { echo "$PROG: $*" >&2; echo "run '$PROG help' for usage" >&2; exit 2; }
refuse() { echo "$PROG: cannot run: $*" >&2; exit 3; }

usage() {
  cat <<'EOF'
usage: netns.sh COMMAND [options]

  up        --name NAME --hosts N [--subnet A.B.C]  create NAME-br and NAME-h0..h<N-1>
  down      --name NAME            kill processes left in NAME's namespaces, delete them
  status    --name NAME            namespaces, addresses and fault rules
  addresses --name NAME            one line per host: "h<i> <namespace> <address>"
  partition --name NAME A,B C,D    cut all traffic between the two groups, both ways; hosts in
                                   neither group keep talking to both
  oneway    --name NAME --from A --to B   drop packets from A to B only
  isolate   --name NAME HOST       cut HOST from every other host
  drop      --name NAME --percent P [HOST]
                                   random loss: with HOST, P% of packets into and out of HOST;
                                   without, P% of packets into every host (so each packet
                                   between two hosts is lost with probability P%); P=0 clears
  heal      --name NAME            remove every cut and loss rule
  list                             names of the networks that are up (one per line)
  check                            exit 0 if namespaces and iptables work here, else 3 and why

Hosts are written h<i> (or just <i>). NAME: 1-24 characters [A-Za-z0-9_].
EOF
}

# ---------------------------------------------------------------- preconditions

require_tools() {
  [ "$(id -u)" = "0" ] || refuse "must run as root (network namespaces and iptables need CAP_NET_ADMIN); uid is $(id -u)"
  command -v ip >/dev/null 2>&1 || refuse "ip (iproute2) not found on PATH=$PATH; install iproute2"
  command -v iptables >/dev/null 2>&1 || refuse "iptables not found on PATH=$PATH; install iptables"
}

check_name() {
  [ -n "${NAME:-}" ] || usage_error "--name is required"
  [[ "$NAME" =~ ^[A-Za-z0-9_]{1,24}$ ]] || usage_error "bad network name '$NAME': 1-24 characters of [A-Za-z0-9_]"
}

ns_exists() { ip netns list | awk '{print $1}' | grep -qx -- "$1"; }

# Namespaces of network NAME, by exact name pattern: NAME-br and NAME-h<digits>.
network_namespaces() {
  ip netns list | awk '{print $1}' | grep -E -- "^${NAME}-(br|h[0-9]+)\$" || true
}

host_count() {
  network_namespaces | grep -cE -- "^${NAME}-h[0-9]+\$" || true
}

require_up() {
  ns_exists "${NAME}-br" || die "network '$NAME' is not up (no namespace ${NAME}-br)"
  HOSTS=$(host_count)
  [ "$HOSTS" -gt 0 ] || die "network '$NAME' has no hosts"
}

# h3 / 3 / NAME-h3 -> 3, checked against the network's host count.
host_index() {
  local h=$1
  h=${h#"${NAME}"-}
  h=${h#h}
  [[ "$h" =~ ^[0-9]+$ ]] || usage_error "bad host '$1': expected h<i>"
  h=$((10#$h))
  [ "$h" -lt "$HOSTS" ] || usage_error "no host h$h in network '$NAME' (hosts h0..h$((HOSTS - 1)))"
  echo "$h"
}

host_ns() { echo "${NAME}-h$1"; }

# The address is read back from the namespace: the namespace is the one source of truth.
host_address() {
  local a
  a=$(ip -n "$(host_ns "$1")" -4 -o addr show dev eth0 2>/dev/null | awk '{print $4}' | cut -d/ -f1 | head -n1)
  [ -n "$a" ] || die "host h$1 of '$NAME' has no IPv4 address on eth0"
  echo "$a"
}

in_ns() { local ns=$1; shift; ip netns exec "$ns" "$@"; }

ipt() { local ns=$1; shift; in_ns "$ns" iptables -w "$@"; }

# Add a rule only if the same rule is not there yet.
add_rule() {
  local ns=$1 chain=$2; shift 2
  ipt "$ns" -C "$chain" "$@" 2>/dev/null || ipt "$ns" -A "$chain" "$@"
}

ensure_chain() {
  local ns=$1 chain=$2 parent=$3
  ipt "$ns" -N "$chain" 2>/dev/null || true
  ipt "$ns" -C "$parent" -j "$chain" 2>/dev/null || ipt "$ns" -I "$parent" 1 -j "$chain"
}

ensure_chains() {
  local ns; ns=$(host_ns "$1")
  ensure_chain "$ns" NETFAULT_IN INPUT
  ensure_chain "$ns" NETFAULT_OUT OUTPUT
  ensure_chain "$ns" NETFAULT_LOSS_IN INPUT
  ensure_chain "$ns" NETFAULT_LOSS_OUT OUTPUT
}

# ---------------------------------------------------------------- commands

cmd_check() {
  require_tools
  local probe="netnschk$$"
  ip netns add "$probe" 2>/tmp/"$probe".err || { local e; e=$(cat /tmp/"$probe".err); rm -f /tmp/"$probe".err; refuse "netns creation failed: $e"; }
  rm -f /tmp/"$probe".err
  local out rc=0
  out=$(ip netns exec "$probe" iptables -w -S 2>&1) || rc=$?
  local out2 rc2=0
  out2=$(ip netns exec "$probe" iptables -w -A OUTPUT -m statistic --mode random --probability 0.5 -j ACCEPT 2>&1) || rc2=$?
  ip netns del "$probe" || true
  [ "$rc" = 0 ] || refuse "iptables does not work inside a namespace: $out"
  [ "$rc2" = 0 ] || refuse "iptables statistic match unavailable: $out2"
  echo "ok: network namespaces and iptables usable"
}

cmd_up() {
  check_name
  [ -n "${HOSTS:-}" ] || usage_error "--hosts is required"
  [[ "$HOSTS" =~ ^[0-9]+$ ]] && [ "$HOSTS" -ge 1 ] && [ "$HOSTS" -le "$HOSTS_MAX" ] \
    || usage_error "--hosts must be 1..$HOSTS_MAX, got '$HOSTS'"
  [[ "$SUBNET" =~ ^([0-9]{1,3})\.([0-9]{1,3})\.([0-9]{1,3})$ ]] \
    && [ "${BASH_REMATCH[1]}" -le 255 ] && [ "${BASH_REMATCH[2]}" -le 255 ] && [ "${BASH_REMATCH[3]}" -le 255 ] \
    || usage_error "--subnet must be A.B.C with each part 0..255, got '$SUBNET'"

  if ns_exists "${NAME}-br"; then
    local have; have=$(host_count)
    [ "$have" = "$HOSTS" ] || die "network '$NAME' exists with $have hosts, not $HOSTS; run down first"
    local i
    for ((i = 0; i < HOSTS; i++)); do
      ns_exists "$(host_ns "$i")" || die "network '$NAME' is incomplete (no $(host_ns "$i")); run down first"
      [ "$(host_address "$i")" = "$SUBNET.$((i + 1))" ] || die "network '$NAME' has other addresses; run down first"
    done
    cmd_addresses
    return
  fi
  [ -z "$(network_namespaces)" ] || die "leftover namespaces of '$NAME' without ${NAME}-br: $(network_namespaces | tr '\n' ' '); run down first"

  # A failure halfway removes what was made so far.
  trap 'echo "$PROG: up failed; removing partial network $NAME" >&2; do_down >/dev/null 2>&1 || true' ERR

  local br="${NAME}-br"
  ip netns add "$br"
  ip -n "$br" link set lo up
  ip -n "$br" link add br0 type bridge
  ip -n "$br" link set br0 up
  local i ns
  for ((i = 0; i < HOSTS; i++)); do
    ns=$(host_ns "$i")
    ip netns add "$ns"
    # Both ends are created directly in their namespaces: no interface ever appears in the root one.
    ip link add eth0 netns "$ns" type veth peer name "v$i" netns "$br"
    ip -n "$br" link set "v$i" master br0
    ip -n "$br" link set "v$i" up
    ip -n "$ns" link set lo up
    ip -n "$ns" addr add "$SUBNET.$((i + 1))/24" dev eth0
    ip -n "$ns" link set eth0 up
    ensure_chains "$i"
  done
  trap - ERR
  cmd_addresses
}

do_down() {
  local ns pids
  for ns in $(network_namespaces); do
    # A process left in a namespace would keep it alive after its name is gone.
    pids=$(ip netns pids "$ns" 2>/dev/null || true)
    if [ -n "$pids" ]; then
      echo "killing processes left in $ns: $(echo "$pids" | tr '\n' ' ')" >&2
      # shellcheck disable=SC2086
      kill -9 $pids 2>/dev/null || true
    fi
  done
  # Hosts first, then the bridge; deleting a namespace destroys its veth ends and its rules.
  for ns in $(network_namespaces | grep -v -- "-br\$"); do ip netns del "$ns"; done
  if ns_exists "${NAME}-br"; then ip netns del "${NAME}-br"; fi
}

cmd_down() {
  check_name
  do_down
  local left; left=$(network_namespaces)
  [ -z "$left" ] || die "namespaces still present after down: $left"
  echo "network $NAME down"
}

cmd_list() {
  ip netns list | awk '{print $1}' | sed -n 's/^\([A-Za-z0-9_]\{1,24\}\)-br$/\1/p' | sort
}

cmd_addresses() {
  check_name
  require_up
  local i
  for ((i = 0; i < HOSTS; i++)); do
    echo "h$i $(host_ns "$i") $(host_address "$i")"
  done
}

cmd_status() {
  check_name
  require_up
  echo "network $NAME: $HOSTS hosts, bridge namespace ${NAME}-br"
  local i ns
  for ((i = 0; i < HOSTS; i++)); do
    ns=$(host_ns "$i")
    echo "h$i $ns $(host_address "$i") eth0 $(ip -n "$ns" -o link show dev eth0 | grep -o 'state [A-Z]*')"
    ipt "$ns" -S 2>/dev/null | grep -E -- '^-A NETFAULT' | sed 's/^/    /' || true
  done
}

# Group "h0,h1" -> indices, one per line.
group_indices() {
  local g=$1 h
  [ -n "$g" ] || usage_error "empty host group"
  IFS=',' read -r -a parts <<<"$g"
  for h in "${parts[@]}"; do host_index "$h"; done
}

cut_between() { # both ways, at both ends
  local a=$1 b=$2 na nb aa ab
  na=$(host_ns "$a"); nb=$(host_ns "$b"); aa=$(host_address "$a"); ab=$(host_address "$b")
  ensure_chains "$a"; ensure_chains "$b"
  add_rule "$na" NETFAULT_OUT -d "$ab" -j DROP
  add_rule "$na" NETFAULT_IN -s "$ab" -j DROP
  add_rule "$nb" NETFAULT_OUT -d "$aa" -j DROP
  add_rule "$nb" NETFAULT_IN -s "$aa" -j DROP
}

cmd_partition() {
  check_name
  require_up
  [ "${#ARGS[@]}" = 2 ] || usage_error "partition takes two groups, e.g. h0,h1 h2,h3"
  local ga gb a b
  ga=$(group_indices "${ARGS[0]}") || exit $?
  gb=$(group_indices "${ARGS[1]}") || exit $?
  for a in $ga; do for b in $gb; do
    [ "$a" != "$b" ] || usage_error "host h$a is in both groups"
  done; done
  for a in $ga; do for b in $gb; do cut_between "$a" "$b"; done; done
  echo "partitioned $NAME: {$(echo $ga | sed 's/\([0-9]*\)/h\1/g; s/ /,/g')} | {$(echo $gb | sed 's/\([0-9]*\)/h\1/g; s/ /,/g')}"
}

cmd_oneway() {
  check_name
  require_up
  [ -n "${FROM:-}" ] && [ -n "${TO:-}" ] || usage_error "oneway needs --from HOST --to HOST"
  local a b
  a=$(host_index "$FROM") || exit $?
  b=$(host_index "$TO") || exit $?
  [ "$a" != "$b" ] || usage_error "--from and --to are the same host"
  ensure_chains "$a"; ensure_chains "$b"
  add_rule "$(host_ns "$a")" NETFAULT_OUT -d "$(host_address "$b")" -j DROP
  add_rule "$(host_ns "$b")" NETFAULT_IN -s "$(host_address "$a")" -j DROP
  echo "oneway $NAME: h$a -> h$b dropped"
}

cmd_isolate() {
  check_name
  require_up
  [ "${#ARGS[@]}" = 1 ] || usage_error "isolate takes one host"
  local a ns
  a=$(host_index "${ARGS[0]}") || exit $?
  ns=$(host_ns "$a")
  ensure_chains "$a"
  add_rule "$ns" NETFAULT_OUT -o eth0 -j DROP
  add_rule "$ns" NETFAULT_IN -i eth0 -j DROP
  echo "isolated $NAME: h$a"
}

cmd_drop() {
  check_name
  require_up
  [ -n "${PERCENT:-}" ] || usage_error "drop needs --percent P"
  [[ "$PERCENT" =~ ^[0-9]+(\.[0-9]+)?$ ]] || usage_error "--percent must be a number 0..100, got '$PERCENT'"
  local p; p=$(awk -v p="$PERCENT" 'BEGIN { if (p < 0 || p > 100) exit 1; printf "%.4f", p / 100 }') \
    || usage_error "--percent must be 0..100, got '$PERCENT'"
  [ "${#ARGS[@]}" -le 1 ] || usage_error "drop takes at most one host"
  local hosts i ns
  if [ "${#ARGS[@]}" = 1 ]; then hosts=$(host_index "${ARGS[0]}") || exit $?; else hosts=$(seq 0 $((HOSTS - 1))); fi
  for i in $hosts; do
    ns=$(host_ns "$i")
    ensure_chains "$i"
    ipt "$ns" -F NETFAULT_LOSS_IN
    ipt "$ns" -F NETFAULT_LOSS_OUT
    if [ "$p" != "0.0000" ]; then
      ipt "$ns" -A NETFAULT_LOSS_IN -i eth0 -m statistic --mode random --probability "$p" -j DROP
      if [ "${#ARGS[@]}" = 1 ]; then
        ipt "$ns" -A NETFAULT_LOSS_OUT -o eth0 -m statistic --mode random --probability "$p" -j DROP
      fi
    fi
  done
  echo "drop $NAME: ${PERCENT}% on $(for i in $hosts; do printf 'h%s ' "$i"; done)"
}

cmd_heal() {
  check_name
  require_up
  local i ns c
  for ((i = 0; i < HOSTS; i++)); do
    ns=$(host_ns "$i")
    ensure_chains "$i"
    for c in NETFAULT_IN NETFAULT_OUT NETFAULT_LOSS_IN NETFAULT_LOSS_OUT; do ipt "$ns" -F "$c"; done
  done
  echo "healed $NAME"
}

# ---------------------------------------------------------------- argument parsing

main() {
  [ $# -ge 1 ] || { usage >&2; exit 2; }
  local cmd=$1; shift
  case "$cmd" in
    help|-h|--help) usage; exit 0 ;;
  esac
  NAME="" HOSTS="" SUBNET=$DEFAULT_SUBNET FROM="" TO="" PERCENT=""
  ARGS=()
  while [ $# -gt 0 ]; do
    case "$1" in
      --name) [ $# -ge 2 ] || usage_error "--name needs a value"; NAME=$2; shift 2 ;;
      --hosts) [ $# -ge 2 ] || usage_error "--hosts needs a value"; HOSTS=$2; shift 2 ;;
      --subnet) [ $# -ge 2 ] || usage_error "--subnet needs a value"; SUBNET=$2; shift 2 ;;
      --from) [ $# -ge 2 ] || usage_error "--from needs a value"; FROM=$2; shift 2 ;;
      --to) [ $# -ge 2 ] || usage_error "--to needs a value"; TO=$2; shift 2 ;;
      --percent) [ $# -ge 2 ] || usage_error "--percent needs a value"; PERCENT=$2; shift 2 ;;
      --*) usage_error "unknown option $1" ;;
      *) ARGS+=("$1"); shift ;;
    esac
  done
  case "$cmd" in
    up|down|status|addresses|partition|oneway|isolate|drop|heal|check|list) ;;
    *) usage_error "unknown command '$cmd'" ;;
  esac
  require_tools
  case "$cmd" in
    up|down|status|addresses|oneway|heal|check|list)
      [ "${#ARGS[@]}" = 0 ] || usage_error "$cmd takes no positional arguments (got: ${ARGS[*]})" ;;
  esac
  "cmd_$cmd"
}

main "$@"
