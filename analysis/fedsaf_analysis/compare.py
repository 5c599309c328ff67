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
                 "client_updates_per_second", "wall_seconds", "bytes_per_round")


def rounds_to_target(run: Run, target: float) -> float:
    """The first evaluated round (a round number, first = 1) whose pooled accuracy is at least
    ``target``; NaN when no evaluation reached it. With ``run.eval_every`` = k this is resolved
    to k rounds (the round is an upper bound within k)."""
    ev = run.evals
    if ev.empty or "accuracy" not in ev:
        return math.nan
    acc = ev["accuracy"].to_numpy(dtype=float)
    hit = np.flatnonzero(np.isfinite(acc) & (acc >= target))
    return float(ev["round"].iloc[hit[0]]) if len(hit) else math.nan


def default_target(groups: dict[str, list[Run]]) -> float:
    """90 % of the highest group-mean best accuracy, rounded down to 0.01 (NaN without any)."""
    best = []
    for members in groups.values():
        vals = summary_table(members)["best_accuracy"].to_numpy(dtype=float)
        if np.isfinite(vals).any():
            best.append(float(np.nanmean(vals)))
    if not best:
        return math.nan
    return math.floor(0.9 * max(best) * 100 + 1e-9) / 100


def _stats(vals: np.ndarray) -> tuple[float, float, int]:
    """mean, std (population, ddof = 0; NaN for fewer than two values) and n of the finite values."""
    vals = vals[np.isfinite(vals)]
    n = len(vals)
    if n == 0:
        return math.nan, math.nan, 0
    return float(vals.mean()), (float(vals.std(ddof=0)) if n > 1 else math.nan), n


def group_table(groups: dict[str, list[Run]], target: float | None = None) -> pd.DataFrame:
    """One row per group: runs, seeds, rounds run (min–max over the group's runs; partial runs
    counted), and per summary number its mean, std over the group's runs (population std; NaN
    for a single run, never 0) and n (runs with a finite value). ``bytes_per_round`` is the
    protocol's up + down bytes per round. With ``target`` (pooled accuracy; None: NaN columns)
    also ``rounds_to_target_*``: the first evaluated round reaching it, over the runs that
    reached it (``rounds_to_target_n``) of ``runs``."""
    rows = []
    for label, members in groups.items():
        t = summary_table(members)
        t["bytes_per_round"] = (t["protocol_bytes_up_per_round"].astype(float)
                                + t["protocol_bytes_down_per_round"].astype(float))
        row = {"group": label, "runs": len(members),
               "seeds": ",".join(str(s) for s in t["seed"].tolist()),
               "partial": int((t["status"] != "complete").sum()),
               "rounds_min": int(t["rounds"].min()), "rounds_max": int(t["rounds"].max())}
        for m in GROUP_METRICS:
            row[f"{m}_mean"], row[f"{m}_std"], row[f"{m}_n"] = _stats(t[m].to_numpy(dtype=float))
        row["target"] = math.nan if target is None else float(target)
        r2t = np.array([rounds_to_target(r, target) if target is not None else math.nan
                        for r in members], dtype=float)
        (row["rounds_to_target_mean"], row["rounds_to_target_std"],
         row["rounds_to_target_n"]) = _stats(r2t)
        rows.append(row)
    return pd.DataFrame(rows)


def fmt_bytes(v: float) -> str:
    """Bytes in B, kB, MB or GB (powers of 1000), three significant digits."""
    if not math.isfinite(v):
        return "–"
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if abs(v) >= scale:
            return f"{v / scale:.3g} {unit}"
    return f"{v:.0f} B"


def mean_spread(mean: float, std: float, n: int, fmt=lambda v: f"{v:.4f}") -> str:
    """``0.9639 ± 0.0012 (n = 3)`` over several runs; ``0.9639 (n = 1)`` for one run (a single
    run has no spread: never ``± 0``); ``–`` without a value."""
    if n == 0 or not math.isfinite(mean):
        return "–"
    if n == 1 or not math.isfinite(std):
        return f"{fmt(mean)} (n = {n})"
    return f"{fmt(mean)} ± {fmt(std)} (n = {n})"


