"""jobs/fedsaf-sweep on a real Slurm: 4 points as one job array (at most 2 at once) and the
analysis job that depends on it; --dry-run; the message where there is no Slurm."""
from __future__ import annotations

import json
import subprocess
from pathlib import Path

import h5py

from conftest import clean_env, read_text

# A stand-in for the analysis step: lists the run files that exist when it runs, then the time.
STAND_IN = ('for f in {runs}; do test -f "$f" && echo "$f"; done > {sweep}/analysis-ran.txt; '
            'date +%s.%N >> {sweep}/analysis-ran.txt')


def write_sweep(tmp_path: Path, repo: Path) -> Path:
    sweep = tmp_path / "tiny.toml"
    sweep.write_text(f"""\
name = "tiny"
config = "{repo}/configs/default.toml"
concurrency = 2
analysis = "compare"

[set]
"run.rounds" = 3
"run.clients" = 6

[grid]
"run.algorithm" = ["fedavg", "fedprox"]
"run.seed" = [1, 2]

[slurm]
ntasks = 1
""")
    return sweep


def sweep_cmd(repo: Path, *args: str) -> list[str]:
    return [str(repo / "jobs" / "fedsaf-sweep"), *args]


def attr(f, key):
    v = f.attrs[key]
    return v.decode() if isinstance(v, bytes) else v


def test_sweep_array_then_analysis(slurm, repo, fedsaf_binary, tmp_path):
    sweep = write_sweep(tmp_path, repo)
    out = tmp_path / "sweep"
    env = slurm.env(FEDSAF_BINARY=str(fedsaf_binary), FEDSAF_ANALYSIS_CMD=STAND_IN)
    res = subprocess.run(sweep_cmd(repo, str(sweep), "--out", str(out)), capture_output=True, text=True,
                         env=env, cwd=tmp_path, timeout=120)
    assert res.returncode == 0, res.stdout + res.stderr
    sub = json.loads((out / "submitted.json").read_text())
    assert len(sub["arrays"]) == 1, sub
    array_id = sub["arrays"][0]["job_id"]
    analysis_id = sub["analysis"]["job_id"]

    # The array is throttled to 2 tasks at once; the analysis job waits for all of it.
    first = slurm.job(array_id)
    assert first.get("ArrayTaskThrottle") == "2", first
    ana = slurm.job(analysis_id)
    assert f"afterok:{array_id}" in ana.get("Dependency", "") or ana["JobState"] != "PENDING", ana

    done = slurm.wait_finished(analysis_id, timeout=300)
    logs = "\n".join(read_text(p) for p in sorted((out / "logs").glob("*.out")))
    assert done["JobState"] == "COMPLETED", f"analysis job: {done}\n{logs}"

    # Every point: its own resolved config and a complete run file with the point's values.
    points = sorted((out / "points").iterdir())
    assert len(points) == 4
    expected = {("fedavg", 1), ("fedavg", 2), ("fedprox", 1), ("fedprox", 2)}
    seen = set()
    finished = []
    for p in points:
        assert (p / "config.toml").exists()
        with h5py.File(p / "run.h5", "r") as f:
            assert attr(f, "status") == "complete", p
            assert f["metrics/eval/accuracy"].shape == (3,)
            seen.add((attr(f, "algorithm"), int(f.attrs["seed"])))
            assert int(f.attrs["world_size"]) == 1
        finished.append((p / "run.h5").stat().st_mtime)
    assert seen == expected

    # Every array task succeeded and ended before the analysis job started.
    tasks = [t for t in slurm.jobs(array_id) if t.get("ArrayJobId") == array_id]
    assert len(tasks) == 4, tasks
    assert all(t["JobState"] == "COMPLETED" for t in tasks), [t["JobState"] for t in tasks]
    assert done["StartTime"] >= max(t["EndTime"] for t in tasks), (done["StartTime"], [t["EndTime"] for t in tasks])

    # The stand-in analysis saw all four run files, and ran after the last one was written.
    ran = (out / "analysis-ran.txt").read_text().split()
    assert sorted(ran[:-1]) == sorted(str(p / "run.h5") for p in points), ran
    assert float(ran[-1]) >= max(finished)
    assert "date +%s.%N" in read_text(out / "analysis.sh")


