"""``scaling DIR``: speed-up, parallel efficiency, client-updates per second and the
communication share against ranks (or nodes), for strong and weak scaling.

Runs are put into series by their configuration without ``run.clients``, ``run.seed`` and
``run.out_dir`` (and without the rank count, which is not in the config). Inside a series:

- a **strong** curve is every run with the same number of clients at two or more rank counts;
- a **weak** curve is every run with the same number of clients per rank at two or more rank
  counts (clients grow with the ranks).

A run can serve in both (e.g. 6 clients on 1 rank is the base of the strong curve at 6 clients
and of the weak curve at 6 clients per rank). Runs at the same point (seeds, repeats) are
averaged.

Per run, over the rounds after the first (warm-up; all rounds if there is only one):
round time T = mean ``/metrics/rounds/wall_seconds``; throughput U = Σ cohort sizes / Σ round
wall times (client updates per second); communication share = Σ ``/timing/comm_seconds`` /
Σ (train + comm + eval + io seconds) over all ranks.
Speed-up = U(p) / U(p₀) against the curve's smallest rank count p₀ (for strong scaling this is
T(p₀) / T(p); for weak scaling it is the scaled speed-up); efficiency = speed-up · p₀ / p.
"""

from __future__ import annotations

import math
import warnings
from fractions import Fraction

import numpy as np
import pandas as pd

from .compare import differing_keys
from .errors import AnalysisError, make_output_dir
from .reading import LOCATION_KEYS, TIMING_SECONDS, AnalysisWarning, Run, _as_runs, steady_rounds
from .summary import fmt_rate, render

#: Keys that do not separate scaling series.
SERIES_IGNORE = ("run.clients", "run.seed", "ranks") + LOCATION_KEYS

TABLE_COLUMNS = ["mode", "series", "curve", "ranks", "nodes", "clients", "clients_per_rank",
                 "runs", "round_seconds", "client_updates_per_second", "speedup", "efficiency",
                 "comm_share"]


def run_metrics(run: Run) -> dict:
    """Round time, throughput and communication share of one run (see the module docs)."""
    mask = steady_rounds(run)
    r = run.rounds[mask]
    wall = r["wall_seconds"].to_numpy(dtype=float)
    cohort = r["cohort_size"].to_numpy(dtype=float)
    steady_ids = set(r["round"].tolist())
    t = run.timing[run.timing["round"].isin(steady_ids)]
    total = float(t[list(TIMING_SECONDS)].to_numpy().sum())
    return {
        "ranks": run.world_size,
        "clients": run.num_clients,
        "round_seconds": float(np.mean(wall)) if len(wall) else math.nan,
        "client_updates_per_second": (float(cohort.sum() / wall.sum())
                                      if len(wall) and wall.sum() > 0 else math.nan),
        "comm_share": float(t["comm_seconds"].sum()) / total if total > 0 else math.nan,
    }


def _series_key(run: Run, keys: list[str]):
    return tuple(repr(run.get(k)) for k in keys)


def scaling_table(runs, ranks_per_node: int | None = None) -> pd.DataFrame:
    """The scaling table (columns ``TABLE_COLUMNS``), one row per (curve, rank count).

    Incomplete runs, and runs resumed on a different number of ranks, are skipped with a
    warning. Raises ``AnalysisError`` when no series has
    two or more rank counts.
    """
    all_runs = _as_runs(runs)
    runs = []
    for run in all_runs:
        if not run.complete:
            warnings.warn(f"{run.path}: skipped (status {run.attrs.get('status')!r})",
                          AnalysisWarning, stacklevel=2)
        elif run.timing_ranks != run.world_size:
            warnings.warn(f"{run.path}: skipped (resumed on a different number of ranks: "
                          f"{run.timing_ranks} timing columns, world size {run.world_size})",
                          AnalysisWarning, stacklevel=2)
        else:
            runs.append(run)
    if not runs:
        raise AnalysisError("no complete runs to analyse")
    series_keys = differing_keys(runs, ignore=SERIES_IGNORE)
    series: dict[tuple, list[Run]] = {}
    for run in runs:
        series.setdefault(_series_key(run, series_keys), []).append(run)

    rows = []
    for members in series.values():
        label = ", ".join(f"{k}={members[0].get(k)}" for k in series_keys)
        pts = pd.DataFrame([run_metrics(r) for r in members])
        points = (pts.groupby(["ranks", "clients"])
                  .agg(runs=("round_seconds", "size"), round_seconds=("round_seconds", "mean"),
                       client_updates_per_second=("client_updates_per_second", "mean"),
                       comm_share=("comm_share", "mean"))
                  .reset_index())
        points["cpr"] = [Fraction(int(c), int(p)) for c, p in zip(points["clients"], points["ranks"])]
        for mode, field in (("strong", "clients"), ("weak", "cpr")):
            for value, curve in points.groupby(field, sort=True):
                curve = curve.sort_values("ranks")
                if curve["ranks"].nunique() < 2:
                    continue
                if mode == "weak" and curve["clients"].nunique() < 2:
                    continue
                base = curve.iloc[0]
                name = (f"strong, {int(value)} clients" if mode == "strong"
                        else f"weak, {float(value):g} clients/rank")
                for _, pt in curve.iterrows():
                    speedup = pt["client_updates_per_second"] / base["client_updates_per_second"]
                    rows.append({
                        "mode": mode, "series": label, "curve": name,
                        "ranks": int(pt["ranks"]),
                        "nodes": (pt["ranks"] / ranks_per_node) if ranks_per_node else math.nan,
                        "clients": int(pt["clients"]),
                        "clients_per_rank": float(pt["cpr"]),
                        "runs": int(pt["runs"]),
                        "round_seconds": float(pt["round_seconds"]),
                        "client_updates_per_second": float(pt["client_updates_per_second"]),
                        "speedup": float(speedup),
                        "efficiency": float(speedup * base["ranks"] / pt["ranks"]),
                        "comm_share": float(pt["comm_share"]),
                    })
    if not rows:
        found = sorted({(r.world_size, r.num_clients) for r in runs})
        raise AnalysisError(
            "no scaling series: need the same configuration at two or more rank counts "
            f"(found ranks/clients: {', '.join(f'{p}/{c}' for p, c in found)})")
    return pd.DataFrame(rows, columns=TABLE_COLUMNS)