def format_groups(table: pd.DataFrame, fmt: str) -> str:
    if fmt == "csv":
        return table.to_csv(index=False)

    def pm(prefix, f=lambda v: f"{v:.4f}"):
        return lambda r: mean_spread(r[prefix + "_mean"], r[prefix + "_std"], int(r[prefix + "_n"]), f)

    def runs(r):
        p = int(r.get("partial", 0))
        return f"{r['runs']}" + (f" ({p} partial)" if p else "")

    def rounds(r):
        lo, hi = int(r["rounds_min"]), int(r["rounds_max"])
        return f"{lo}" if lo == hi else f"{lo}–{hi}"

    def r2t(r):
        if not math.isfinite(r.get("target", math.nan)):
            return "–"
        n, total = int(r["rounds_to_target_n"]), int(r["runs"])
        if n == 0:
            return f"not reached (0/{total})"
        text = mean_spread(r["rounds_to_target_mean"], r["rounds_to_target_std"], n,
                           lambda v: f"{v:.1f}" if v != int(v) else f"{int(v)}")
        return text if n == total else f"{text}, {n}/{total} reached"

    spec = [("group", "group", lambda r: str(r["group"])),
            ("runs", "runs", runs),
            ("seeds", "seeds", lambda r: str(r["seeds"])),
            ("rounds", "rounds", rounds),
            ("best", "best acc", pm("best_accuracy")),
            ("last", "last acc", pm("last_accuracy")),
            ("last10", "last-10 acc", pm("mean_last10_accuracy")),
            ("r2t", "rounds to target", r2t),
            ("bytes", "B/round (up+down)", lambda r: fmt_bytes(r["bytes_per_round_mean"])),
            ("ups", "updates/s", pm("client_updates_per_second", fmt_rate))]
    headers = [h for _, h, _ in spec]
    targets = table["target"].dropna().unique() if "target" in table else []
    if len(targets) == 1:
        headers[7] = f"rounds to {targets[0]:.2f}"
    rows = [[f(r) for _, _, f in spec] for _, r in table.iterrows()]
    numeric = [False, True, False, True, True, True, True, True, True, True]
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


def write_compare(runs, out_dir, by=None, target=None) -> dict:
    """Overlaid curves (mean over each group's runs, min–max band), compare.md and the CSV
    tables in ``out_dir``. ``target``: the pooled accuracy of the rounds-to-target column
    (None: ``default_target``). Returns ``{"report", "plots", "groups", "summary", "table",
    "target"}``."""
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
    if target is None:
        target = default_target(groups)
        target_note = (f"{target:.2f}, 90 % of the highest group-mean best accuracy rounded down "
                       "(--target sets it)")
    else:
        target_note = f"{target:g} (--target)"
    table = group_table(groups, target if math.isfinite(target) else None)
    summary.to_csv(out / "summary.csv", index=False)
    table.to_csv(out / "groups.csv", index=False)
    md = ["# Comparison", "",
          f"{len(runs)} runs in {len(groups)} groups (grouped by {grouped_by}; lines are means over "
          "a group's runs, bands span their min–max).", "",
          "## Groups", "",
          "Accuracies are pooled test accuracies: mean ± standard deviation over the group's runs "
          "(population std) with n, the runs with a value; a single run shows `(n = 1)`, as it has "
          "no spread. \"rounds to\" is the first evaluated round whose pooled accuracy reached "
          f"the target {target_note}, resolved to the evaluation interval; B/round: the "
          "protocol's bytes up + down per round. Runs marked partial had not finished.", "",
          format_groups(table, "markdown"),
          "## Runs", "", format_frame(summary, "markdown"), "## Curves", ""]
    md += [f"![{n}]({n})\n" for n in made]
    report = out / "compare.md"
    report.write_text("\n".join(md), encoding="utf-8")
    return {"report": report, "plots": made, "groups": groups, "summary": summary, "table": table,
            "target": target}
