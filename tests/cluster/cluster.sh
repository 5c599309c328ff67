#!/usr/bin/env bash
# A cluster in a box: N "nodes" on this machine, each a set of Linux namespaces (network, UTS,
# mount) kept alive by a holder process, with its own hostname (node1..nodeN), its own network
# stack (eth0 on a veth pair into one bridge), a private /tmp and /dev/shm, and /etc/hosts naming
# every node. Everything else of the file system (the checkout, the run folder) is shared, as a
# cluster file system would be.
#
# Addresses are only link-local (169.254.0.0/16): nodes get .1..N of CLUSTER_SUBNET, the host
# none, and there is no route off the bridge, so nothing leaves this machine.
#
# Used two ways:
#   source tests/cluster/cluster.sh; cluster_up DIR N; trap cluster_down EXIT; cluster_exec node1 CMD...
#   bash tests/cluster/cluster.sh up DIR N | exec DIR NODE CMD... | kill-node DIR NODE |
#                                 cut-link DIR NODE | down DIR
# Settings (environment): CLUSTER_SUBNET (a /24 in 169.254.1.0–169.254.254.0, default derived from
# the pid so two runs do not collide), CLUSTER_BRIDGE (≤ 10 characters, default fsc<pid>),
# CLUSTER_SHARED (colon-separated paths under /tmp that must stay visible inside the nodes).
# cluster_check exits 77 (CTest: skipped) where namespaces cannot be made: not root, no
# CAP_NET_ADMIN/CAP_SYS_ADMIN, or unshare/nsenter/ip/bridge missing.

CLUSTER_HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

cluster_log() { echo "cluster: $*" >&2; }

