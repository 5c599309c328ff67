"""report RUN.h5 -o DIR: every plot is a non-empty PNG of the expected size; report.md ties them
together."""

import re

import pytest

from conftest import assert_png
from fedsaf_analysis import load_run, write_report
from fedsaf_analysis.cli import main

WIDE = (1000, 500)      # plots.WIDE at plots.DPI
SQUARE = (800, 700)     # plots.SQUARE (attention heat maps)


@pytest.fixture(scope="module")
def saf_report(runs, tmp_path_factory):
    out = tmp_path_factory.mktemp("report-fedsaf")
    return out, write_report(runs["fedsaf"], out)


def test_plot_sizes_match_the_constants():
    from fedsaf_analysis import plots
    assert plots.pixel_size(plots.WIDE) == WIDE
    assert plots.pixel_size(plots.SQUARE) == SQUARE


def test_fedsaf_report_has_every_plot(saf_report):
    out, result = saf_report
    names = {p.name for p in result["plots"].values()}
    for name in ("accuracy.png", "loss.png", "client_accuracy.png", "fisher.png", "timing.png",
                 "bytes.png"):
        assert name in names
        assert_png(out / name, WIDE)
    heat = sorted(out.glob("attention_round*.png"))
    # default: first, middle and last stored round (stored every round, rounds 1 to 12)
    assert [p.name for p in heat] == ["attention_round0001.png", "attention_round0007.png",
                                      "attention_round0012.png"]
    for p in heat:
        assert_png(p, SQUARE)
    assert len(result["plots"]) == 6 + 3


def test_report_md_links_every_plot_and_the_summary(saf_report, runs):
    out, result = saf_report
    md = (out / "report.md").read_text()
    linked = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", md)
    assert sorted(linked) == sorted(p.name for p in result["plots"].values())
    for name in linked:
        assert (out / name).is_file()
    run = load_run(runs["fedsaf"])
    assert f"{run.metrics_attrs['best_accuracy']:.4f}" in md
    assert "## Attention" in md and "## Fisher information" in md
    assert "algorithm = 'fedsaf'" in md  # the configuration


def test_fedavg_report_skips_attention_and_fisher(runs, tmp_path, capsys):
    assert main(["report", str(runs["fedavg"]), "-o", str(tmp_path)]) == 0
    assert "wrote" in capsys.readouterr().out
    pngs = sorted(p.name for p in tmp_path.glob("*.png"))
    assert pngs == ["accuracy.png", "bytes.png", "client_accuracy.png", "loss.png", "timing.png"]
    for name in pngs:
        assert_png(tmp_path / name, WIDE)
    md = (tmp_path / "report.md").read_text()
    assert "## Attention" not in md and "## Fisher" not in md


def test_report_on_two_ranks_and_chosen_attention_rounds(runs, tmp_path):
    out = tmp_path / "two-ranks"
    result = write_report(runs["fedavg_2ranks"], out)
    assert_png(result["plots"]["timing"], WIDE)
    md = (out / "report.md").read_text()
    assert "| 0 |" in md and "| 1 |" in md  # one timing row per rank
    out2 = tmp_path / "amp"
    # fedamp stores ξ every 2 rounds: rounds 2, 4 and 6 (file indices 1, 3, 5)
    assert main(["report", str(runs["fedamp"]), "-o", str(out2), "--attention-rounds", "4,6"]) == 0
    assert sorted(p.name for p in out2.glob("attention_*.png")) == [
        "attention_round0004.png", "attention_round0006.png"]
    for p in out2.glob("attention_*.png"):
        assert_png(p, SQUARE)


def test_report_with_a_round_that_has_no_matrix(runs, tmp_path, capsys):
    assert main(["report", str(runs["fedamp"]), "-o", str(tmp_path), "--attention-rounds", "3"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert err[0].startswith("fedsaf-analysis: error: ")
    assert "round 3" in err[0] and "stored rounds: 2, 4, 6" in err[0]


def test_attention_heat_map_orders_clients_by_dominant_class(runs):
    from fedsaf_analysis.plots import client_order
    run = load_run(runs["fedamp"])
    order = client_order(run)
    dominant = run.histogram.argmax(axis=1)[order]
    assert sorted(order.tolist()) == list(range(6))
    assert (dominant[:-1] <= dominant[1:]).all()
