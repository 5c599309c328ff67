"""The summary table: its numbers are the values in the file."""

import io

import h5py
import numpy as np
import pandas as pd
import pytest

from fedsaf_analysis import load_run, summary_table
from fedsaf_analysis.cli import main
from fedsaf_analysis.summary import COLUMNS


def expected_row(path):
    """The summary numbers computed straight from the file with h5py."""
    with h5py.File(path, "r") as h5:
        acc = h5["metrics/eval/accuracy"][()]
        rounds = h5["metrics/rounds"]
        wall = rounds["wall_seconds"][()]
        m = h5["metrics"].attrs
        best_i = int(np.argmax(acc))
        row = {
            "algorithm": h5.attrs["algorithm"],
            "dataset": h5.attrs["dataset"],
            "clients": int(h5.attrs["num_clients"]),
            "ranks": int(h5.attrs["world_size"]),
            "seed": int(h5.attrs["seed"]),
            "best_accuracy": float(acc.max()),
            "best_round": int(h5["metrics/eval/round"][best_i]) + 1,  # round number = index + 1
            "last_accuracy": float(acc[-1]),
            "mean_last10_accuracy": float(np.mean(acc[-10:])),
            "rounds": len(rounds["round"]),
            "wall_seconds": float(h5.attrs["wall_seconds"]),
            "client_updates_per_second": float(rounds["cohort_size"][()].sum() / wall.sum()),
            "protocol_bytes_up_per_round": float(rounds["protocol_bytes_up"][()].mean()),
            "protocol_bytes_down_per_round": float(rounds["protocol_bytes_down"][()].mean()),
            "measured_bytes_per_round": float(h5["timing/bytes_sent"][()].sum(axis=1).mean()),
            "status": h5.attrs["status"],
        }
        attrs = {k: m[k] for k in ("best_accuracy", "best_round", "last_accuracy",
                                   "mean_last10_accuracy")}
        attrs["best_round"] += 1  # the file's index, shown as a round number
    return row, attrs


NAMES = ["fedavg", "fedavg_seed2", "fedsaf", "fedamp", "fedavg_2ranks"]


def check_row(row, path):
    want, attrs = expected_row(path)
    for key, value in want.items():
        got = row[key]
        if isinstance(value, float):
            assert got == pytest.approx(value, rel=1e-12, abs=0), (path, key)
        else:
            assert got == value, (path, key)
    # the /metrics attributes are what the table shows, and they agree with the data sets
    for key, value in attrs.items():
        assert row[key] == value, (path, key)


def test_summary_numbers_equal_the_file(runs):
    table = summary_table([runs[n] for n in NAMES])
    assert list(table.columns) == COLUMNS
    assert len(table) == len(NAMES)
    for (_, row), name in zip(table.iterrows(), NAMES):
        check_row(row, runs[name])
    assert table.loc[3, "partition"] == "dirichlet(α=0.5)"
    assert table.loc[0, "partition"] == "natural"
    assert table.loc[0, "rounds"] == 12 and table.loc[3, "rounds"] == 6
    # fedsaf uploads the shared part and its Fisher: twice fedavg's upload
    assert table.loc[2, "protocol_bytes_up_per_round"] == 2 * table.loc[0, "protocol_bytes_up_per_round"]


def test_summary_csv_from_the_command_line_is_exact(runs, capsys):
    paths = [str(runs[n]) for n in NAMES]
    assert main(["summary", "--format", "csv", *paths]) == 0
    # the CSV carries full precision: parse it exactly (pandas' fast parser rounds the last bit)
    df = pd.read_csv(io.StringIO(capsys.readouterr().out), float_precision="round_trip")
    assert list(df.columns) == COLUMNS
    for (_, row), name in zip(df.iterrows(), NAMES):
        check_row(row, runs[name])


def test_summary_terminal_and_markdown_tables(runs, capsys):
    path = runs["fedavg"]
    want, _ = expected_row(path)
    assert main(["summary", str(path), str(runs["fedsaf"])]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0].split()[:4] == ["run", "algorithm", "dataset", "partition"]
    cells = next(line for line in lines if str(path) in line).split()
    assert cells[1:7] == ["fedavg", "synthetic", "natural", "6", "1", f"{want['best_accuracy']:.4f}"]
    numbers = [float(c.replace(",", "")) for c in cells[6:]]
    expect = [want[k] for k in ("best_accuracy", "last_accuracy", "mean_last10_accuracy", "rounds",
                                "wall_seconds", "client_updates_per_second",
                                "protocol_bytes_up_per_round", "protocol_bytes_down_per_round",
                                "measured_bytes_per_round")]
    # shown rounded: 4 decimals for accuracies, 2 for seconds, 4 digits for rates, whole bytes
    for got, value, tol in zip(numbers, expect, [5e-5] * 3 + [0, 5e-3] + [5e-4 * expect[5]] + [0.5] * 3):
        assert abs(got - value) <= tol, (got, value, cells)
    assert main(["summary", "--format", "markdown", str(path)]) == 0
    md = capsys.readouterr().out.splitlines()
    assert md[0].startswith("| run | algorithm |") and md[1].startswith("|---|")
    assert f"| {want['best_accuracy']:.4f} |" in md[2]


def test_summary_of_a_folder_finds_every_run(runs, capsys):
    assert main(["summary", "--format", "csv", str(runs["scaling"])]) == 0
    df = pd.read_csv(io.StringIO(capsys.readouterr().out))
    assert sorted(df["ranks"].tolist()) == [1, 2, 2]
    assert sorted(df["clients"].tolist()) == [6, 6, 12]


def test_incomplete_run_is_summarised_from_its_data(runs, tmp_path):
    copy = tmp_path / "running.h5"
    copy.write_bytes(runs["fedavg"].read_bytes())
    with h5py.File(copy, "a") as h5:
        h5.attrs["status"] = "running"
        del h5.attrs["wall_seconds"]
        wall = h5["metrics/rounds/wall_seconds"][()].sum()
        acc = h5["metrics/eval/accuracy"][()]
        best_index = int(h5["metrics/eval/round"][int(acc.argmax())])
    with pytest.warns(UserWarning, match="not 'complete'"):
        run = load_run(copy)
    row = summary_table([run]).iloc[0]
    assert row["status"] == "running"
    assert row["wall_seconds"] == pytest.approx(wall)
    assert row["best_accuracy"] == acc.max() and row["last_accuracy"] == acc[-1]
    assert row["mean_last10_accuracy"] == pytest.approx(acc[-10:].mean())
    # from /metrics/eval/round instead of the attribute: still index + 1, converted once
    assert row["best_round"] == best_index + 1
