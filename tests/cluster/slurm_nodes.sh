#!/usr/bin/env bash
# Slurm on the cluster in a box (sourced; slurm_up after cluster_up): its own munged (own key and
# socket in /run, started on the host: a UNIX socket path reaches every node through the shared
# file system), slurmctld on node1 (the head node) and one slurmd per node, each in that node's
# namespaces.
# The config (SLURM_CONF), state, spool and logs are fresh under $CLUSTER_DIR/slurm every time:
# a controller that finds old state reuses job ids and trips over stale sockets. Each node's
# TmpFS is its private /tmp (Slurm's PMIx plugin needs a per-node one).
# slurm_check exits 77 where Slurm or munge is not installed; cluster_down stops the daemons
# (munged by its pid file, the others with their nodes).

SLURM_BINARIES=(munged mungekey slurmctld slurmd sbatch scontrol sinfo srun)

slurm_check() {
  local b
  for b in "${SLURM_BINARIES[@]}"; do
    command -v "$b" >/dev/null || [ -x "/usr/sbin/$b" ] ||
      { cluster_log "skipped: '$b' not found (install slurm-wlm and munge: scripts/install-deps.sh)"; exit 77; }
  done
  id munge >/dev/null 2>&1 || { cluster_log "skipped: no 'munge' user (install munge)"; exit 77; }
}

# slurm_test_start BINARY N: for a test that sourced cluster_test.sh: skips (77) without Slurm or
# munge, else cluster_test_start with Slurm up on its nodes.
slurm_test_start() {
  slurm_check
  cluster_test_start "$1" "$2"
  slurm_up || { echo "FAIL: Slurm did not start on the cluster"; exit 1; }
}

# slurm_cmd CMD...: a Slurm client command on node1 (the login node) against this cluster.
slurm_cmd() { SLURM_CONF=$SLURM_DIR/slurm.conf cluster_exec node1 "$@"; }

# slurm_submit CMD...: slurm_cmd with what the jobs need in the environment (sbatch exports it):
# the binary and checkout under test, and Open MPI held to the cluster's subnet, as a site would
# set it for its network. SBATCH_SIGNAL: the tests' jobs have limits of minutes, and a USR1 lead
# of the batch script's 180 s is due at once: Slurm sent it on its next check (seen under load)
# and the job checkpointed and requeued itself.
slurm_submit() {
  SBATCH_SIGNAL=B:USR1@20 FEDSAF_BINARY=$CLUSTER_BINARY FEDSAF_ROOT=$CLUSTER_REPO \
    OMPI_MCA_btl_tcp_if_include=$CLUSTER_SUBNET OMPI_MCA_oob_tcp_if_include=$CLUSTER_SUBNET \
    OMPI_MCA_mpi_yield_when_idle=1 slurm_cmd "$@"
}

# slurm_job_field JOB FIELD: one field of `scontrol show job` (JobState, Restarts, NodeList, ...);
# of an array job, one line per task.
slurm_job_field() {
  slurm_cmd scontrol show job -o "$1" 2>/dev/null | grep -oE "(^| )$2=[^ ]*" | cut -d= -f2-
}

slurm_write_conf() {
  local k cpus
  cpus=$(nproc)
  (( cpus >= 2 )) || cpus=2
  {
    echo "# Written by tests/cluster/slurm_nodes.sh: Slurm over the cluster in a box."
    echo "ClusterName=fedsafbox"
    echo "SlurmctldHost=node1($(cluster_addr 1))"
    echo "SlurmUser=root"
    echo "SlurmdUser=root"
    echo "AuthType=auth/munge"
    echo "AuthInfo=socket=$SLURM_MUNGE_DIR/munge.socket"
    echo "StateSaveLocation=$SLURM_DIR/state"
    echo "SlurmdSpoolDir=$SLURM_DIR/spool/%n"
    echo "SlurmctldPidFile=$SLURM_DIR/slurmctld.pid"
    echo "SlurmdPidFile=$SLURM_DIR/slurmd-%n.pid"
    echo "SlurmctldLogFile=$SLURM_DIR/log/slurmctld.log"
    echo "SlurmdLogFile=$SLURM_DIR/log/slurmd-%n.log"
    echo "TmpFS=/tmp"
    echo "ProctrackType=proctrack/linuxproc"
    echo "TaskPlugin=task/none"
    echo "SelectType=select/cons_tres"
    echo "SelectTypeParameters=CR_Core"
    echo "MpiDefault=none"
    echo "AccountingStorageType=accounting_storage/none"
    echo "JobCompType=jobcomp/filetxt"
    echo "JobCompLoc=$SLURM_DIR/log/jobcomp.txt"
    echo "JobAcctGatherType=jobacct_gather/none"
    echo "ReturnToService=2"
    echo "SlurmdTimeout=10"
    echo "MailProg=/bin/true"
    echo "MinJobAge=3600"
    echo "KillWait=5"  # a requeued job's old step is gone sooner
    echo "InactiveLimit=0"
    echo "SchedulerType=sched/backfill"
    echo "SchedulerParameters=sched_interval=2"
    for ((k = 1; k <= CLUSTER_NODES; k++)); do
      echo "NodeName=node$k NodeAddr=$(cluster_addr "$k") CPUs=$cpus Sockets=1 CoresPerSocket=$cpus ThreadsPerCore=1 State=UNKNOWN"
    done
    echo "PartitionName=box Nodes=node[1-$CLUSTER_NODES] Default=YES MaxTime=INFINITE State=UP OverSubscribe=NO"
  } >"$SLURM_DIR/slurm.conf"
}

