# Site settings for the fedsaf job scripts: copy to jobs/site.sh (sourced by jobs/fedsaf.sbatch in
# every job, before fedsaf is looked up) and edit. Everything here is SITE-SPECIFIC.

# Modules providing MPI, parallel HDF5 and LibTorch (the ones fedsaf was built with):
# module purge
# module load gcc/12 openmpi/4.1 hdf5/1.10-openmpi libtorch/1.13

# Where the fedsaf binary lives when it is not <repo>/build/fedsaf:
# export FEDSAF_BINARY=$HOME/fedsaf/build/fedsaf

# Launcher: auto picks `srun --mpi=pmix` when Slurm has PMIx, else mpirun inside the allocation.
# Another srun MPI plugin (what `srun --mpi=list` shows and your MPI was built for):
# export FEDSAF_SRUN_MPI=pmi2
# Or always mpirun (e.g. when srun starts the ranks as separate singletons):
# export FEDSAF_LAUNCHER=mpirun

# Parent folder of the default run directories (a fast shared file system, not $HOME):
# export FEDSAF_RUNS=/scratch/$USER/fedsaf-runs
