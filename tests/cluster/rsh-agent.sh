#!/usr/bin/env bash
# Open MPI's remote-shell agent for the cluster in a box (mpirun --mca plm_rsh_agent THIS): where
# a real cluster would `ssh HOST COMMAND`, this enters HOST's namespaces and runs COMMAND there
# with sh -c, as sshd would. CLUSTER_DIR (exported by cluster.sh) says which cluster.
# Usage (by mpirun): rsh-agent.sh [ssh options...] HOST COMMAND...
set -u
# shellcheck source=tests/cluster/cluster.sh
source "$(dirname "${BASH_SOURCE[0]}")/cluster.sh"
while [[ ${1:-} == -* ]]; do shift; done  # ssh options (e.g. -x) mean nothing here
host=${1:?rsh-agent.sh: no host given}
shift
cluster_load || exit 255
pid=$(cluster_node_pid "$host") || exit 255
# 255 is ssh's "could not connect": mpirun then reports the node as unreachable.
exec nsenter -t "$pid" --net --uts --mount --wd=/ -- sh -c "$*"
