"""The per-client tables a Run reads on first use equal what load_run built eagerly before they
became lazy (the eager construction is kept here, as it was), and touching them changes nothing
else: summaries, comparisons and the other frames are the same either way."""

import h5py
import numpy as np
import pandas as pd
import pytest

from fedsaf_analysis import group_table, load_run, summary_table
from fedsaf_analysis.compare import curves, group_runs


def eager_frames(path) -> dict:
    """client_accuracy, histogram and partition as reading.py built them eagerly (up to
    58c3004), from the same file."""
    with h5py.File(path, "r") as h5:
        eval_round = h5["metrics/eval/round"][()]
        n_evals = min(len(h5["metrics/eval"][n]) for n in h5["metrics/eval"]
                      if isinstance(h5["metrics/eval"][n], h5py.Dataset)
                      and h5["metrics/eval"][n].ndim == 1)
        rounds = np.asarray(eval_round[:n_evals], dtype=np.int64) + 1
        acc = np.asarray(h5["metrics/eval/client_accuracy"][()], dtype=float)[:n_evals]
        hist = np.asarray(h5["partition/histogram"][()], dtype=np.int64)
        sizes = np.asarray(h5["partition/sizes"][()], dtype=np.int64)
        placement = np.asarray(h5["partition/placement"][()], dtype=np.int64)
    n_clients = acc.shape[1]
    client_accuracy = pd.DataFrame({
        "round": np.repeat(rounds[:acc.shape[0]], n_clients),
        "client": np.tile(np.arange(n_clients), acc.shape[0]),
        "accuracy": acc.reshape(-1),
    })
    total = hist.sum(axis=1)
    dominant = hist.argmax(axis=1) if hist.size else np.zeros(len(hist), dtype=np.int64)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(total > 0, hist.max(axis=1, initial=0) / np.maximum(total, 1), np.nan)
    partition = pd.DataFrame({
        "client": np.arange(len(hist)),
        "rank": placement[:len(hist)],
        "train_size": sizes[:len(hist), 0],
        "test_size": sizes[:len(hist), 1],
        "size": total,
        "classes": (hist > 0).sum(axis=1),
        "dominant_class": dominant,
        "dominant_share": share,
    })
    wide = client_accuracy.pivot(index="round", columns="client", values="accuracy")
    return {"client_accuracy": client_accuracy, "histogram": hist, "partition": partition,
            "wide": wide}


LAZY = ("client_accuracy", "client_accuracy_array", "histogram", "partition")


@pytest.mark.parametrize("name", ["fedavg", "fedsaf", "fedamp", "fedavg_2ranks", "weak_2ranks"])
def test_lazy_tables_equal_the_eager_ones(runs, name):
    run = load_run(runs[name])
    assert not any(attr in vars(run) for attr in LAZY)  # nothing per-client read yet
    want = eager_frames(runs[name])
    pd.testing.assert_frame_equal(run.client_accuracy, want["client_accuracy"])
    pd.testing.assert_frame_equal(run.partition, want["partition"])
    np.testing.assert_array_equal(run.histogram, want["histogram"])
    assert run.histogram.dtype == want["histogram"].dtype
    # the wide table is built from the [E, N] array now, no longer by pivoting the long one
    pd.testing.assert_frame_equal(run.client_accuracy_wide(), want["wide"])
    np.testing.assert_array_equal(run.client_accuracy_array, want["wide"].to_numpy())
    assert run.partition is run.partition and run.client_accuracy is run.client_accuracy


def test_untouched_and_touched_runs_summarise_alike(runs):
    names = ["fedavg", "fedavg_seed2", "fedsaf", "fedamp"]
    cold = [load_run(runs[n]) for n in names]
    warm = [load_run(runs[n]) for n in names]
    for run in warm:
        for attr in LAZY:
            getattr(run, attr)
    pd.testing.assert_frame_equal(summary_table(cold), summary_table(warm))
    pd.testing.assert_frame_equal(group_table(group_runs(cold)), group_table(group_runs(warm)))
    for source, column in (("evals", "accuracy"), ("evals", "accuracy_mean"),
                           ("rounds", "wall_seconds")):
        for a, b in zip(curves(group_runs(cold), source, column),
                        curves(group_runs(warm), source, column)):
            assert a[0] == b[0]
            for x, y in zip(a[1:], b[1:]):
                np.testing.assert_array_equal(x, y)
    assert not any(attr in vars(run) for run in cold for attr in LAZY)  # summaries read none


def test_unsorted_evaluation_rounds_fall_back_to_pivot(runs, tmp_path):
    path = tmp_path / "run.h5"
    path.write_bytes(runs["fedamp"].read_bytes())
    with h5py.File(path, "a") as h5:
        r = h5["metrics/eval/round"]
        r[...] = r[()][::-1]
    run = load_run(path)
    wide = run.client_accuracy_wide()
    pd.testing.assert_frame_equal(wide, eager_frames(path)["wide"])
    assert list(wide.index) == sorted(wide.index)


def test_missing_per_client_tables_fail_at_load(runs, tmp_path):
    from fedsaf_analysis import AnalysisError
    for name in ("partition/histogram", "partition/placement", "metrics/eval/client_accuracy"):
        path = tmp_path / (name.replace("/", "_") + ".h5")
        path.write_bytes(runs["fedavg"].read_bytes())
        with h5py.File(path, "a") as h5:
            del h5[name]
        with pytest.raises(AnalysisError, match=f"missing {name}"):
            load_run(path)


def test_summary_imports_no_matplotlib(runs):
    """matplotlib's import was most of `summary`'s time on big run files; only plotting needs it."""
    import subprocess
    import sys

    from conftest import ANALYSIS
    code = ("import sys, warnings; warnings.simplefilter('ignore')\n"
            "from fedsaf_analysis.cli import main\n"
            "assert main(['summary', sys.argv[1]]) == 0\n"
            "from fedsaf_analysis import load_run, summary_table\n"
            "summary_table([load_run(sys.argv[1])])\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] == 'matplotlib'))")
    proc = subprocess.run([sys.executable, "-c", code, str(runs["fedavg"])], cwd=ANALYSIS,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == "[]"


def test_tables_handed_out_are_not_views_of_each_other(runs):
    run = load_run(runs["fedavg"])
    keep = run.client_accuracy_array.copy()
    run.client_accuracy_wide().iloc[:, :] = -1.0
    run.client_accuracy.loc[:, "accuracy"] = -2.0
    np.testing.assert_array_equal(run.client_accuracy_array, keep)
    np.testing.assert_array_equal(run.client_accuracy_wide().to_numpy(), keep)