def test_sweep_dry_run_submits_nothing(slurm, repo, fedsaf_binary, tmp_path):
    sweep = write_sweep(tmp_path, repo)
    out = tmp_path / "dry"
    before = slurm.queue_size()
    jobs_before = slurm.cmd("scontrol", "show", "jobs", "-o").stdout.count("JobId=")
    res = subprocess.run(sweep_cmd(repo, str(sweep), "--out", str(out), "--dry-run"), capture_output=True, text=True,
                         env=slurm.env(FEDSAF_BINARY=str(fedsaf_binary)), cwd=tmp_path, timeout=120)
    assert res.returncode == 0, res.stderr
    lines = [l for l in res.stdout.splitlines() if l.startswith("sbatch ")]
    assert len(lines) == 2, res.stdout
    assert "--array=0-3%2" in lines[0] and "fedsaf.sbatch --points" in lines[0]
    assert "--ntasks=1" in lines[0]
    assert "--dependency=afterok:" in lines[1] and "analysis.sh" in lines[1]
    assert "fedsaf-analysis\" compare" in res.stdout  # the default analysis step
    assert not out.exists(), "a dry run must write nothing"
    assert slurm.queue_size() == before
    assert slurm.cmd("scontrol", "show", "jobs", "-o").stdout.count("JobId=") == jobs_before


def test_sweep_rejects_bad_key_before_submitting(repo, fedsaf_binary, tmp_path):
    sweep = write_sweep(tmp_path, repo)
    sweep.write_text(sweep.read_text().replace('"run.seed"', '"run.sed"'))
    res = subprocess.run(sweep_cmd(repo, str(sweep), "--dry-run"), capture_output=True, text=True,
                         env=clean_env(FEDSAF_BINARY=str(fedsaf_binary)), cwd=tmp_path, timeout=120)
    assert res.returncode == 2
    assert "run.sed" in res.stderr


def test_sweep_without_slurm_says_so(repo, fedsaf_binary, tmp_path):
    """No sbatch on PATH: a clear message (and --local / --dry-run as the ways forward)."""
    sweep = write_sweep(tmp_path, repo)
    empty = tmp_path / "bin"
    empty.mkdir()
    res = subprocess.run(sweep_cmd(repo, str(sweep), "--out", str(tmp_path / "s")), capture_output=True, text=True,
                         env=clean_env(FEDSAF_BINARY=str(fedsaf_binary), PATH=str(empty)), cwd=tmp_path, timeout=120)
    assert res.returncode == 2
    assert "sbatch not found" in res.stderr and "--local" in res.stderr, res.stderr
    assert not (tmp_path / "s").exists()


def test_sweep_local_runs_points_here(repo, fedsaf_binary, tmp_path):
    """--local (no Slurm): every point through jobs/fedsaf.sbatch with mpirun, then the analysis."""
    sweep = write_sweep(tmp_path, repo)
    sweep.write_text(sweep.read_text().replace('"run.algorithm" = ["fedavg", "fedprox"]\n', "")
                     .replace('"run.rounds" = 3', '"run.rounds" = 2'))
    out = tmp_path / "local"
    res = subprocess.run(sweep_cmd(repo, str(sweep), "--out", str(out), "--local", "--analysis-cmd", STAND_IN),
                         capture_output=True, text=True, env=clean_env(FEDSAF_BINARY=str(fedsaf_binary)),
                         cwd=tmp_path, timeout=300)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "not inside a Slurm job" in res.stderr
    points = sorted((out / "points").iterdir())
    assert len(points) == 2
    for p in points:
        with h5py.File(p / "run.h5", "r") as f:
            assert attr(f, "status") == "complete" and f["metrics/eval/accuracy"].shape == (2,)
    ran = (out / "analysis-ran.txt").read_text().split()
    assert sorted(ran[:-1]) == sorted(str(p / "run.h5") for p in points)
