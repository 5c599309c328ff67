#!/usr/bin/python3
"""A real single-node Slurm (munge + slurmctld + slurmd) in a temporary directory.

Used by the pytest session fixture in conftest.py; also a small command line for trying the job
scripts by hand:

    /usr/bin/python3 tests/slurm/slurmcluster.py start /tmp/slurm-dev   # prints the export line
    export SLURM_CONF=/tmp/slurm-dev/slurm.conf
    sbatch ... ; squeue ; scontrol show job ...
    /usr/bin/python3 tests/slurm/slurmcluster.py stop /tmp/slurm-dev

Everything the cluster writes (config, state, spool, pid and log files) is under the directory.
Daemons run in the foreground as children of this process (their pids are known exactly) and are
stopped by pid: first every job of the cluster is cancelled, then slurmd, then slurmctld, then
munged if this process started it. Nothing else on the machine is touched.

Needs root (SlurmUser=root, slurmd must run as root) and the Debian packages slurm-wlm and munge.
`ClusterUnavailable` carries the reason when Slurm cannot start here; the fixture turns it into a
pytest skip.
"""
from __future__ import annotations

import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

MUNGE_SOCKET = Path("/run/munge/munge.socket.2")
MUNGE_PIDFILE = Path("/run/munge/munged.pid")


class ClusterUnavailable(RuntimeError):
    """Slurm cannot be started on this machine (the message says why)."""


def _free_port_pair() -> int:
    """A port P such that P and P+1 are both free on 127.0.0.1 (slurmctld, slurmd)."""
    rng = random.Random(os.getpid() ^ int(time.time() * 1000))
    for _ in range(200):
        port = rng.randrange(20000, 60000, 2)
        socks = []
        try:
            for p in (port, port + 1):
                s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                s.bind(("127.0.0.1", p))
                socks.append(s)
            return port
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise ClusterUnavailable("no free pair of TCP ports found for slurmctld/slurmd")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child still answers kill(0); treat it as gone.
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def _stop_pid(pid: int, timeout: float = 15.0, proc: subprocess.Popen | None = None) -> None:
    """SIGTERM, wait, then SIGKILL: one process, by pid."""
    if not _pid_alive(pid):
        if proc is not None:
            proc.poll()
        return
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            return
        if not _pid_alive(pid):
            return
        time.sleep(0.1)
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    if proc is not None:
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass


def munge_works() -> bool:
    """True when a munged answers on the default socket (munge -n | unmunge)."""
    if not shutil.which("munge") or not shutil.which("unmunge"):
        return False
    try:
        cred = subprocess.run(["munge", "-n"], capture_output=True, timeout=10)
        if cred.returncode != 0:
            return False
        out = subprocess.run(["unmunge"], input=cred.stdout, capture_output=True, timeout=10)
        return out.returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


