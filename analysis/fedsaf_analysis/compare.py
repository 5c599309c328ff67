"""``compare RUN.h5 ...``: curves of several runs overlaid, grouped by config keys, averaged over
the runs of a group (typically seeds) with a min–max band, plus the tables."""

from __future__ import annotations

import difflib
import math

import numpy as np
import pandas as pd

from .errors import AnalysisError, make_output_dir
from .reading import LOCATION_KEYS, Run, _as_runs
from .summary import fmt_rate, format_frame, render, summary_table

#: Keys that never separate groups when ``by`` is not given: runs differing only in these are
#: averaged (seeds) or identical in what they compute (output folder).
AVERAGED_KEYS = ("run.seed",) + LOCATION_KEYS


def differing_keys(runs: list[Run], ignore=()) -> list[str]:
    """Config keys (and ``ranks``) whose value is not the same in every run, in config order."""
    keys: list[str] = []
    for run in runs:
        for k in run.keys():
            if k not in keys:
                keys.append(k)
    out = []
    for k in keys:
        if k in ignore:
            continue
        values = {repr(run.get(k)) for run in runs}
        if len(values) > 1:
            out.append(k)
    return out


def _check_keys(runs: list[Run], by: list[str]):
    known = set()
    for run in runs:
        known.update(run.keys())
    for key in by:
        if key not in known:
            near = difflib.get_close_matches(key, sorted(known), n=3)
            hint = f" (did you mean {', '.join(near)}?)" if near else ""
            raise AnalysisError(f"unknown config key {key!r} for --by{hint}")


def _value(v) -> str:
    if isinstance(v, float):
        return f"{v:g}"
    if isinstance(v, tuple):
        return "[" + ",".join(_value(x) for x in v) + "]"
    return str(v)


def group_runs(runs, by=None) -> dict[str, list[Run]]:
    """Group runs into ``{label: [runs]}``.

    ``by`` (a key or list of keys, e.g. ``"run.algorithm"``, ``"partition.alpha"``, ``"ranks"``):
    one group per distinct value combination; everything else is averaged within a group.
    Without ``by``: grouped by every key that differs between the runs except ``run.seed`` and
    ``run.out_dir``, so the runs of one configuration with different seeds form one group.
    """
    runs = _as_runs(runs)
    if isinstance(by, str):
        by = [by]
    if by:
        _check_keys(runs, list(by))
        keys = list(by)
    else:
        keys = differing_keys(runs, ignore=AVERAGED_KEYS)
    groups: dict[str, list[Run]] = {}
    for run in runs:
        if keys:
            label = ", ".join(f"{_short(k)}={_value(run.get(k))}" for k in keys) if (
                len(keys) > 1 or not by) else _value(run.get(keys[0]))
        else:
            label = run.algorithm
        groups.setdefault(label, []).append(run)
    return groups


def _short(key: str) -> str:
    return key.split(".", 1)[1] if key.startswith("run.") else key


def _aggregate(frames: list[pd.DataFrame], column: str):
    """mean, min, max over runs per round of ``column``."""
    parts = [f[["round", column]].dropna() for f in frames if column in f]
    if not parts:
        return None
    allr = pd.concat(parts)
    g = allr.groupby("round")[column]
    stats = g.agg(["mean", "min", "max", "count"]).reset_index()
    return stats


def curves(groups: dict[str, list[Run]], source: str, column: str):
    """[(label, x, mean, low, high)] of one metric per group (low/high: min/max over runs)."""
    out = []
    for label, members in groups.items():
        frames = [getattr(r, source) for r in members]
        stats = _aggregate(frames, column)
        if stats is None or stats.empty:
            continue
        n = len(members)
        name = f"{label} (n={n})" if n > 1 else label
        out.append((name, stats["round"].to_numpy(), stats["mean"].to_numpy(),
                    stats["min"].to_numpy() if n > 1 else None,
                    stats["max"].to_numpy() if n > 1 else None))
    return out


GROUP_METRICS = ("best_accuracy", "last_accuracy", "mean_last10_accuracy",
                 "client_updates_per_second", "wall_seconds")


