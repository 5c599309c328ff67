"""load_run / load_runs against the data sets of real run files, read back with h5py.

The file holds 0-based round indices; a Run shows round numbers (index + 1), so every round
compared here is the file's value + 1.
"""

import h5py
import numpy as np
import pandas as pd
import pytest

from fedsaf_analysis import AnalysisError, Run, load_run, load_runs


def test_fedavg_run_frames_equal_the_file(runs):
    run = load_run(runs["fedavg"])
    with h5py.File(runs["fedavg"], "r") as h5:
        R = len(h5["metrics/rounds/round"])
        E = len(h5["metrics/eval/round"])
        N = int(h5.attrs["num_clients"])
        W = int(h5.attrs["world_size"])
        for name in h5["metrics/rounds"]:
            want = h5["metrics/rounds"][name][()] + (1 if name == "round" else 0)
            np.testing.assert_array_equal(run.rounds[name].to_numpy(), want)
        for name in ("round", "accuracy", "accuracy_mean", "accuracy_std", "loss", "auc"):
            want = h5["metrics/eval"][name][()] + (1 if name == "round" else 0)
            np.testing.assert_array_equal(run.evals[name].to_numpy(), want)
        np.testing.assert_array_equal(run.client_accuracy_wide().index.to_numpy(),
                                      h5["metrics/eval/round"][()] + 1)
        acc = h5["metrics/eval/client_accuracy"][()]
        np.testing.assert_array_equal(run.client_accuracy_wide().to_numpy(), acc)
        np.testing.assert_array_equal(run.client_accuracy["accuracy"].to_numpy(), acc.reshape(-1))
        for name in ("train_seconds", "comm_seconds", "eval_seconds", "io_seconds", "bytes_sent",
                     "bytes_received", "bytes_sent_off_node", "bytes_received_off_node"):
            np.testing.assert_array_equal(
                run.timing.pivot(index="round", columns="rank", values=name).to_numpy(),
                h5["timing"][name][()])
        np.testing.assert_array_equal(run.rounds["measured_bytes_sent"].to_numpy(),
                                      h5["timing/bytes_sent"][()].sum(axis=1))
        np.testing.assert_array_equal(run.timing["round"].unique(),
                                      h5["metrics/rounds/round"][()] + 1)
        hist = h5["partition/histogram"][()]
        np.testing.assert_array_equal(run.histogram, hist)
        np.testing.assert_array_equal(run.partition["dominant_class"], hist.argmax(axis=1))
        np.testing.assert_array_equal(run.partition[["train_size", "test_size"]].to_numpy(),
                                      h5["partition/sizes"][()])
        np.testing.assert_array_equal(run.partition["rank"], h5["partition/placement"][()])
        assert run.partition_stats["label_skew"] == h5["partition"].attrs["label_skew"]
        assert run.metrics_attrs["best_accuracy"] == h5["metrics"].attrs["best_accuracy"]
        assert run.metrics_attrs["best_round"] == h5["metrics"].attrs["best_round"] + 1
    assert (R, E, N, W) == (12, 12, 6, 1)
    assert len(run.rounds) == R and len(run.evals) == E
    assert len(run.client_accuracy) == E * N and len(run.timing) == R * W
    assert list(run.client_accuracy.columns) == ["round", "client", "accuracy"]
    assert run.schema_version == "1.0"
    assert run.attrs["status"] == "complete" and run.complete
    assert run.config["run"]["algorithm"] == "fedavg"
    assert run.config_flat["run.clients"] == 6 and run.config_flat["run.rounds"] == 12
    assert run.get("ranks") == 1
    assert run.algorithm == "fedavg" and run.num_clients == 6 and run.world_size == 1


def test_fedavg_without_attention_or_fisher(runs):
    run = load_run(runs["fedavg"])
    assert run.has_attention is False
    assert run.attention(1) is None and run.attention() is None
    assert run.attention_stats is None and len(run.attention_rounds) == 0
    assert run.fisher is None


def test_fedsaf_attention_and_fisher_on_demand(runs):
    run = load_run(runs["fedsaf"])
    with h5py.File(runs["fedsaf"], "r") as h5:
        xi = h5["attention/xi"][()]
        stored = h5["attention/xi_round"][()]
        np.testing.assert_array_equal(run.attention_rounds, stored + 1)
        for i, r in enumerate(stored):
            m = run.attention(int(r) + 1)
            assert m.shape == (6, 6)
            np.testing.assert_array_equal(m, xi[i].astype(np.float64))
        np.testing.assert_array_equal(run.attention(), xi[-1].astype(np.float64))
        np.testing.assert_array_equal(run.attention_stats["guard_fired"],
                                      h5["attention/guard_fired"][()])
        np.testing.assert_array_equal(run.attention_stats["round"],
                                      h5["metrics/rounds/round"][()] + 1)
        tensors = [t.decode() if isinstance(t, bytes) else t for t in h5["fisher/tensors"][()]]
        fmean, fmax = h5["fisher/mean"][()], h5["fisher/max"][()]
    assert len(stored) == 12
    rows = run.attention(int(stored[-1]) + 1).sum(axis=1)
    np.testing.assert_allclose(rows[np.isfinite(rows)], 1.0, atol=1e-5)
    f = run.fisher
    assert list(f.columns) == ["round", "tensor", "mean", "max"]
    assert len(f) == 12 * len(tensors)
    assert sorted(f["round"].unique()) == list(range(1, 13))
    np.testing.assert_array_equal(f.pivot(index="round", columns="tensor", values="mean")[tensors],
                                  fmean)
    np.testing.assert_array_equal(f.pivot(index="round", columns="tensor", values="max")[tensors],
                                  fmax)
    with pytest.raises(AnalysisError, match=r"no attention matrix stored for round 99 "
                       r"\(stored rounds: 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12\)"):
        run.attention(99)
    # 0 is an index, not a round number: the error says where round numbers start
    with pytest.raises(AnalysisError, match=r"round 0 \(round numbers start at 1; stored rounds"):
        run.attention(0)


