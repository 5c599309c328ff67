"""``report RUN.h5 -o DIR``: every plot of one run and a report.md that ties them together."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from . import plots
from .errors import AnalysisError, make_output_dir
from .reading import TIMING_SECONDS, Run, load_run
from .summary import format_frame, partition_label, summary_table


def default_attention_rounds(run: Run, count: int = 3) -> list[int]:
    """Up to ``count`` stored rounds spread over the run (first, middle, last), skipping stored
    matrices without any computed row."""
    stored = [int(r) for r in run.attention_rounds]
    if run.attention_stats is not None and len(stored):
        rows = dict(zip(run.attention_stats["round"].astype(int),
                        run.attention_stats.get("rows", [1] * len(run.attention_stats))))
        useful = [r for r in stored if rows.get(r, 1) > 0]
        stored = useful or stored
    if len(stored) <= count:
        return stored
    picks = np.linspace(0, len(stored) - 1, count).round().astype(int)
    return [stored[i] for i in sorted(set(picks.tolist()))]


def write_report(run, out_dir, attention_rounds=None) -> dict:
    """Write the PNGs and report.md of one run into ``out_dir`` (created if needed).

    ``attention_rounds``: round numbers (first = 1, as everywhere in ``Run``) whose ξ matrix to
    draw, each into ``attention_roundRRRR.png`` (default: ``default_attention_rounds``); a round
    without a stored matrix is an error naming the stored rounds.
    Returns ``{"report": path, "plots": {name: path}}``.
    """
    if not isinstance(run, Run):
        run = load_run(run)
    out = make_output_dir(out_dir)
    made: dict[str, Path] = {}
    made["accuracy"] = plots.plot_accuracy(run, out / "accuracy.png")
    made["loss"] = plots.plot_loss(run, out / "loss.png")
    made["client_accuracy"] = plots.plot_client_accuracy(run, out / "client_accuracy.png")
    att_rounds: list[int] = []
    if run.has_attention:
        att_rounds = (default_attention_rounds(run) if attention_rounds is None
                      else [int(r) for r in attention_rounds])
        for r in att_rounds:
            made[f"attention_{r}"] = plots.plot_attention(run, r, out / f"attention_round{r:04d}.png")
    elif attention_rounds:
        raise AnalysisError(f"{run.path}: no /attention group ({run.algorithm} stores no attention)")
    if run.fisher is not None:
        made["fisher"] = plots.plot_fisher(run, out / "fisher.png")
    made["timing"] = plots.plot_timing(run, out / "timing.png")
    made["bytes"] = plots.plot_bytes(run, out / "bytes.png")
    report = out / "report.md"
    report.write_text(_markdown(run, made, att_rounds), encoding="utf-8")
    return {"report": report, "plots": made}


def _img(made, key, alt):
    return f"![{alt}]({made[key].name})\n" if key in made else ""


def _markdown(run: Run, made: dict, att_rounds: list[int]) -> str:
    a = run.attrs
    table = summary_table([run])
    lines = [
        f"# Run report: {run.algorithm} on {run.dataset}",
        "",
        f"- file: `{run.path}`",
        f"- model: {run.model} ({a.get('num_params', '?')} parameters, "
        f"{a.get('shared_params', '?')} shared, {a.get('private_params', '?')} private)",
        f"- clients: {run.num_clients}, classes: {a.get('num_classes', '?')}, "
        f"partition: {partition_label(run)}, seed: {a.get('seed', '?')}",
        f"- ranks: {run.world_size} on {a.get('device', '?')}",
        f"- status: {a.get('status', '?')}; rounds {len(run.rounds)} of "
        f"{a.get('rounds_planned', '?')}; created {a.get('created', '?')}, "
        f"finished {a.get('finished', '–')}"
        + (f"; resumed {run.resumes} time(s) from checkpoints" if run.resumes else ""),
        f"- written by fedsaf {a.get('fedsaf_version', '?')} (git {a.get('git_commit', '?')}), "
        f"schema {run.schema_version}",
        "",
        "## Summary",
        "",
        format_frame(table, "markdown"),
        "## Partition",
        "",
    ]
    ps = run.partition_stats
    lines += [
        f"Client sizes (train + test) min {ps.get('min_size', '?')} / median "
        f"{ps.get('median_size', '?')} / max {ps.get('max_size', '?')}; classes per client "
        f"{_f(ps.get('mean_classes_per_client'), '.2f')} on average; label skew "
        f"{_f(ps.get('label_skew'), '.3f')} (mean total-variation distance to the global label mix, "
        "0 = IID).",
        "",
        "## Accuracy and loss",
        "",
        _img(made, "accuracy", "accuracy per round"),
        _img(made, "loss", "loss per round"),
        "Distribution of the per-client test accuracy over the evaluations:",
        "",
        _img(made, "client_accuracy", "per-client accuracy"),
    ]
    if run.has_attention:
        lines += ["## Attention", ""]
        st = run.attention_stats
        if st is not None and "rows" in st and st["rows"].sum() > 0:
            fired = int(st["guard_fired"].sum()) if "guard_fired" in st else 0
            text = (f"{int(st['rows'].sum())} ξ rows computed over the run; the guard "
                    f"(`attention.xi_min`) scaled {fired} of them "
                    f"({fired / st['rows'].sum():.1%}).")
            if "sigma" in st and (st["sigma"] > 0).any():
                s = st["sigma"][st["sigma"] > 0]
                text += f" σ of the fedamp kernel ranged from {s.min():.4g} to {s.max():.4g}."
            lines += [text, ""]
        if att_rounds:
            lines.append("Rows: receiving client i, columns: sending client j; clients are ordered "
                         "by their dominant class (from `/partition/histogram`), white lines "
                         "separate the classes. Grey: no row computed.")
            lines.append("")
            for r in att_rounds:
                lines.append(_img(made, f"attention_{r}", f"attention at round {r}"))
        else:
            lines += ["No attention matrices stored (`attention.every` = 0 or the run is shorter "
                      "than `attention.every`).", ""]
    if run.fisher is not None:
        lines += ["## Fisher information", "",
                  "Raw empirical Fisher diagonal per shared tensor (mean and max over the round's "
                  "trained clients).", "", _img(made, "fisher", "Fisher magnitude")]
    t = run.timing
    means = t.groupby("rank")[list(TIMING_SECONDS)].mean()
    lines += ["## Time per round", "", _img(made, "timing", "time per round"),
              "| rank | training s | communication s | evaluation s | I/O s | comm share |",
              "|---:|---:|---:|---:|---:|---:|"]
    for rank, row in means.iterrows():
        total = row.sum()
        share = row["comm_seconds"] / total if total > 0 else float("nan")
        lines.append(f"| {rank} | {row['train_seconds']:.4g} | {row['comm_seconds']:.4g} | "
                     f"{row['eval_seconds']:.4g} | {row['io_seconds']:.4g} | {share:.1%} |")
    lines += ["", "(mean seconds per round on each rank; the round wall time of "
              "`/metrics/rounds/wall_seconds`, drawn as the black line, does not include the "
              "run-file writes counted as I/O)", "",
              "## Bytes per round", "", _img(made, "bytes", "bytes per round"),
              "Protocol bytes are what the FL algorithm itself sends (float32 payloads); measured "
              "bytes are what the ranks' collectives moved, including evaluation reductions.", "",
              "## Configuration", "", "```toml", run.config_text.rstrip(), "```", ""]
    return "\n".join(lines)


def _f(value, spec):
    try:
        return format(float(value), spec)
    except (TypeError, ValueError):
        return "?"