def group_table(groups: dict[str, list[Run]]) -> pd.DataFrame:
    """One row per group: runs, seeds, and mean / std (over the group's runs) of the summary
    numbers (std 0 for a single run)."""
    rows = []
    for label, members in groups.items():
        t = summary_table(members)
        row = {"group": label, "runs": len(members),
               "seeds": ",".join(str(s) for s in t["seed"].tolist())}
        for m in GROUP_METRICS:
            vals = t[m].to_numpy(dtype=float)
            row[f"{m}_mean"] = float(np.nanmean(vals)) if np.isfinite(vals).any() else math.nan
            row[f"{m}_std"] = float(np.nanstd(vals)) if np.isfinite(vals).any() else math.nan
        rows.append(row)
    return pd.DataFrame(rows)


def format_groups(table: pd.DataFrame, fmt: str) -> str:
    if fmt == "csv":
        return table.to_csv(index=False)

    def pm(prefix, spec):
        return lambda row: (f"{row[prefix + '_mean']:{spec}} ± {row[prefix + '_std']:{spec}}"
                            if math.isfinite(row[prefix + "_mean"]) else "–")
    spec = [("group", "group", lambda r: str(r["group"])),
            ("runs", "runs", lambda r: str(r["runs"])),
            ("seeds", "seeds", lambda r: str(r["seeds"])),
            ("best", "best acc", pm("best_accuracy", ".4f")),
            ("last", "last acc", pm("last_accuracy", ".4f")),
            ("last10", "last-10 acc", pm("mean_last10_accuracy", ".4f")),
            ("ups", "updates/s", lambda r: (f"{fmt_rate(r['client_updates_per_second_mean'])} ± "
                                            f"{fmt_rate(r['client_updates_per_second_std'])}"))]
    headers = [h for _, h, _ in spec]
    rows = [[f(r) for _, _, f in spec] for _, r in table.iterrows()]
    numeric = [False, True, False, True, True, True, True]
    return render(headers, rows, numeric, fmt)


COMPARE_PLOTS = [
    # (file, source frame, column, y label, title, ylim, logy)
    ("compare_accuracy.png", "evals", "accuracy", "pooled test accuracy", "Accuracy", (0, 1.02), False),
    ("compare_client_accuracy.png", "evals", "accuracy_mean", "mean per-client accuracy",
     "Mean per-client accuracy", (0, 1.02), False),
    ("compare_loss.png", "evals", "loss", "test loss (nats)", "Test loss", None, False),
    ("compare_train_loss.png", "rounds", "train_loss", "training loss (nats)", "Training loss",
     None, False),
    ("compare_round_time.png", "rounds", "wall_seconds", "seconds per round", "Time per round",
     None, False),
]


def write_compare(runs, out_dir, by=None) -> dict:
    """Overlaid curves (mean over each group's runs, min–max band), compare.md and the CSV
    tables in ``out_dir``. Returns ``{"report", "plots", "groups", "summary", "table"}``."""
    from . import plots  # matplotlib: imported only when plotting
    runs = _as_runs(runs)
    groups = group_runs(runs, by)
    out = make_output_dir(out_dir)
    grouped_by = ", ".join([by] if isinstance(by, str) else by) if by else "differing keys"
    made = {}
    for name, source, column, ylabel, title, ylim, logy in COMPARE_PLOTS:
        cs = curves(groups, source, column)
        if cs:
            made[name] = plots.plot_curves(cs, out / name, ylabel, f"{title} (grouped by {grouped_by})",
                                           ylim=ylim, logy=logy)
    summary = summary_table(runs)
    table = group_table(groups)
    summary.to_csv(out / "summary.csv", index=False)
    table.to_csv(out / "groups.csv", index=False)
    md = ["# Comparison", "",
          f"{len(runs)} runs in {len(groups)} groups (grouped by {grouped_by}; lines are means over "
          "a group's runs, bands span their min–max).", "",
          "## Groups", "", format_groups(table, "markdown"),
          "## Runs", "", format_frame(summary, "markdown"), "## Curves", ""]
    md += [f"![{n}]({n})\n" for n in made]
    report = out / "compare.md"
    report.write_text("\n".join(md), encoding="utf-8")
    return {"report": report, "plots": made, "groups": groups, "summary": summary, "table": table}
