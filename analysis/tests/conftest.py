"""Run files for the analysis tests, written by the real engine once per test session.

The fedsaf binary is ``$FEDSAF_BINARY`` (default: ``<repo>/build/fedsaf``); without it every
test fails (it does not skip) with a message saying how to provide it.
"""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import pytest

ANALYSIS = Path(__file__).resolve().parents[1]
REPO = ANALYSIS.parent
if str(ANALYSIS) not in sys.path:
    sys.path.insert(0, str(ANALYSIS))

import matplotlib  # noqa: E402

matplotlib.use("Agg")

DEFAULT_CONFIG = REPO / "configs" / "default.toml"
MPI_ENV = {"OMPI_ALLOW_RUN_AS_ROOT": "1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1",
           "OMPI_MCA_rmaps_base_oversubscribe": "1", "OMP_NUM_THREADS": "1"}


def fedsaf_binary_path() -> Path:
    return Path(os.environ.get("FEDSAF_BINARY") or REPO / "build" / "fedsaf")


@pytest.fixture(scope="session")
def fedsaf_binary() -> Path:
    path = fedsaf_binary_path()
    if not (path.is_file() and os.access(path, os.X_OK)):
        pytest.fail(f"fedsaf binary not found or not executable: {path} "
                    "(build it with scripts/build.sh, or set FEDSAF_BINARY=/path/to/fedsaf)",
                    pytrace=False)
    return path


def make_run(binary: Path, out: Path, *sets: str, ranks: int = 1) -> Path:
    """``fedsaf run configs/default.toml --out OUT --quiet --set ...`` on ``ranks`` MPI ranks."""
    cmd = [str(binary), "run", str(DEFAULT_CONFIG), "--out", str(out), "--quiet"]
    for s in sets:
        cmd += ["--set", s]
    env = dict(os.environ, **MPI_ENV)
    if ranks > 1:
        mpirun = shutil.which("mpirun")
        if mpirun is None:
            pytest.fail("mpirun not found: the multi-rank analysis tests need Open MPI",
                        pytrace=False)
        cmd = [mpirun, "-n", str(ranks), "--allow-run-as-root", "--oversubscribe",
               "--bind-to", "none"] + cmd
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    if proc.returncode != 0 or not (out / "run.h5").is_file():
        pytest.fail(f"fedsaf run failed ({' '.join(cmd)}), exit {proc.returncode}:\n"
                    f"{proc.stdout}\n{proc.stderr}", pytrace=False)
    return out / "run.h5"


SMALL = ("run.clients=6",)


@pytest.fixture(scope="session")
def runs(tmp_path_factory, fedsaf_binary) -> dict[str, Path]:
    """Every run file the tests read, by name:

    - ``fedavg`` / ``fedavg_seed2``: fedavg, 6 clients, 12 rounds, seeds 1 and 2;
    - ``fedsaf``: fedsaf, 6 clients, 12 rounds, ξ stored every round, Fisher statistics;
    - ``fedamp``: fedamp on a Dirichlet(0.5) split, 6 rounds, evaluation every 3 rounds,
      ξ stored every 2 rounds;
    - ``fedavg_2ranks``: fedavg, 6 clients, 4 rounds on 2 ranks;
    - ``scaling``: a folder with fedavg at 1 rank / 6 clients, 2 ranks / 6 clients (strong)
      and 2 ranks / 12 clients (weak), 4 rounds each.
    """
    root = tmp_path_factory.mktemp("runs")
    b = fedsaf_binary
    files = {
        "fedavg": make_run(b, root / "fedavg", *SMALL, "run.rounds=12", "run.algorithm=fedavg"),
        "fedavg_seed2": make_run(b, root / "fedavg-seed2", *SMALL, "run.rounds=12",
                                 "run.algorithm=fedavg", "run.seed=2"),
        "fedsaf": make_run(b, root / "fedsaf", *SMALL, "run.rounds=12", "run.algorithm=fedsaf",
                           "attention.every=1"),
        "fedamp": make_run(b, root / "fedamp", *SMALL, "run.rounds=6", "run.algorithm=fedamp",
                           "partition.method=dirichlet", "partition.alpha=0.5",
                           "run.eval_every=3", "attention.every=2"),
    }
    scaling = root / "scaling"
    files["scale_1rank"] = make_run(b, scaling / "strong" / "ranks1", *SMALL, "run.rounds=4")
    files["fedavg_2ranks"] = make_run(b, scaling / "strong" / "ranks2", *SMALL, "run.rounds=4",
                                      ranks=2)
    files["weak_2ranks"] = make_run(b, scaling / "weak" / "ranks2", "run.clients=12",
                                    "run.rounds=4", ranks=2)
    files["scaling"] = scaling
    return files


def png_size(path: Path) -> tuple[int, int]:
    """(width, height) from a PNG file's IHDR chunk; fails unless it is a PNG."""
    data = Path(path).read_bytes()[:24]
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    assert data[12:16] == b"IHDR", f"{path}: no IHDR chunk"
    return struct.unpack(">II", data[16:24])


def assert_png(path: Path, size: tuple[int, int]):
    path = Path(path)
    assert path.is_file(), f"{path} was not written"
    assert path.stat().st_size > 1000, f"{path} is (nearly) empty"
    assert png_size(path) == size, f"{path}: {png_size(path)} pixels, expected {size}"