# Exits 77 with the reason when this machine cannot host the cluster.
cluster_check() {
  local tool cap
  for tool in unshare nsenter ip bridge; do
    command -v "$tool" >/dev/null || { cluster_log "skipped: '$tool' not found"; exit 77; }
  done
  [ "$(id -u)" -eq 0 ] || { cluster_log "skipped: needs root (namespaces, bridge, veth)"; exit 77; }
  cap=$((16#$(awk '/^CapEff/ {print $2}' /proc/self/status)))
  (( cap >> 12 & 1 )) || { cluster_log "skipped: no CAP_NET_ADMIN"; exit 77; }
  (( cap >> 21 & 1 )) || { cluster_log "skipped: no CAP_SYS_ADMIN"; exit 77; }
  unshare --net --uts --mount true 2>/dev/null ||
    { cluster_log "skipped: unshare --net --uts --mount is refused here"; exit 77; }
}

# The subnet must be a /24 inside 169.254.0.0/16 (never a private range that may route off-box);
# 169.254.0.x and 169.254.255.x are reserved by RFC 3927.
cluster_validate_subnet() {
  [[ $1 =~ ^169\.254\.([0-9]+)\.0/24$ ]] && (( BASH_REMATCH[1] >= 1 && BASH_REMATCH[1] <= 254 )) || {
    cluster_log "error: CLUSTER_SUBNET=$1 is not a /24 in 169.254.1.0/24–169.254.254.0/24 (link-local only)"
    return 1
  }
}

# The address of node K (1-based).
cluster_addr() { echo "${CLUSTER_SUBNET%.0/24}.$1"; }

# cluster_up DIR N: starts N nodes; their state (pids, hosts file) goes into DIR.
cluster_up() {
  CLUSTER_DIR=$1 CLUSTER_NODES=$2
  local k pid host_end t0
  t0=$(date +%s.%N)
  CLUSTER_SUBNET=${CLUSTER_SUBNET:-169.254.$(( $$ % 254 + 1 )).0/24}
  CLUSTER_BRIDGE=${CLUSTER_BRIDGE:-fsc$(( $$ % 100000 ))}
  cluster_validate_subnet "$CLUSTER_SUBNET" || return 1
  (( ${#CLUSTER_BRIDGE} <= 10 )) || { cluster_log "error: CLUSTER_BRIDGE must be ≤ 10 characters"; return 1; }
  if ip link show "$CLUSTER_BRIDGE" >/dev/null 2>&1; then
    cluster_log "error: a link named $CLUSTER_BRIDGE exists already: set CLUSTER_BRIDGE"; return 1
  fi
  mkdir -p "$CLUSTER_DIR"
  CLUSTER_DIR=$(cd "$CLUSTER_DIR" && pwd)
  export CLUSTER_DIR CLUSTER_NODES CLUSTER_SUBNET CLUSTER_BRIDGE
  {
    echo "127.0.0.1 localhost"
    for ((k = 1; k <= CLUSTER_NODES; k++)); do echo "$(cluster_addr "$k") node$k"; done
  } >"$CLUSTER_DIR/hosts"
  declare -p CLUSTER_DIR CLUSTER_NODES CLUSTER_SUBNET CLUSTER_BRIDGE | sed 's/^declare -x/declare -gx/' \
    >"$CLUSTER_DIR/env"
  : >"$CLUSTER_DIR/pids"
  # The bridge first, so teardown finds it; STP off and no forward delay: ports forward at once.
  ip link add "$CLUSTER_BRIDGE" type bridge forward_delay 0 stp_state 0 || return 1
  echo "bridge $CLUSTER_BRIDGE" >>"$CLUSTER_DIR/pids"
  ip link set "$CLUSTER_BRIDGE" up || return 1
  local stash=""
  if [ -n "${CLUSTER_SHARED:-}" ]; then
    stash=$(mktemp -d /run/fedsaf-cluster-stash.XXXXXX) || return 1
    echo "stash $stash" >>"$CLUSTER_DIR/pids"
  fi
  for ((k = 1; k <= CLUSTER_NODES; k++)); do
    rm -f "$CLUSTER_DIR/node$k.ready"
    # unshare execs the holder in place, so $! is the pid whose namespaces are the node.
    unshare --net --uts --mount --propagation private \
      bash "$CLUSTER_HERE/node-holder.sh" "node$k" "$CLUSTER_DIR" "$stash" "${CLUSTER_SHARED:-}" \
      </dev/null >"$CLUSTER_DIR/node$k.log" 2>&1 &
    pid=$!
    disown "$pid"  # stopped by cluster_down, by pid; no job-control notices
    echo "$pid" >"$CLUSTER_DIR/node$k.pid"
    echo "node $pid" >>"$CLUSTER_DIR/pids"
  done
  for ((k = 1; k <= CLUSTER_NODES; k++)); do
    cluster_wait_file "$CLUSTER_DIR/node$k.ready" 10 || { cluster_log "error: node$k did not start:"; cat "$CLUSTER_DIR/node$k.log" >&2; return 1; }
    pid=$(<"$CLUSTER_DIR/node$k.pid")
    host_end="${CLUSTER_BRIDGE}n$k"
    ip link add "$host_end" type veth peer name eth0 netns "$pid" || return 1
    ip link set "$host_end" master "$CLUSTER_BRIDGE" up || return 1
    nsenter -t "$pid" --net ip addr add "$(cluster_addr "$k")/24" dev eth0 || return 1
    nsenter -t "$pid" --net ip link set eth0 up || return 1
    # The node's identity, for finding its processes even after its holder died.
    echo "$(readlink "/proc/$pid/ns/net") $(readlink "/proc/$pid/ns/uts")" >"$CLUSTER_DIR/node$k.ns"
  done
  # No ping here: a node is reachable once its bridge port forwards and its eth0 is up.
  for ((k = 1; k <= CLUSTER_NODES; k++)); do
    cluster_wait_forwarding "${CLUSTER_BRIDGE}n$k" "$(<"$CLUSTER_DIR/node$k.pid")" || return 1
  done
  CLUSTER_START_SECONDS=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }')
  cluster_log "$CLUSTER_NODES nodes up in $CLUSTER_START_SECONDS s (bridge $CLUSTER_BRIDGE, $CLUSTER_SUBNET, state in $CLUSTER_DIR)"
}

cluster_wait_file() {
  local i
  for ((i = 0; i < $2 * 100; i++)); do [ -e "$1" ] && return 0; sleep 0.01; done
  return 1
}

cluster_wait_forwarding() {
  local i
  for ((i = 0; i < 1000; i++)); do
    if bridge link show dev "$1" 2>/dev/null | grep -q "state forwarding" &&
       nsenter -t "$2" --net ip -br link show eth0 2>/dev/null | grep -q "LOWER_UP"; then
      return 0
    fi
    sleep 0.01
  done
  cluster_log "error: bridge port $1 not forwarding after 10 s"
  return 1
}

# Loads the state of a cluster started by another process (the command-line form, the rsh agent).
cluster_load() {
  CLUSTER_DIR=${1:-${CLUSTER_DIR:?CLUSTER_DIR not set}}
  [ -r "$CLUSTER_DIR/env" ] || { cluster_log "error: no cluster state in $CLUSTER_DIR"; return 1; }
  # shellcheck disable=SC1091
  source "$CLUSTER_DIR/env"
}

cluster_node_pid() {
  local f="$CLUSTER_DIR/$1.pid"
  [ -r "$f" ] || { cluster_log "error: no node named '$1' in $CLUSTER_DIR"; return 1; }
  cat "$f"
}

# cluster_exec NODE CMD...: runs CMD inside the node's namespaces, in the current folder.
cluster_exec() {
  local pid
  pid=$(cluster_node_pid "$1") || return 1
  shift
  nsenter -t "$pid" --net --uts --mount --wd="$PWD" -- "$@"
}

# The pids of every process in NODE's namespaces (the holder and all it runs): its network and
# UTS namespaces both (recorded at start), so a recycled namespace number never matches.
cluster_node_processes() {
  local net uts p
  [ -r "$CLUSTER_DIR/$1.ns" ] || return 0
  read -r net uts <"$CLUSTER_DIR/$1.ns"
  for p in /proc/[0-9]*; do
    [ "$(readlink "$p/ns/net" 2>/dev/null)" = "$net" ] && [ "$(readlink "$p/ns/uts" 2>/dev/null)" = "$uts" ] &&
      echo "${p#/proc/}"
  done
  return 0
}

# cluster_kill_node NODE: a node's processes all die (SIGKILL), then its link goes down. The link
# goes down only once they are gone, so their kernel has closed their connections (as when a
# node's processes crash); cluster_cut_link is the silent loss of a node or its network.
cluster_kill_node() {
  local pids i
  cluster_node_pid "$1" >/dev/null || return 1
  pids=$(cluster_node_processes "$1")
  # shellcheck disable=SC2086
  [ -z "$pids" ] || kill -KILL $pids 2>/dev/null
  for ((i = 0; i < 500; i++)); do
    [ -z "$(cluster_node_processes "$1")" ] && break
    sleep 0.01
  done
  sleep 0.2  # their closing packets (FIN, RST) on the wire
  # With its last process gone the namespace, and its veth pair, may be gone already.
  ip link show "${CLUSTER_BRIDGE}n${1#node}" >/dev/null 2>&1 && cluster_cut_link "$1"
  return 0
}

# cluster_cut_link NODE: NODE's cable is pulled: nothing it sends or is sent arrives any more.
cluster_cut_link() {
  ip link set "${CLUSTER_BRIDGE}n${1#node}" down
}

# A daemon on the host (munged), by the pid in its pid file: SIGTERM, up to 5 s, then SIGKILL.
cluster_stop_pidfile() {
  local pid i
  [ -r "$1" ] && pid=$(<"$1") && [ -n "$pid" ] || return 0
  kill -TERM "$pid" 2>/dev/null || return 0
  for ((i = 0; i < 50; i++)); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null
  return 0
}

# Stops every process in the nodes (by namespace: only what this cluster started), then removes
# the bridge (the veth pairs go with their namespaces) and the stash folder. Safe to call twice.
cluster_down() {
  [ -n "${CLUSTER_DIR:-}" ] && [ -r "$CLUSTER_DIR/pids" ] || return 0
  local kind what k pids
  for ((k = 1; k <= ${CLUSTER_NODES:-0}; k++)); do
    pids=$(cluster_node_processes "node$k" 2>/dev/null)
    # shellcheck disable=SC2086
    [ -z "$pids" ] || kill -KILL $pids 2>/dev/null
  done
  while read -r kind what; do
    case $kind in
      node) kill -KILL "$what" 2>/dev/null ;;
      pidfile) cluster_stop_pidfile "$what" ;;
      dir) [[ $what == /run/fedsaf-* ]] && rm -rf "$what" ;;  # made by mktemp for this cluster
      bridge) ip link del "$what" 2>/dev/null ;;
      stash) rmdir "$what" 2>/dev/null ;;
    esac
  done < <(tac "$CLUSTER_DIR/pids")  # last made, first undone
  for ((k = 1; k <= ${CLUSTER_NODES:-0}; k++)); do ip link del "${CLUSTER_BRIDGE}n$k" 2>/dev/null; done
  rm -f "$CLUSTER_DIR/pids"
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  set -u
  cmd=${1:-}
  case $cmd in
    check) cluster_check; echo "this machine can host the cluster" ;;
    up)
      cluster_check
      # The holders outlive this command: they are in their own session, stopped by `down`.
      cluster_up "${2:?usage: cluster.sh up DIR N}" "${3:-2}" || { cluster_down; exit 1; }
      echo "export CLUSTER_DIR=$CLUSTER_DIR"
      ;;
    exec) cluster_load "${2:?usage: cluster.sh exec DIR NODE CMD...}" && shift 2 && cluster_exec "$@" ;;
    kill-node) cluster_load "${2:?usage: cluster.sh kill-node DIR NODE}" && cluster_kill_node "$3" ;;
    cut-link) cluster_load "${2:?usage: cluster.sh cut-link DIR NODE}" && cluster_cut_link "$3" ;;
    down) cluster_load "${2:?usage: cluster.sh down DIR}" && cluster_down ;;
    *) echo "usage: cluster.sh check | up DIR [N] | exec DIR NODE CMD... | kill-node DIR NODE | cut-link DIR NODE | down DIR" >&2; exit 2 ;;
  esac
fi
