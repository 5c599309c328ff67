"""jobs/fedsaf.sbatch on a real single-node Slurm: one run at 2 ranks (srun and the mpirun
fallback), and the same script outside Slurm."""
from __future__ import annotations

import subprocess
from pathlib import Path

import h5py
import numpy as np

from conftest import clean_env, read_text

TINY = ["--set", "run.rounds=4", "--set", "run.clients=6", "--quiet"]


def check_run_file(path: Path, rounds: int, ranks: int, log: str = "") -> dict:
    assert path.exists(), f"{path} was not written; job output:\n{log}"
    with h5py.File(path, "r") as f:
        status = f.attrs["status"]
        status = status.decode() if isinstance(status, bytes) else status
        assert status == "complete", f"{path}: status {status!r}"
        assert int(f.attrs["world_size"]) == ranks
        acc = f["metrics/eval/accuracy"][()]
        assert acc.shape == (rounds,) and np.all((acc >= 0) & (acc <= 1)), acc
        assert f["timing/train_seconds"].shape == (rounds, ranks)  # timing per rank
        return {"accuracy": acc, "loss": f["metrics/eval/loss"][()]}


def test_single_run_two_ranks(slurm, repo, fedsaf_binary, has_pmix, tmp_path):
    """sbatch --wait the batch script with a tiny config at 2 ranks; the run directory is named
    after the job; the HDF5 file is complete; the launcher is srun --mpi=pmix where Slurm has it."""
    env = slurm.env(FEDSAF_BINARY=str(fedsaf_binary), FEDSAF_RUNS=str(tmp_path / "runs"))
    jid, res = slurm.sbatch("--job-name=one", "--nodes=1", "--ntasks-per-node=2", f"--output={tmp_path}/%x-%j.out",
                            str(repo / "jobs" / "fedsaf.sbatch"), str(repo / "configs" / "default.toml"), *TINY,
                            env=env, cwd=tmp_path, wait=True)
    log = read_text(tmp_path / f"one-{jid}.out")
    assert res.returncode == 0, f"job {jid} failed ({res.returncode}):\n{log}"
    run_dir = tmp_path / "runs" / f"one-{jid}"
    check_run_file(run_dir / "run.h5", rounds=4, ranks=2, log=log)
    attempts = read_text(run_dir / "slurm-jobs.log")
    assert f"job={jid}" in attempts and "rc=0 action=complete" in attempts, attempts
    assert ("launcher=srun" if has_pmix else "launcher=mpirun") in attempts, attempts
    assert "2 rank(s)" in log, log
    info = slurm.job(jid)
    assert info["JobState"] == "COMPLETED" and info["ExitCode"] == "0:0", info


def test_mpirun_fallback_in_allocation(slurm, repo, fedsaf_binary, tmp_path):
    """FEDSAF_LAUNCHER=mpirun (what `auto` picks where srun has no PMIx): mpirun inside the
    allocation runs the same 2-rank job; --out is honoured."""
    env = slurm.env(FEDSAF_BINARY=str(fedsaf_binary), FEDSAF_LAUNCHER="mpirun")
    out = tmp_path / "run-mpirun"
    jid, res = slurm.sbatch("--job-name=fallback", "--ntasks=2", "--ntasks-per-node=2",
                            f"--output={tmp_path}/%x-%j.out", str(repo / "jobs" / "fedsaf.sbatch"),
                            str(repo / "configs" / "default.toml"), "--out", str(out), *TINY,
                            env=env, cwd=tmp_path, wait=True)
    log = read_text(tmp_path / f"fallback-{jid}.out")
    assert res.returncode == 0, f"job {jid} failed ({res.returncode}):\n{log}"
    check_run_file(out / "run.h5", rounds=4, ranks=2, log=log)
    assert "launcher=mpirun" in read_text(out / "slurm-jobs.log")

    # A second submission of a finished run does nothing (e.g. a requeue after completion).
    jid2, res2 = slurm.sbatch("--job-name=again", "--ntasks=1", "--ntasks-per-node=1",
                              f"--output={tmp_path}/%x-%j.out", str(repo / "jobs" / "fedsaf.sbatch"),
                              str(repo / "configs" / "default.toml"), "--out", str(out), *TINY,
                              env=env, cwd=tmp_path, wait=True)
    assert res2.returncode == 0
    assert "already complete" in read_text(tmp_path / f"again-{jid2}.out")


def test_outside_slurm_prints_notice_and_mpirun_command(repo, fedsaf_binary, tmp_path):
    """Without SLURM_* the script says so, prints the equivalent mpirun command, and (dry run here)
    would run it with FEDSAF_NTASKS ranks."""
    env = clean_env(FEDSAF_BINARY=str(fedsaf_binary), FEDSAF_DRY_RUN="1", FEDSAF_NTASKS="2")
    res = subprocess.run(["bash", str(repo / "jobs" / "fedsaf.sbatch"), str(repo / "configs" / "default.toml"),
                          "--out", str(tmp_path / "r"), "--set", "run.rounds=2"],
                         capture_output=True, text=True, env=env, cwd=tmp_path, timeout=60)
    assert res.returncode == 0, res.stderr
    assert "not inside a Slurm job" in res.stderr, res.stderr
    assert "mpirun -n 2" in res.stderr and "mpirun -n 2" in res.stdout
    assert f"{fedsaf_binary} run {repo}/configs/default.toml --out {tmp_path}/r --set run.rounds=2" in res.stdout
    assert not (tmp_path / "r").exists(), "a dry run must not create the run directory"


def test_gpu_binding_wrapper(repo):
    """jobs/gpu-bind.sh keeps one device per rank (node-local rank mod count) and leaves a
    single-device list alone."""
    def visible(env):
        res = subprocess.run([str(repo / "jobs" / "gpu-bind.sh"), "bash", "-c", "echo ${CUDA_VISIBLE_DEVICES-unset}"],
                             capture_output=True, text=True, env=clean_env(**env), timeout=30)
        return res.stdout.strip()
    assert visible({"CUDA_VISIBLE_DEVICES": "0,1,2,3", "SLURM_LOCALID": "2"}) == "2"
    assert visible({"CUDA_VISIBLE_DEVICES": "4,5", "SLURM_LOCALID": "0", "OMPI_COMM_WORLD_LOCAL_RANK": "3"}) == "5"
    assert visible({"CUDA_VISIBLE_DEVICES": "7", "SLURM_LOCALID": "3"}) == "7"
    assert visible({}) == "unset"
