"""compare and scaling on several real run files."""

import io

import numpy as np
import pandas as pd
import pytest

from conftest import assert_png
from fedsaf_analysis import (AnalysisError, group_runs, load_run, run_metrics, scaling_table,
                             summary_table, write_compare)
from fedsaf_analysis.cli import main

WIDE = (1000, 500)


def test_compare_groups_by_algorithm_and_averages_seeds(runs, tmp_path):
    paths = [runs["fedavg"], runs["fedavg_seed2"], runs["fedsaf"]]
    result = write_compare(paths, tmp_path, by="run.algorithm")
    assert list(result["groups"]) == ["fedavg", "fedsaf"]
    table = result["table"].set_index("group")
    assert table.loc["fedavg", "runs"] == 2 and table.loc["fedsaf", "runs"] == 1
    assert table.loc["fedavg", "seeds"] == "1,2"
    best = summary_table(paths[:2])["best_accuracy"]
    assert table.loc["fedavg", "best_accuracy_mean"] == pytest.approx(best.mean())
    assert table.loc["fedavg", "best_accuracy_std"] == pytest.approx(best.std(ddof=0))
    for name in ("compare_accuracy.png", "compare_client_accuracy.png", "compare_loss.png",
                 "compare_train_loss.png", "compare_round_time.png"):
        assert_png(tmp_path / name, WIDE)
    md = (tmp_path / "compare.md").read_text()
    assert "compare_accuracy.png" in md and "fedavg" in md
    assert len(pd.read_csv(tmp_path / "summary.csv")) == 3


def test_compare_curves_are_means_over_seeds_with_a_band(runs):
    from fedsaf_analysis.compare import curves
    groups = group_runs([runs["fedavg"], runs["fedavg_seed2"]], by="run.algorithm")
    (label, x, mean, low, high), = curves(groups, "evals", "accuracy")
    a = load_run(runs["fedavg"]).evals["accuracy"].to_numpy()
    b = load_run(runs["fedavg_seed2"]).evals["accuracy"].to_numpy()
    np.testing.assert_allclose(mean, (a + b) / 2)
    np.testing.assert_array_equal(low, np.minimum(a, b))
    np.testing.assert_array_equal(high, np.maximum(a, b))
    assert label == "fedavg (n=2)"


def test_compare_default_grouping_averages_only_seeds(runs):
    groups = group_runs([runs["fedavg"], runs["fedavg_seed2"], runs["fedsaf"]])
    # fedsaf differs in run.algorithm and attention.every; the two fedavg runs only in the seed
    assert len(groups) == 2
    assert sorted(len(g) for g in groups.values()) == [1, 2]