def format_scaling(table: pd.DataFrame, fmt: str) -> str:
    if fmt == "csv":
        return table.to_csv(index=False)
    with_nodes = table["nodes"].notna().any()
    with_series = (table["series"] != "").any()
    spec = [("curve", "curve", str)]
    if with_series:
        spec.append(("series", "series", str))
    spec += [("ranks", "ranks", lambda v: str(int(v)))]
    if with_nodes:
        spec.append(("nodes", "nodes", lambda v: f"{v:g}"))
    spec += [("clients", "clients", lambda v: str(int(v))),
             ("runs", "runs", lambda v: str(int(v))),
             ("round_seconds", "s/round", lambda v: f"{v:.4g}"),
             ("client_updates_per_second", "updates/s", fmt_rate),
             ("speedup", "speed-up", lambda v: f"{v:.2f}"),
             ("efficiency", "efficiency", lambda v: f"{v:.1%}"),
             ("comm_share", "comm share", lambda v: f"{v:.1%}")]
    headers = [h for _, h, _ in spec]
    rows = [[f(r[c]) if not (isinstance(r[c], float) and math.isnan(r[c])) else "–"
             for c, _, f in spec] for _, r in table.iterrows()]
    numeric = [c not in ("curve", "series") for c, _, _ in spec]
    if fmt not in ("table", "markdown"):
        raise AnalysisError(f"unknown format {fmt!r} (use one of table, markdown, csv)")
    return render(headers, rows, numeric, fmt)


def write_scaling(runs, out_dir, ranks_per_node: int | None = None) -> dict:
    """Plots (speed-up, efficiency, throughput, communication share), scaling.csv and
    scaling.md in ``out_dir``. Returns ``{"report", "plots", "table"}``."""
    from . import plots  # matplotlib: imported only when plotting
    table = scaling_table(runs, ranks_per_node)
    out = make_output_dir(out_dir)
    xcol, xlabel = ("nodes", f"nodes ({ranks_per_node} ranks per node)") if ranks_per_node \
        else ("ranks", "MPI ranks")
    groups = [(f"{c}" + (f" [{s}]" if s else ""), g.sort_values("ranks"))
              for (c, s), g in table.groupby(["curve", "series"], sort=False)]

    def series(col):
        return [(label, g[xcol].to_numpy(), g[col].to_numpy()) for label, g in groups]

    ideal = []
    bases = sorted({float(g[xcol].iloc[0]) for _, g in groups})
    xmax = float(table[xcol].max())
    for b in bases:
        ideal.append((f"ideal (from {b:g})", np.array([b, xmax]), np.array([1.0, xmax / b])))
    made = {
        "speedup": plots.plot_scaling(series("speedup"), out / "scaling_speedup.png", xlabel,
                                      "speed-up (throughput ratio)",
                                      "Speed-up (strong) / scaled speed-up (weak)", ideal=ideal),
        "efficiency": plots.plot_scaling(series("efficiency"), out / "scaling_efficiency.png",
                                         xlabel, "parallel efficiency", "Parallel efficiency",
                                         ideal=[("ideal", np.array([table[xcol].min(), xmax]),
                                                 np.array([1.0, 1.0]))],
                                         ylim=(0, max(1.1, float(table["efficiency"].max()) * 1.1))),
        "throughput": plots.plot_scaling(series("client_updates_per_second"),
                                         out / "scaling_throughput.png", xlabel,
                                         "client updates per second", "Throughput"),
        "comm_share": plots.plot_scaling(series("comm_share"), out / "scaling_comm_share.png",
                                         xlabel, "communication / (train + comm + eval + I/O)",
                                         "Communication share of rank time", ylim=(0, 1)),
    }
    table.to_csv(out / "scaling.csv", index=False)
    md = ["# Scaling", "",
          "Speed-up = client-updates-per-second ratio against the smallest rank count of each "
          "curve (strong: same clients; weak: same clients per rank); efficiency = speed-up · "
          "p₀ / p; rounds after the first, mean over seeds.", "",
          format_scaling(table, "markdown"), ""]
    md += [f"![{k}]({p.name})\n" for k, p in made.items()]
    report = out / "scaling.md"
    report.write_text("\n".join(md), encoding="utf-8")
    return {"report": report, "plots": made, "table": table}
