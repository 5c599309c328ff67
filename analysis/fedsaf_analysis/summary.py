"""The summary table: one row per run, as a DataFrame, a terminal table, Markdown or CSV."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from .errors import AnalysisError
from .reading import Run, _as_runs, is_finite

#: Columns of ``summary_table`` (the CSV has all of them, in this order).
COLUMNS = [
    "file", "algorithm", "dataset", "model", "partition", "clients", "ranks", "seed",
    "best_accuracy", "best_round", "last_accuracy", "mean_last10_accuracy", "rounds",
    "wall_seconds", "client_updates_per_second", "protocol_bytes_up_per_round",
    "protocol_bytes_down_per_round", "measured_bytes_per_round", "status", "resumes",
]

#: Columns of the terminal / Markdown table: (column, header, formatter).
DISPLAY = [
    ("file", "run", str),
    ("algorithm", "algorithm", str),
    ("dataset", "dataset", str),
    ("partition", "partition", str),
    ("clients", "clients", lambda v: f"{int(v)}"),
    ("ranks", "ranks", lambda v: f"{int(v)}"),
    ("best_accuracy", "best acc", lambda v: f"{v:.4f}"),
    ("last_accuracy", "last acc", lambda v: f"{v:.4f}"),
    ("mean_last10_accuracy", "last-10 acc", lambda v: f"{v:.4f}"),
    ("rounds", "rounds", lambda v: f"{int(v)}"),
    ("wall_seconds", "wall s", lambda v: f"{v:.2f}"),
    ("client_updates_per_second", "updates/s", lambda v: fmt_rate(v)),
    ("protocol_bytes_up_per_round", "up B/round", lambda v: f"{v:,.0f}"),
    ("protocol_bytes_down_per_round", "down B/round", lambda v: f"{v:,.0f}"),
    ("measured_bytes_per_round", "measured B/round", lambda v: f"{v:,.0f}"),
]

FORMATS = ("table", "markdown", "csv")


def fmt_rate(v: float) -> str:
    """Four significant digits below 1000 (slow real runs make well under one update per
    second), whole numbers with thousands separators above."""
    return f"{v:,.0f}" if abs(v) >= 1000 else f"{v:.4g}"


def partition_label(run: Run) -> str:
    """``dirichlet(α=0.1)``, ``pathological(2)``, ``quantity(1.5)``, ``natural``, ``iid``."""
    method = str(run.partition_stats.get("method") or run.config_flat.get("partition.method", "?"))
    cfg = run.config_flat
    if method == "dirichlet" and "partition.alpha" in cfg:
        return f"dirichlet(α={cfg['partition.alpha']:g})"
    if method == "pathological" and "partition.classes_per_client" in cfg:
        return f"pathological({cfg['partition.classes_per_client']})"
    if method == "quantity" and "partition.power" in cfg:
        return f"quantity({cfg['partition.power']:g})"
    return method


def summary_row(run: Run) -> dict:
    """The summary numbers of one run.

    Accuracies are the ``/metrics`` attributes (recomputed from ``/metrics/eval/accuracy`` when
    a run is incomplete); ``wall_seconds`` is the root attribute (the sum of the rounds' wall
    times while incomplete); ``client_updates_per_second`` is Σ cohort sizes / Σ round wall
    times; the byte columns are means over rounds of ``/metrics/rounds/protocol_bytes_*`` and
    of ``/timing/bytes_sent`` summed over ranks. ``best_round`` is a round number (first = 1),
    like every round of a ``Run``; -1 without an evaluation.
    """
    ev = run.evals
    acc = ev["accuracy"].to_numpy(dtype=float)
    m = run.metrics_attrs if run.complete else {}
    if len(acc) and np.isfinite(acc).any():
        best_i = int(np.nanargmax(acc))
        best = float(acc[best_i])
        best_round = int(ev["round"].iloc[best_i])  # already a round number (reading.py)
        last = float(acc[-1])
        last10 = float(np.nanmean(acc[-10:]))
    else:
        best = last = last10 = math.nan
        best_round = -1
    rd = run.rounds
    wall_rounds = rd["wall_seconds"].to_numpy(dtype=float)
    cohort = rd["cohort_size"].to_numpy(dtype=float)
    wall_total = float(np.nansum(wall_rounds))
    wall = run.attrs.get("wall_seconds") if run.complete else None
    return {
        "file": str(run.path),
        "algorithm": run.algorithm,
        "dataset": run.dataset,
        "model": run.model,
        "partition": partition_label(run),
        "clients": run.num_clients,
        "ranks": run.world_size,
        "seed": run.attrs.get("seed", run.config_flat.get("run.seed")),
        "best_accuracy": float(m.get("best_accuracy", best)),
        "best_round": int(m.get("best_round", best_round)),
        "last_accuracy": float(m.get("last_accuracy", last)),
        "mean_last10_accuracy": float(m.get("mean_last10_accuracy", last10)),
        "rounds": len(rd),
        "wall_seconds": float(wall) if is_finite(wall) else wall_total,
        "client_updates_per_second": (float(np.nansum(cohort)) / wall_total
                                      if wall_total > 0 else math.nan),
        "protocol_bytes_up_per_round": _mean(rd["protocol_bytes_up"]),
        "protocol_bytes_down_per_round": _mean(rd["protocol_bytes_down"]),
        "measured_bytes_per_round": _mean(rd["measured_bytes_sent"]),
        "status": str(run.attrs.get("status", "?")),
        "resumes": run.resumes,
    }


def _mean(series) -> float:
    values = series.to_numpy(dtype=float)
    return float(np.nanmean(values)) if len(values) and np.isfinite(values).any() else math.nan


def summary_table(runs) -> pd.DataFrame:
    """One row per run (``Run`` objects, files or folders); columns ``COLUMNS``."""
    return pd.DataFrame([summary_row(r) for r in _as_runs(runs)], columns=COLUMNS)


def _cell(value, fmt) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    return fmt(value)


def _display(df: pd.DataFrame, columns=None) -> tuple[list[str], list[list[str]], list[bool]]:
    spec = DISPLAY if columns is None else columns
    if "status" in df.columns and (df["status"] != "complete").any() and columns is None:
        spec = spec + [("status", "status", str)]
    headers = [h for _, h, _ in spec]
    rows = [[_cell(row[c], f) for c, _, f in spec] for _, row in df.iterrows()]
    numeric = [c not in ("file", "algorithm", "dataset", "partition", "status", "label", "mode",
                         "series", "group")
               for c, _, _ in spec]
    return headers, rows, numeric


def render(headers, rows, numeric, fmt: str) -> str:
    """Rows of strings as a terminal table or a Markdown table."""
    if fmt == "markdown":
        esc = [[c.replace("|", "\\|") for c in r] for r in rows]
        out = ["| " + " | ".join(headers) + " |",
               "|" + "|".join("---:" if n else "---" for n in numeric) + "|"]
        out += ["| " + " | ".join(r) + " |" for r in esc]
        return "\n".join(out) + "\n"
    widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(headers)]

    def line(cells):
        return "  ".join(c.rjust(w) if n else c.ljust(w)
                         for c, w, n in zip(cells, widths, numeric)).rstrip()
    out = [line(headers), line(["-" * w for w in widths])] + [line(r) for r in rows]
    return "\n".join(out) + "\n"


def format_frame(df: pd.DataFrame, fmt: str, columns=None) -> str:
    """A summary-like DataFrame as ``table`` (terminal), ``markdown`` or ``csv`` (every column,
    full precision)."""
    if fmt not in FORMATS:
        raise AnalysisError(f"unknown format {fmt!r} (use one of {', '.join(FORMATS)})")
    if fmt == "csv":
        return df.to_csv(index=False, float_format=None)
    headers, rows, numeric = _display(df, columns)
    return render(headers, rows, numeric, fmt)


def format_summary(runs_or_table, fmt: str = "table") -> str:
    """The summary table of runs (or of an existing ``summary_table``) as text."""
    table = (runs_or_table if isinstance(runs_or_table, pd.DataFrame)
             else summary_table(runs_or_table))
    return format_frame(table, fmt)
