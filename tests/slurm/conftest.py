"""Fixtures for the job-script tests: a real single-node Slurm and helpers to drive it.

Run as:  FEDSAF_BINARY=build/fedsaf /usr/bin/python3 -m pytest -q tests/slurm
(FEDSAF_BINARY defaults to <repo>/build/fedsaf, FEDSAF_ROOT to the repository of this file.)

The `slurm` session fixture starts munge (when it is not already running), slurmctld and slurmd
with a private config in a temporary directory and a free port pair, and stops every daemon it
started, by pid, when the session ends (pytest finalizer, plus atexit and SIGTERM as backstops).
Where Slurm cannot start (not root, binaries missing, a daemon fails) every test that needs it is
skipped with the reason. FEDSAF_SLURM_KEEP=1 keeps the temporary directory (daemon logs).
"""
from __future__ import annotations

import atexit
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from slurmcluster import ClusterUnavailable, SlurmCluster  # noqa: E402

REPO = Path(os.environ.get("FEDSAF_ROOT") or Path(__file__).resolve().parents[2]).resolve()


@pytest.fixture(scope="session")
def repo() -> Path:
    return REPO


@pytest.fixture(scope="session")
def fedsaf_binary() -> Path:
    b = Path(os.environ.get("FEDSAF_BINARY") or REPO / "build" / "fedsaf").resolve()
    if not (b.is_file() and os.access(b, os.X_OK)):
        pytest.fail(f"fedsaf binary not found at {b}: build it (scripts/build.sh) or set FEDSAF_BINARY",
                    pytrace=False)
    return b


def clean_env(**extra: str) -> dict:
    """The test process's environment without SLURM_* (pytest may itself run inside a job)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLURM_")}
    env["FEDSAF_ROOT"] = str(REPO)
    env.update(extra)
    return env


class Slurm:
    """The running test cluster and small helpers around its commands."""

    def __init__(self, cluster: SlurmCluster):
        self.cluster = cluster
        self.conf = cluster.conf

    def env(self, **extra: str) -> dict:
        return clean_env(SLURM_CONF=str(self.conf), **extra)

    def cmd(self, *args: str, check: bool = True, timeout: float = 60, **kw) -> subprocess.CompletedProcess:
        env = kw.pop("env", None) or self.env()
        res = subprocess.run(list(args), capture_output=True, text=True, env=env, timeout=timeout, **kw)
        if check and res.returncode != 0:
            raise AssertionError(f"{' '.join(args)} exited {res.returncode}:\n{res.stdout}\n{res.stderr}")
        return res

    def sbatch(self, *args: str, env: dict | None = None, cwd: Path | None = None, wait: bool = False,
               timeout: float = 300) -> tuple[str, subprocess.CompletedProcess]:
        """Submit; return (job id, completed sbatch). With wait=True sbatch --wait returns the job's code."""
        cmd = ["sbatch"] + (["--wait"] if wait else []) + list(args)
        res = subprocess.run(cmd, capture_output=True, text=True, env=env or self.env(), cwd=cwd, timeout=timeout)
        m = re.search(r"Submitted batch job (\d+)", res.stdout)
        if not m:
            raise AssertionError(f"sbatch failed ({res.returncode}):\n{res.stdout}\n{res.stderr}")
        return m.group(1), res

    def job(self, jid: str) -> dict:
        """`scontrol show job -o` as a dict (first record; arrays: the first task)."""
        out = self.cmd("scontrol", "show", "job", "-o", jid).stdout.strip().splitlines()
        return parse_job(out[0]) if out else {}

    def jobs(self, jid: str) -> list[dict]:
        """Every record of `scontrol show job -o` (one per array task)."""
        out = self.cmd("scontrol", "show", "job", "-o", jid).stdout.strip().splitlines()
        return [parse_job(line) for line in out if line.strip()]

    def wait_state(self, jid: str, done, timeout: float = 240, what: str = "") -> dict:
        """Poll the job until done(job dict) is true."""
        deadline = time.monotonic() + timeout
        info: dict = {}
        while time.monotonic() < deadline:
            info = self.job(jid)
            if done(info):
                return info
            time.sleep(0.5)
        raise AssertionError(f"job {jid}: timed out after {timeout:.0f} s waiting for {what or 'a state'}; "
                             f"last: {info.get('JobState')} {info.get('Reason')}")

    def wait_finished(self, jid: str, timeout: float = 240) -> dict:
        final = {"COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL", "OUT_OF_MEMORY", "PREEMPTED",
                 "BOOT_FAIL", "DEADLINE"}
        return self.wait_state(jid, lambda j: j.get("JobState") in final, timeout, "the job to end")

    def wait_node_idle(self, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        state = ""
        while time.monotonic() < deadline:
            state = self.cmd("sinfo", "-h", "-n", "localhost", "-o", "%t").stdout.strip()
            if state == "idle":
                return
            time.sleep(0.3)
        raise AssertionError(f"node not idle after {timeout:.0f} s (state {state!r})")

    def queue_size(self) -> int:
        return len(self.cmd("squeue", "-h", "-r").stdout.strip().splitlines())


def parse_job(line: str) -> dict:
    info = {}
    for tok in line.split():
        if "=" in tok:
            k, v = tok.split("=", 1)
            info.setdefault(k, v)
    return info


# Why Slurm could not start, if it could not: then the session exits with 77, which CTest reports as
# "skipped" (SKIP_RETURN_CODE), so a machine without Slurm never counts as a pass.
_unavailable: list[str] = []


def skip_unavailable(reason: str):
    _unavailable.append(reason)
    pytest.skip(f"Slurm cannot start here: {reason}")


def pytest_sessionfinish(session, exitstatus):
    if _unavailable and exitstatus == 0:
        session.exitstatus = 77


@pytest.fixture(scope="session")
def slurm(request) -> Slurm:
    try:
        SlurmCluster.check_prerequisites()
    except ClusterUnavailable as e:
        skip_unavailable(str(e))
    root = Path(tempfile.mkdtemp(prefix="fedsaf-slurm-"))  # short path: UNIX socket paths are limited
    cluster = SlurmCluster(root)
    saved_conf = os.environ.get("SLURM_CONF")

    stopped = []

    def stop():
        if stopped:
            return
        stopped.append(True)
        cluster.stop()
        if saved_conf is None:
            os.environ.pop("SLURM_CONF", None)
        else:
            os.environ["SLURM_CONF"] = saved_conf
        if os.environ.get("FEDSAF_SLURM_KEEP") == "1":
            print(f"\nslurm test cluster kept in {root}", file=sys.stderr)
        else:
            shutil.rmtree(root, ignore_errors=True)

    # Registered before starting, so a half-started cluster is stopped too.
    request.addfinalizer(stop)
    atexit.register(stop)
    if signal.getsignal(signal.SIGTERM) in (signal.SIG_DFL, None):
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # runs the finalizers and atexit
    try:
        cluster.start()
    except ClusterUnavailable as e:
        stop()
        skip_unavailable(str(e))
    os.environ["SLURM_CONF"] = str(cluster.conf)
    return Slurm(cluster)


@pytest.fixture(scope="session")
def has_pmix(slurm) -> bool:
    res = slurm.cmd("srun", "--mpi=list", check=False)
    return re.search(r"\bpmix\b", res.stdout + res.stderr) is not None


def read_text(p: Path) -> str:
    return p.read_text(errors="replace") if p.exists() else f"({p} missing)"