slurm_start_munge() {
  # munged (user munge) must reach its folder, so not under a private 700 one (mktemp, /root),
  # and refuses keys and sockets in folders others may write to: its own, munge's, 755, in /run.
  local m
  m=$(mktemp -d /run/fedsaf-munge.XXXXXX) || return 1
  echo "dir $m" >>"$CLUSTER_DIR/pids"
  SLURM_MUNGE_DIR=$m
  chown munge:munge "$m"
  chmod 755 "$m"
  mungekey --create --keyfile="$m/munge.key" --force >/dev/null 2>&1 ||
    dd if=/dev/urandom of="$m/munge.key" bs=1024 count=1 status=none
  chown munge:munge "$m/munge.key"
  chmod 400 "$m/munge.key"
  runuser -u munge -- munged --socket="$m/munge.socket" --key-file="$m/munge.key" \
    --pid-file="$m/munged.pid" --log-file="$m/munged.log" --seed-file="$m/munged.seed" ||
    { cluster_log "error: munged did not start: $(tail -n 3 "$m/munged.log" 2>/dev/null)"; return 1; }
  echo "pidfile $m/munged.pid" >>"$CLUSTER_DIR/pids"
}

# slurm_up: munged, slurmctld on node1, slurmd on every node; waits until every node is idle.
slurm_up() {
  local k i t0 idle
  t0=$(date +%s.%N)
  SLURM_DIR=$CLUSTER_DIR/slurm
  export SLURM_DIR
  rm -rf "$SLURM_DIR"
  mkdir -p "$SLURM_DIR"/{state,log}
  for ((k = 1; k <= CLUSTER_NODES; k++)); do mkdir -p "$SLURM_DIR/spool/node$k"; done
  slurm_start_munge || return 1
  slurm_write_conf
  # -D: in the foreground, so the pid is the daemon's; backgrounded here, stopped by pid.
  SLURM_CONF=$SLURM_DIR/slurm.conf cluster_exec node1 slurmctld -D -i -f "$SLURM_DIR/slurm.conf" \
    >"$SLURM_DIR/log/slurmctld.out" 2>&1 &
  echo "node-daemon $!" >>"$CLUSTER_DIR/pids"  # for the record: stopped with its node
  for ((i = 0; i < 300; i++)); do
    slurm_cmd scontrol ping 2>/dev/null | grep -q "is UP" && break
    sleep 0.1
  done
  for ((k = 1; k <= CLUSTER_NODES; k++)); do
    SLURM_CONF=$SLURM_DIR/slurm.conf cluster_exec "node$k" slurmd -D -f "$SLURM_DIR/slurm.conf" -N "node$k" \
      >"$SLURM_DIR/log/slurmd-node$k.out" 2>&1 &
    echo "node-daemon $!" >>"$CLUSTER_DIR/pids"  # for the record: stopped with its node
  done
  for ((i = 0; i < 300; i++)); do
    idle=$(slurm_cmd sinfo -h -o "%t %D" 2>/dev/null)
    [ "$idle" = "idle $CLUSTER_NODES" ] && break
    sleep 0.1
  done
  if [ "$idle" != "idle $CLUSTER_NODES" ]; then
    cluster_log "error: Slurm nodes not idle after 30 s (sinfo: ${idle:-no answer}); logs in $SLURM_DIR/log"
    tail -n 5 "$SLURM_DIR"/log/*.out "$SLURM_DIR"/log/*.log >&2 2>/dev/null
    return 1
  fi
  cluster_log "Slurm up in $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }') s: slurmctld on node1, slurmd on node1..node$CLUSTER_NODES"
}
