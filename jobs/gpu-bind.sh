#!/bin/bash
# One GPU per MPI rank: run as `srun ... jobs/gpu-bind.sh fedsaf run ...` (fedsaf.sbatch does this
# when the job has GPUs). When CUDA_VISIBLE_DEVICES lists several devices (mpirun, or srun
# without per-task GPU binding), the rank keeps only entry (node-local rank mod count); when it
# lists one (srun --gpus-per-task=1 with per-task binding, or cgroup-constrained devices), it is
# left as it is. Node-local rank: OMPI_COMM_WORLD_LOCAL_RANK (mpirun; checked first, since a
# batch step exports SLURM_LOCALID=0 to everything mpirun starts) or SLURM_LOCALID (srun).
if [ -n "${CUDA_VISIBLE_DEVICES:-}" ]; then
  IFS=, read -r -a devs <<< "$CUDA_VISIBLE_DEVICES"
  if [ "${#devs[@]}" -gt 1 ]; then
    local_rank=${OMPI_COMM_WORLD_LOCAL_RANK:-${MPI_LOCALRANKID:-${SLURM_LOCALID:-0}}}
    export CUDA_VISIBLE_DEVICES=${devs[$((local_rank % ${#devs[@]}))]}
  fi
fi
exec "$@"
