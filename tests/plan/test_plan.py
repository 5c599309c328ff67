"""`fedsaf plan` against the runs it predicts (issue 23 §7).

Each case runs the real engine under mpirun at 2 ranks, then `fedsaf plan --json` with the same
config, and compares what the run file measured with what the plan said: the client state each
rank holds at the end (exactly, and its split over the memory tiers), the FL protocol's bytes
(exactly), the bytes each rank sent, and the checkpoint's size. Errors and the "will not fit" exit
status are checked too. The binary is $FEDSAF_BINARY (default build/fedsaf).
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import h5py
import pytest

REPO = Path(__file__).resolve().parents[2]
BINARY = Path(os.environ.get("FEDSAF_BINARY") or REPO / "build" / "fedsaf")
ENV = {**os.environ, "OMPI_ALLOW_RUN_AS_ROOT": "1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1",
       "OMPI_MCA_rmaps_base_oversubscribe": "1", "OMP_NUM_THREADS": "1"}
RANKS = 2
# A small synthetic run in which every kind of row state grows: 3 rounds of half the clients,
# evaluations after rounds 2 and 3 (the last), the mlp with its head private at n_head = 1.
COMMON = ["--set", "run.clients=12", "--set", "run.rounds=3", "--set", "run.join_ratio=0.5",
          "--set", "run.eval_every=2", "--set", "run.checkpoint_every=3", "--set", "model.name=mlp",
          "--set", "model.hidden=[32]", "--set", "model.n_head=1", "--set", "attention.every=0"]


def run(args: list[str], check: bool = True) -> subprocess.CompletedProcess:
    if not BINARY.is_file():
        pytest.fail(f"fedsaf binary not found: {BINARY} (build it with scripts/build.sh or set FEDSAF_BINARY)")
    done = subprocess.run(args, env=ENV, capture_output=True, text=True, timeout=600)
    if check and done.returncode != 0:
        pytest.fail(f"{' '.join(args)} exited {done.returncode}:\n{done.stdout}\n{done.stderr}")
    return done


def plan(settings: list[str], *extra: str, check: bool = True) -> tuple[dict, subprocess.CompletedProcess]:
    done = run([str(BINARY), "plan", "--ranks", str(RANKS), "--json", "--calibrate-clients", "2",
                *settings, *extra], check=check)
    return (json.loads(done.stdout) if done.stdout.strip() else {}), done


def measured(out: Path) -> dict:
    with h5py.File(out / "run.h5", "r") as f:
        state = (f["ranks/state_device_bytes"][:] + f["ranks/state_host_bytes"][:] + f["ranks/state_disk_bytes"][:])
        return {"state": [int(v) for v in state],
                "device": [int(v) for v in f["ranks/state_device_bytes"][:]],
                "host": [int(v) for v in f["ranks/state_host_bytes"][:]],
                "disk": [int(v) for v in f["ranks/state_disk_bytes"][:]],
                "up": int(f["metrics/rounds/protocol_bytes_up"][:].max()),
                "down": int(f["metrics/rounds/protocol_bytes_down"][:].max()),
                "sent": int(f["timing/bytes_sent"][:].max())}


def run_and_plan(tmp_path: Path, settings: list[str]) -> tuple[dict, dict, Path]:
    out = tmp_path / "out"
    run(["mpirun", "-n", str(RANKS), "--bind-to", "none", str(BINARY), "run", "--quiet", "--out", str(out),
         *settings])
    predicted, _ = plan(settings)
    return predicted, measured(out), out


@pytest.mark.parametrize("algorithm", ["fedavg", "local", "fedper", "fedamp", "fedsaf"])
def test_state_and_protocol_bytes_are_those_the_run_measures(tmp_path, algorithm):
    settings = [*COMMON, "--set", f"run.algorithm={algorithm}"]
    predicted, got, out = run_and_plan(tmp_path, settings)
    assert [r["state_bytes"] for r in predicted["per_rank"]] == got["state"]
    assert predicted["protocol_bytes_up"] == got["up"]
    assert predicted["protocol_bytes_down"] == got["down"]
    if algorithm != "fedavg":
        assert min(got["state"]) > 0  # every rank's clients trained: the comparison is not of zeros
    # What ranks send: the engine's reductions and, for fedamp and fedsaf, the attention
    # exchange; the plan models the collectives' payloads, not their small control messages.
    sent = max(r["bytes_sent_per_round"] for r in predicted["per_rank"])
    assert 0.75 * got["sent"] <= sent <= 1.25 * got["sent"], (sent, got["sent"])
    checkpoints = sorted((out / "checkpoints").glob("*.h5"))
    assert checkpoints, f"no checkpoint under {out / 'checkpoints'}"
    size = checkpoints[-1].stat().st_size
    assert 0.75 * size <= predicted["checkpoint_bytes"] <= 1.25 * size, (predicted["checkpoint_bytes"], size)


@pytest.mark.parametrize("device_mb", ["0.02", "0"])
def test_the_state_split_over_the_tiers_is_the_runs(tmp_path, device_mb):
    # 0.05 MiB of host memory per rank for fedsaf's rows (P + 2 S floats per trained client): the
    # rest goes to the disk tier in run.state_dir. With run.device_state_mb automatic (0) on the
    # CPU, the device takes nothing: the host budget decides what stays in memory.
    state_dir = tmp_path / "scratch"
    state_dir.mkdir()
    settings = [*COMMON, "--set", "run.algorithm=fedsaf", "--set", f"run.state_dir={state_dir}",
                "--set", "run.host_state_mb=0.05", "--set", f"run.device_state_mb={device_mb}"]
    predicted, got, _ = run_and_plan(tmp_path, settings)
    row = 4 * predicted["params"]  # the largest row (θ, P floats): the tiers fill a row at a time, first fit
    for r, rank in enumerate(predicted["per_rank"]):
        assert rank["state_bytes"] == got["state"][r]
        assert got["disk"][r] > 0, "the case must reach the disk tier"
        if device_mb == "0":
            assert got["device"][r] == 0 and rank["state_device_bytes"] == 0
        for tier in ("device", "host", "disk"):
            assert abs(rank[f"state_{tier}_bytes"] - got[tier][r]) <= row, (tier, r, rank, got)


def test_a_peak_beyond_the_node_memory_is_a_warning_and_exit_status_3():
    settings = [*COMMON, "--set", "run.algorithm=fedsaf"]
    predicted, done = plan(settings, "--node-memory-gb", "0.05", check=False)
    assert done.returncode == 3, done.stderr
    assert predicted["warnings"] and "will not fit" in predicted["warnings"][0]
    assert "run.state_dir" in predicted["warnings"][0]  # what to do about it
    fits, done = plan(settings, "--node-memory-gb", "1000")
    assert done.returncode == 0 and fits["warnings"] == []


@pytest.mark.parametrize("ranks, message", [("0", "--ranks 0"), ("13", "run.clients")])
def test_impossible_rank_counts_are_one_clear_error(ranks, message):
    done = run([str(BINARY), "plan", "--ranks", ranks, *COMMON], check=False)
    assert done.returncode == 1
    assert message in done.stderr and done.stderr.count("fedsaf: error:") == 1, done.stderr


def test_the_text_plan_names_every_part():
    done = run([str(BINARY), "plan", "--ranks", "2", *COMMON, "--set", "run.algorithm=fedsaf"])
    for part in ("peak memory", "checkpoint: about", "per training round", "per evaluation round", "fits:"):
        assert part in done.stdout, (part, done.stdout)
