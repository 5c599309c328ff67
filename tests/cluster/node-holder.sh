#!/usr/bin/env bash
# The holder of one node of the cluster in a box (tests/cluster/cluster.sh), run by
# `unshare --net --uts --mount --propagation private`: it gives the fresh namespaces a hostname,
# a private /tmp and /dev/shm (as separate machines have; Open MPI and Slurm keep per-node files
# there), the cluster's /etc/hosts and a loopback, then sleeps so the namespaces stay alive.
# Usage: node-holder.sh NAME CLUSTER_DIR STASH SHARED (SHARED: colon-separated paths under /tmp
# that stay visible, re-bound through the empty folder STASH; STASH and SHARED may be empty).
set -eu
name=$1 dir=$2 stash=$3 shared=$4

hostname "$name"
mount -t tmpfs -o mode=1777 "$name-shm" /dev/shm
if [ -n "$shared" ]; then
  # The host's /tmp stays reachable through the stash while the private one is mounted over it.
  mount --bind /tmp "$stash"
fi
mount -t tmpfs -o mode=1777 "$name-tmp" /tmp
if [ -n "$shared" ]; then
  IFS=: read -r -a paths <<<"$shared"
  for p in "${paths[@]}"; do
    case $p in
      /tmp/*)
        rel=${p#/tmp/}
        if [ -d "$stash/$rel" ]; then mkdir -p "/tmp/$rel"; else mkdir -p "$(dirname "/tmp/$rel")"; touch "/tmp/$rel"; fi
        mount --bind "$stash/$rel" "/tmp/$rel" ;;
    esac
  done
  umount -l "$stash"
fi
mount --bind "$dir/hosts" /etc/hosts
ip link set lo up
touch "$dir/$name.ready"
exec sleep infinity