class SlurmCluster:
    """One slurmctld + one slurmd (node `localhost`) configured under `root`."""

    def __init__(self, root: Path, cpus: int | None = None):
        self.root = Path(root).resolve()
        self.cpus = max(2, cpus or os.cpu_count() or 2)
        self.conf = self.root / "slurm.conf"
        self.port = 0
        self.ctld: subprocess.Popen | None = None
        self.slurmd: subprocess.Popen | None = None
        self.munged_pid: int | None = None  # set only when this process started munged

    # ------------------------------------------------------------------ environment
    def env(self, base: dict | None = None) -> dict:
        env = dict(os.environ if base is None else base)
        env["SLURM_CONF"] = str(self.conf)
        return env

    def run(self, *args: str, check: bool = True, timeout: float = 60) -> subprocess.CompletedProcess:
        out = subprocess.run(list(args), capture_output=True, text=True, env=self.env(), timeout=timeout)
        if check and out.returncode != 0:
            raise RuntimeError(f"{' '.join(args)} failed ({out.returncode}): {out.stderr.strip()}")
        return out

    # ------------------------------------------------------------------ start
    @staticmethod
    def check_prerequisites() -> None:
        if os.geteuid() != 0:
            raise ClusterUnavailable("not root: a private slurmd must run as root (SlurmUser=root)")
        missing = [b for b in ("slurmctld", "slurmd", "sbatch", "scontrol", "squeue", "sinfo", "scancel",
                               "srun", "munged", "munge", "unmunge")
                   if not shutil.which(b) and not Path("/usr/sbin", b).exists()]
        if missing:
            raise ClusterUnavailable("Slurm/munge binaries missing: " + ", ".join(missing)
                                     + " (install slurm-wlm and munge: scripts/install-deps.sh)")

    def _start_munge(self) -> None:
        if munge_works():
            return
        munged = shutil.which("munged") or "/usr/sbin/munged"
        key = Path("/etc/munge/munge.key")
        if not key.exists():
            raise ClusterUnavailable(f"munge is not running and {key} does not exist "
                                     "(the munge package creates it; `mungekey --create` makes one)")
        rundir = MUNGE_SOCKET.parent
        rundir.mkdir(mode=0o755, parents=True, exist_ok=True)
        shutil.chown(rundir, "munge", "munge")
        # A stale pid file from a dead munged makes munged refuse to start.
        if MUNGE_PIDFILE.exists():
            try:
                old = int(MUNGE_PIDFILE.read_text().strip() or 0)
            except ValueError:
                old = 0
            if not old or not _pid_alive(old):
                MUNGE_PIDFILE.unlink(missing_ok=True)
        out = subprocess.run(["runuser", "-u", "munge", "--", munged], capture_output=True, text=True,
                             timeout=30)
        if out.returncode != 0:
            raise ClusterUnavailable(f"munged failed to start: {out.stderr.strip() or out.stdout.strip()}")
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not munge_works():
            time.sleep(0.1)
        if not munge_works():
            raise ClusterUnavailable("munged started but `munge -n | unmunge` fails")
        try:
            self.munged_pid = int(MUNGE_PIDFILE.read_text().strip())
        except (OSError, ValueError):
            raise ClusterUnavailable(f"munged started but wrote no pid file {MUNGE_PIDFILE}")
        self._save_state()

    def write_config(self) -> None:
        for d in ("state", "spool", "log", "tmp"):
            # Always a fresh cluster: state from an earlier one (another port, another
            # ClusterName) would make slurmctld refuse to start.
            shutil.rmtree(self.root / d, ignore_errors=True)
            (self.root / d).mkdir(parents=True)
        self.port = _free_port_pair()
        r = self.root
        self.conf.write_text(f"""\
# Written by tests/slurm/slurmcluster.py: a private single-node Slurm for the job-script tests.
ClusterName=fedsaftest{self.port}
SlurmctldHost=localhost(127.0.0.1)
SlurmctldPort={self.port}
SlurmdPort={self.port + 1}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation={r}/state
SlurmdSpoolDir={r}/spool
SlurmctldPidFile={r}/slurmctld.pid
SlurmdPidFile={r}/slurmd.pid
SlurmctldLogFile={r}/log/slurmctld.log
SlurmdLogFile={r}/log/slurmd.log
TmpFS={r}/tmp
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
MpiDefault=none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc={r}/log/jobcomp.txt
JobAcctGatherType=jobacct_gather/none
ReturnToService=2
SlurmdParameters=config_overrides
MailProg=/bin/true
MinJobAge=3600
KillWait=20
InactiveLimit=0
SchedulerType=sched/backfill
SchedulerParameters=sched_interval=2
NodeName=localhost NodeAddr=127.0.0.1 CPUs={self.cpus} Sockets=1 CoresPerSocket={self.cpus} ThreadsPerCore=1 State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP OverSubscribe=NO
""")

    def start(self, timeout: float = 60) -> "SlurmCluster":
        self.check_prerequisites()
        self.root.mkdir(parents=True, exist_ok=True)
        self._start_munge()
        self.write_config()
        ctld = shutil.which("slurmctld") or "/usr/sbin/slurmctld"
        slurmd = shutil.which("slurmd") or "/usr/sbin/slurmd"
        logs = self.root / "log"
        # -D: foreground, so the pid is the child's own; -i: ignore any state (fresh dir anyway).
        self.ctld = subprocess.Popen([ctld, "-D", "-i", "-f", str(self.conf)], env=self.env(),
                                     stdout=open(logs / "slurmctld.out", "w"), stderr=subprocess.STDOUT,
                                     start_new_session=True)
        self._save_state()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.ctld.poll() is not None:
                raise ClusterUnavailable("slurmctld exited at start: " + self._tail("slurmctld"))
            if self.run("scontrol", "ping", check=False, timeout=10).stdout.find("UP") >= 0:
                break
            time.sleep(0.2)
        else:
            raise ClusterUnavailable("slurmctld did not answer `scontrol ping`: " + self._tail("slurmctld"))
        self.slurmd = subprocess.Popen([slurmd, "-D", "-f", str(self.conf), "-N", "localhost"], env=self.env(),
                                       stdout=open(logs / "slurmd.out", "w"), stderr=subprocess.STDOUT,
                                       start_new_session=True)
        self._save_state()
        while time.monotonic() < deadline:
            if self.slurmd.poll() is not None:
                raise ClusterUnavailable("slurmd exited at start: " + self._tail("slurmd"))
            state = self.run("sinfo", "-h", "-n", "localhost", "-o", "%t", check=False, timeout=10).stdout.strip()
            if state == "idle":
                return self
            time.sleep(0.2)
        raise ClusterUnavailable(f"node never became idle (state {state!r}): " + self._tail("slurmd"))

    def _tail(self, name: str, n: int = 15) -> str:
        text = ""
        for f in (self.root / "log" / f"{name}.out", self.root / "log" / f"{name}.log"):
            if f.exists():
                text += "\n".join(f.read_text(errors="replace").splitlines()[-n:]) + "\n"
        return text.strip() or "(no log)"

    # ------------------------------------------------------------------ state file (for the CLI)
    def _save_state(self) -> None:
        state = {"ctld": self.ctld.pid if self.ctld else None,
                 "slurmd": self.slurmd.pid if self.slurmd else None,
                 "munged": self.munged_pid}
        (self.root / "pids.json").write_text(json.dumps(state))

    # ------------------------------------------------------------------ stop
    def cancel_all_jobs(self, timeout: float = 40) -> None:
        if not self.conf.exists() or self.ctld is None or self.ctld.poll() is not None:
            return
        self.run("scancel", "-u", "root", check=False)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            q = self.run("squeue", "-h", "-o", "%i %T", check=False, timeout=10)
            if q.returncode != 0 or not q.stdout.strip():
                return
            time.sleep(0.5)

    def stop(self) -> None:
        """Stop everything this object started, by pid. Safe to call twice and after a failed start."""
        try:
            self.cancel_all_jobs()
        except Exception:  # never let cleanup stop the cleanup
            pass
        if self.slurmd is not None:
            _stop_pid(self.slurmd.pid, proc=self.slurmd)
        if self.ctld is not None:
            _stop_pid(self.ctld.pid, proc=self.ctld)
        if self.munged_pid is not None:
            _stop_pid(self.munged_pid)
            self.munged_pid = None
        self._save_state()


# ---------------------------------------------------------------------- command line (dev use)
def _cli(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] not in ("start", "stop"):
        print(__doc__)
        return 2
    cmd, root = argv[0], Path(argv[1]).resolve()
    if cmd == "start":
        c = SlurmCluster(root)
        try:
            c.start()
        except ClusterUnavailable as e:
            c.stop()
            print(f"slurmcluster: cannot start Slurm: {e}", file=sys.stderr)
            return 1
        # Detach: the daemons keep running after this process exits (new sessions).
        print(f"export SLURM_CONF={c.conf}")
        return 0
    pids = json.loads((root / "pids.json").read_text())
    env = dict(os.environ, SLURM_CONF=str(root / "slurm.conf"))
    subprocess.run(["scancel", "-u", "root"], env=env, capture_output=True)
    time.sleep(2)
    for key in ("slurmd", "ctld", "munged"):
        if pids.get(key):
            _stop_pid(int(pids[key]))
    print("slurmcluster: stopped", ", ".join(f"{k}={v}" for k, v in pids.items() if v))
    return 0


if __name__ == "__main__":
    sys.exit(_cli(sys.argv[1:]))