def test_fedamp_evaluations_and_partition(runs):
    run = load_run(runs["fedamp"])
    assert run.evals["round"].tolist() == [3, 6]  # eval_every = 3: after the 3rd and 6th round
    assert run.client_accuracy_wide().shape == (2, 6)
    assert run.partition_stats["method"] == "dirichlet"
    assert run.config_flat["partition.alpha"] == 0.5
    assert run.has_attention and run.fisher is None
    assert run.attention_rounds.tolist() == [2, 4, 6]  # attention.every = 2


def test_two_rank_timing(runs):
    run = load_run(runs["fedavg_2ranks"])
    assert run.world_size == 2
    assert len(run.timing) == 4 * 2
    assert sorted(run.timing["rank"].unique()) == [0, 1]
    total = run.timing[["train_seconds", "comm_seconds", "eval_seconds", "io_seconds"]].sum(axis=1)
    np.testing.assert_allclose(run.timing["total_seconds"], total)
    per_round = run.timing.groupby("round")["bytes_sent"].sum().to_numpy()
    np.testing.assert_array_equal(run.rounds["measured_bytes_sent"], per_round)
    assert sorted(run.partition["rank"].unique()) == [0, 1]


def test_load_runs_is_tidy_and_keyed_by_config(runs):
    df = load_runs([runs["fedavg"], runs["fedsaf"], runs["fedamp"], runs["fedavg_2ranks"]])
    assert len(df) == 12 + 12 + 6 + 4  # one row per (run, round)
    for col in ("file", "run.algorithm", "partition.alpha", "partition.method", "ranks", "round",
                "accuracy", "train_loss", "wall_seconds"):
        assert col in df.columns, col
    by_algo = df.groupby("run.algorithm")["round"].count().to_dict()
    assert by_algo == {"fedavg": 16, "fedsaf": 12, "fedamp": 6}
    amp = df[df["run.algorithm"] == "fedamp"]
    assert amp["accuracy"].notna().sum() == 2  # evaluated after rounds 3 and 6 only
    assert amp.loc[amp["accuracy"].notna(), "round"].tolist() == [3, 6]
    assert set(df["ranks"]) == {1, 2}
    fedavg = load_run(runs["fedavg"])
    part = df[df["file"] == str(fedavg.path)].set_index("round")
    pd.testing.assert_series_equal(part["accuracy"], fedavg.evals.set_index("round")["accuracy"],
                                   check_names=False)


def test_load_runs_accepts_folders_and_run_objects(runs):
    df = load_runs([runs["scaling"], load_run(runs["fedsaf"])])
    assert df["file"].nunique() == 4
    assert isinstance(load_run(runs["fedavg"].parent), Run)  # a run folder works too


def test_round_numbers_start_at_1_while_the_file_holds_0_based_indices(runs, tmp_path):
    """The convention (io/SCHEMA.md, "Round numbers"): the file stores the 0-based round index;
    what people see and type is the round number index + 1, as fedsaf's console and
    `fedsaf inspect` print it. Converted exactly once, at load time."""
    from fedsaf_analysis import summary_table, write_report
    path = runs["fedsaf"]  # 12 rounds, ξ stored every round, evaluated every round
    with h5py.File(path, "r") as h5:
        file_rounds = h5["metrics/rounds/round"][()]
        file_best = int(h5["metrics"].attrs["best_round"])
        xi_round = h5["attention/xi_round"][()]
        xi = h5["attention/xi"][()]
    assert file_rounds[0] == 0 and xi_round[0] == 0  # the file: 0-based
    run = load_run(path)
    assert run.rounds["round"].iloc[0] == 1 and run.rounds["round"].iloc[-1] == 12
    assert run.evals["round"].iloc[0] == 1
    assert run.timing["round"].min() == 1 and run.fisher["round"].min() == 1
    assert run.attention_stats["round"].iloc[0] == 1 and run.attention_rounds[0] == 1
    # the first round's matrix is round 1, the file's xi[0]
    np.testing.assert_array_equal(run.attention(1), xi[0].astype(np.float64))
    np.testing.assert_array_equal(run.attention(12), xi[11].astype(np.float64))
    # best_round: the /metrics attribute + 1, not + 2 (the summary takes it as read)
    assert run.metrics_attrs["best_round"] == file_best + 1
    assert summary_table([run]).loc[0, "best_round"] == file_best + 1
    assert run.evals["round"].iloc[int(run.evals["accuracy"].idxmax())] == file_best + 1
    # what people type: --attention-rounds 1 draws the first round, named by its number
    result = write_report(run, tmp_path, attention_rounds=[1])
    assert result["plots"]["attention_1"].name == "attention_round0001.png"