def test_compare_command_line(runs, tmp_path, capsys):
    out = tmp_path / "cmp"
    argv = ["compare", str(runs["fedavg"]), str(runs["fedavg_seed2"]), str(runs["fedamp"]),
            "--by", "run.algorithm", "-o", str(out)]
    assert main(argv) == 0
    text = capsys.readouterr().out
    assert "fedavg" in text and "fedamp" in text and "wrote" in text
    assert_png(out / "compare_accuracy.png", WIDE)
    assert main(argv[:-2] + ["-o", str(out), "--format", "csv"]) == 0
    df = pd.read_csv(io.StringIO(capsys.readouterr().out))
    assert len(df) == 3
    assert main(["compare", str(runs["fedavg"]), "--by", "run.algoritm", "-o", str(out)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("fedsaf-analysis: error: unknown config key")
    assert "did you mean run.algorithm" in err[0]


def test_scaling_table_strong_and_weak(runs):
    table = scaling_table([runs["scaling"]])
    strong = table[table["mode"] == "strong"].sort_values("ranks")
    weak = table[table["mode"] == "weak"].sort_values("ranks")
    assert strong["ranks"].tolist() == [1, 2] and strong["clients"].tolist() == [6, 6]
    assert weak["ranks"].tolist() == [1, 2] and weak["clients"].tolist() == [6, 12]
    assert weak["clients_per_rank"].tolist() == [6.0, 6.0]
    base = run_metrics(load_run(runs["scale_1rank"]))
    two = run_metrics(load_run(runs["fedavg_2ranks"]))
    wk = run_metrics(load_run(runs["weak_2ranks"]))
    s = strong.iloc[1]
    assert s["speedup"] == pytest.approx(two["client_updates_per_second"]
                                         / base["client_updates_per_second"])
    assert s["efficiency"] == pytest.approx(s["speedup"] / 2)
    assert strong.iloc[0]["speedup"] == 1.0 and strong.iloc[0]["efficiency"] == 1.0
    w = weak.iloc[1]
    assert w["speedup"] == pytest.approx(wk["client_updates_per_second"]
                                         / base["client_updates_per_second"])
    assert w["efficiency"] == pytest.approx(w["speedup"] / 2)
    assert 0.0 <= s["comm_share"] <= 1.0


def test_run_metrics_from_the_file(runs):
    import h5py
    with h5py.File(runs["fedavg_2ranks"], "r") as h5:
        wall = h5["metrics/rounds/wall_seconds"][1:]
        cohort = h5["metrics/rounds/cohort_size"][1:]
        comm = h5["timing/comm_seconds"][1:].sum()
        total = sum(h5["timing"][n][1:].sum() for n in ("train_seconds", "comm_seconds",
                                                        "eval_seconds", "io_seconds"))
    m = run_metrics(load_run(runs["fedavg_2ranks"]))
    assert m["round_seconds"] == pytest.approx(wall.mean())
    assert m["client_updates_per_second"] == pytest.approx(cohort.sum() / wall.sum())
    assert m["comm_share"] == pytest.approx(comm / total)
    assert m["ranks"] == 2 and m["clients"] == 6


def test_scaling_command_line(runs, tmp_path, capsys):
    out = tmp_path / "scaling"
    assert main(["scaling", str(runs["scaling"]), "-o", str(out), "--ranks-per-node", "2"]) == 0
    text = capsys.readouterr().out
    assert "strong, 6 clients" in text and "weak, 6 clients/rank" in text
    for name in ("scaling_speedup.png", "scaling_efficiency.png", "scaling_throughput.png",
                 "scaling_comm_share.png"):
        assert_png(out / name, WIDE)
    df = pd.read_csv(out / "scaling.csv")
    assert sorted(df["nodes"].tolist()) == [0.5, 0.5, 1.0, 1.0]
    assert "scaling_speedup.png" in (out / "scaling.md").read_text()
    assert main(["scaling", str(runs["scaling"]), "-o", str(out), "--format", "csv"]) == 0
    assert len(pd.read_csv(io.StringIO(capsys.readouterr().out))) == 4


def test_scaling_needs_two_rank_counts(runs, tmp_path, capsys):
    with pytest.raises(AnalysisError, match="two or more rank counts"):
        scaling_table([runs["fedavg"]])
    assert main(["scaling", str(runs["fedavg"].parent), "-o", str(tmp_path)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("fedsaf-analysis: error: no scaling series")


def test_compare_table_says_n_1_not_plus_minus_0_for_a_single_run(runs, tmp_path):
    """A group of one run has no spread: the tables say "(n = 1)", never "± 0"; groups of
    several runs give mean ± std with their n."""
    from fedsaf_analysis.compare import format_groups
    paths = [runs["fedavg"], runs["fedavg_seed2"], runs["fedsaf"]]
    result = write_compare(paths, tmp_path, by="run.algorithm")
    table = result["table"].set_index("group")
    assert np.isnan(table.loc["fedsaf", "best_accuracy_std"])
    assert table.loc["fedsaf", "best_accuracy_n"] == 1 and table.loc["fedavg", "best_accuracy_n"] == 2
    for fmt in ("table", "markdown"):
        text = format_groups(result["table"], fmt)
        assert "± 0.0000" not in text and "± 0 " not in text
        fedsaf_line = next(line for line in text.splitlines() if "fedsaf" in line)
        assert "±" not in fedsaf_line and "(n = 1)" in fedsaf_line
        fedavg_line = next(line for line in text.splitlines() if "fedavg" in line)
        assert "±" in fedavg_line and "(n = 2)" in fedavg_line
    md = (tmp_path / "compare.md").read_text()
    assert "(n = 1)" in md and "± 0.0000" not in md


def test_compare_rounds_to_target_and_bytes_per_round(runs, tmp_path, capsys):
    from fedsaf_analysis.compare import rounds_to_target
    run = load_run(runs["fedavg"])
    acc = run.evals["accuracy"].to_numpy()
    target = float(acc[len(acc) // 2])
    first = int(run.evals["round"].iloc[int(np.flatnonzero(acc >= target)[0])])
    assert rounds_to_target(run, target) == first
    assert np.isnan(rounds_to_target(run, 1.01))
    result = write_compare([runs["fedavg"], runs["fedsaf"]], tmp_path, by="run.algorithm",
                           target=target)
    table = result["table"].set_index("group")
    assert table.loc["fedavg", "rounds_to_target_mean"] == first
    s = summary_table([runs["fedsaf"]]).iloc[0]
    assert table.loc["fedsaf", "bytes_per_round_mean"] == pytest.approx(
        s["protocol_bytes_up_per_round"] + s["protocol_bytes_down_per_round"])
    assert table.loc["fedsaf", "bytes_per_round_mean"] > 0
    assert main(["compare", str(runs["fedavg"]), "--by", "run.algorithm", "-o",
                 str(tmp_path / "t"), "--target", "1.01"]) == 0
    text = capsys.readouterr().out
    assert "rounds to 1.01" in text and "not reached (0/1)" in text and "B/round" in text
