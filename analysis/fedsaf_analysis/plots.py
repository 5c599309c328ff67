"""PNG plots. Every figure has a fixed pixel size (``WIDE`` or ``SQUARE`` at ``DPI``), so
reports line up and tests can check the size.

Figures are made with ``matplotlib.figure.Figure`` (no pyplot state, no display needed); they
render with the Agg backend whatever backend a notebook uses.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import EngFormatter, MaxNLocator

from .reading import TIMING_SECONDS, Run

DPI = 100
#: Line plots, timing, bytes: 1000 × 500 pixels.
WIDE = (10.0, 5.0)
#: Attention heat maps: 800 × 700 pixels.
SQUARE = (8.0, 7.0)

PHASE_COLOURS = {"train_seconds": "#4C72B0", "comm_seconds": "#DD8452",
                 "eval_seconds": "#55A868", "io_seconds": "#C44E52"}
PHASE_NAMES = {"train_seconds": "training", "comm_seconds": "communication",
               "eval_seconds": "evaluation", "io_seconds": "I/O"}


def pixel_size(figsize) -> tuple[int, int]:
    """(width, height) in pixels of a PNG written from a figure of this size."""
    return int(round(figsize[0] * DPI)), int(round(figsize[1] * DPI))


def new_figure(size=WIDE, **kwargs) -> Figure:
    return Figure(figsize=size, dpi=DPI, layout="constrained", **kwargs)


def save(fig: Figure, path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=DPI, format="png")
    return path


def _nanquiet(fn, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return fn(*args, **kwargs)


def _round_axis(ax):
    ax.set_xlabel("round")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(True, alpha=0.3)


def _title(run: Run) -> str:
    return (f"{run.algorithm} · {run.dataset} · {run.num_clients} clients · "
            f"{run.world_size} rank{'s' if run.world_size != 1 else ''}")


# -- single-run plots ----------------------------------------------------------------------------
def plot_accuracy(run: Run, path) -> Path:
    """Pooled test accuracy and the mean ± std of per-client accuracy per evaluation."""
    fig = new_figure()
    ax = fig.subplots()
    ev = run.evals
    x = ev["round"].to_numpy()
    ax.plot(x, ev["accuracy"], marker="o", ms=3, label="pooled accuracy")
    if "accuracy_mean" in ev:
        mean = ev["accuracy_mean"].to_numpy(dtype=float)
        ax.plot(x, mean, marker="s", ms=3, label="mean per-client accuracy")
        if "accuracy_std" in ev:
            std = ev["accuracy_std"].to_numpy(dtype=float)
            ax.fill_between(x, mean - std, mean + std, alpha=0.2, label="± std over clients")
    if "auc" in ev:
        ax.plot(x, ev["auc"], ls=":", label="micro AUC")
    ax.set_ylabel("accuracy")
    ax.set_ylim(0, 1.02)
    ax.set_title(f"Accuracy per round — {_title(run)}")
    ax.legend(loc="lower right")
    _round_axis(ax)
    return save(fig, path)


def plot_loss(run: Run, path) -> Path:
    """Pooled test loss per evaluation and mean training loss per round."""
    fig = new_figure()
    ax = fig.subplots()
    ax.plot(run.evals["round"], run.evals["loss"], marker="o", ms=3, label="test loss (pooled)")
    if "train_loss" in run.rounds:
        ax.plot(run.rounds["round"], run.rounds["train_loss"], marker=".", ms=3,
                label="training loss (cohort mean)")
    ax.set_ylabel("cross-entropy (nats)")
    ax.set_title(f"Loss per round — {_title(run)}")
    ax.legend(loc="upper right")
    _round_axis(ax)
    return save(fig, path)


def plot_client_accuracy(run: Run, path) -> Path:
    """Distribution of per-client accuracy over rounds: min–max, 10–90 % and 25–75 % bands,
    median, and (up to 60 clients) every client as a dot."""
    fig = new_figure()
    ax = fig.subplots()
    wide = run.client_accuracy_wide()
    x = wide.index.to_numpy()
    values = wide.to_numpy(dtype=float)
    q = {p: _nanquiet(np.nanpercentile, values, p, axis=1) for p in (0, 10, 25, 50, 75, 90, 100)}
    ax.fill_between(x, q[0], q[100], color="C0", alpha=0.12, label="min–max")
    ax.fill_between(x, q[10], q[90], color="C0", alpha=0.22, label="10–90 %")
    ax.fill_between(x, q[25], q[75], color="C0", alpha=0.35, label="25–75 %")
    ax.plot(x, q[50], color="C0", lw=2, label="median client")
    if values.shape[1] <= 60:
        xs = np.repeat(x, values.shape[1])
        jitter = (np.tile(np.arange(values.shape[1]), len(x)) / max(values.shape[1], 1) - 0.5) * 0.3
        ax.scatter(xs + jitter, values.reshape(-1), s=10, color="k", alpha=0.35, lw=0,
                   label="clients")
    ax.plot(run.evals["round"], run.evals["accuracy"], color="C3", ls="--", label="pooled")
    ax.set_ylim(-0.02, 1.02)
    ax.set_ylabel("test accuracy per client")
    ax.set_title(f"Per-client accuracy — {_title(run)}")
    ax.legend(loc="lower right", ncol=2, fontsize="small")
    _round_axis(ax)
    return save(fig, path)


def client_order(run: Run) -> np.ndarray:
    """Clients ordered by dominant class (the most frequent class of their train + test
    samples, from ``/partition/histogram``), then by how dominant it is (descending), then id."""
    p = run.partition
    order = np.lexsort((p["client"].to_numpy(), -np.nan_to_num(p["dominant_share"].to_numpy()),
                        p["dominant_class"].to_numpy()))
    return order


def plot_attention(run: Run, round: int, path) -> Path:
    """Heat map of ξ at ``round``; rows and columns ordered by ``client_order`` with the class
    blocks marked."""
    xi = run.attention(round)
    order = client_order(run)
    m = xi[np.ix_(order, order)]
    n = len(order)
    fig = new_figure(SQUARE)
    ax = fig.subplots()
    finite = m[np.isfinite(m)]
    off = m.copy()
    np.fill_diagonal(off, np.nan)
    off_finite = off[np.isfinite(off)]
    # colour scale from the off-diagonal weights: the self weight would wash out the structure
    vmax = float(np.max(off_finite)) if off_finite.size else (float(finite.max()) if finite.size else 1.0)
    cmap = _cmap_with_bad("viridis")
    im = ax.imshow(np.ma.masked_invalid(m), cmap=cmap, vmin=0.0, vmax=max(vmax, 1e-12),
                   interpolation="nearest", aspect="equal")
    cbar = fig.colorbar(im, ax=ax, shrink=0.85)
    cbar.set_label("ξ_ij (colour scale capped at the largest off-diagonal weight)")
    classes = run.partition["dominant_class"].to_numpy()[order]
    bounds = np.flatnonzero(np.diff(classes)) + 0.5
    for b in bounds:
        ax.axhline(b, color="w", lw=0.8)
        ax.axvline(b, color="w", lw=0.8)
    starts = np.concatenate([[0], np.flatnonzero(np.diff(classes)) + 1])
    ends = np.concatenate([starts[1:], [n]])
    sec = ax.secondary_xaxis("top")
    sec.set_xticks([(s + e - 1) / 2 for s, e in zip(starts, ends)])
    sec.set_xticklabels([f"c{classes[s]}" for s in starts], fontsize="small")
    sec.set_xlabel("dominant class of the client")
    if n <= 40:  # client ids as tick labels
        ax.set_xticks(range(n))
        ax.set_xticklabels(order, fontsize="x-small", rotation=90)
        ax.set_yticks(range(n))
        ax.set_yticklabels(order, fontsize="x-small")
        ax.set_xlabel("client j (sender)")
        ax.set_ylabel("client i (receiver)")
    else:  # too many for labels: positions in the class order would be mistaken for ids
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_xlabel(f"client j (sender), {n} clients in class order")
        ax.set_ylabel(f"client i (receiver), {n} clients in class order")
    ax.set_title(f"Attention ξ at round {round} — {run.algorithm}, {n} clients")
    return save(fig, path)


def _cmap_with_bad(name):
    from matplotlib import colormaps
    cmap = colormaps[name].copy()
    cmap.set_bad("#bbbbbb")
    return cmap


def plot_fisher(run: Run, path) -> Path:
    """Per-tensor (per-layer) Fisher magnitude: mean (solid) and max (dashed) per round."""
    fig = new_figure()
    ax = fig.subplots()
    f = run.fisher
    positive = True
    for i, (tensor, part) in enumerate(f.groupby("tensor", sort=False)):
        colour = f"C{i % 10}"
        ax.plot(part["round"], part["mean"], color=colour, marker=".", label=f"{tensor} mean")
        ax.plot(part["round"], part["max"], color=colour, ls="--", alpha=0.7, label=f"{tensor} max")
        vals = part[["mean", "max"]].to_numpy(dtype=float)
        vals = vals[np.isfinite(vals)]
        positive = positive and (vals.size == 0 or bool((vals > 0).all()))
    if positive and np.isfinite(f[["mean", "max"]].to_numpy(dtype=float)).any():
        ax.set_yscale("log")
    ax.set_ylabel("empirical Fisher diagonal F")
    ax.set_title(f"Fisher magnitude per shared tensor — {_title(run)}")
    ax.legend(fontsize="small", ncol=2 if f["tensor"].nunique() > 4 else 1)
    _round_axis(ax)
    return save(fig, path)


def plot_timing(run: Run, path) -> Path:
    """Left: seconds per round split into training / communication / evaluation / I/O (mean over
    ranks, stacked) with rank 0's round wall time. Right: mean seconds per round per rank."""
    fig = new_figure()
    left, right = fig.subplots(1, 2, width_ratios=[3, 2])
    t = run.timing
    per_round = t.groupby("round")[list(TIMING_SECONDS)].mean()
    x = per_round.index.to_numpy()
    bottom = np.zeros(len(x))
    for phase in TIMING_SECONDS:
        vals = per_round[phase].to_numpy()
        left.bar(x, vals, bottom=bottom, width=0.85, color=PHASE_COLOURS[phase],
                 label=PHASE_NAMES[phase])
        bottom += vals
    left.plot(run.rounds["round"], run.rounds["wall_seconds"], color="k", marker=".", lw=1,
              label="round wall time (rank 0)")
    top = np.nanmax(np.concatenate([bottom, run.rounds["wall_seconds"].to_numpy(dtype=float)]))
    if np.isfinite(top) and top > 0:
        left.set_ylim(0, top * 1.3)  # head room for the legend
    left.set_ylabel("seconds per round (mean over ranks)")
    left.set_title("Time per round")
    left.legend(fontsize="small", loc="upper center", ncol=3)
    _round_axis(left)

    per_rank = t.groupby("rank")[list(TIMING_SECONDS)].mean()
    ranks = per_rank.index.to_numpy()
    left_edge = np.zeros(len(ranks))
    for phase in TIMING_SECONDS:
        vals = per_rank[phase].to_numpy()
        right.barh(ranks, vals, left=left_edge, height=0.8, color=PHASE_COLOURS[phase])
        left_edge += vals
    right.set_xlabel("mean seconds per round")
    right.set_ylabel("rank")
    if len(ranks) <= 32:
        right.set_yticks(ranks)
    else:
        right.yaxis.set_major_locator(MaxNLocator(integer=True))
    right.set_ylim(ranks.max() + 0.6, ranks.min() - 0.6)  # rank 0 on top
    right.set_title("Per rank")
    right.grid(True, axis="x", alpha=0.3)
    fig.suptitle(_title(run))
    return save(fig, path)


def plot_bytes(run: Run, path) -> Path:
    """Bytes per round: what the FL protocol sends up and down, and what the ranks' collectives
    actually moved (``/timing/bytes_sent`` summed over ranks)."""
    fig = new_figure()
    ax = fig.subplots()
    r = run.rounds
    ax.plot(r["round"], r["protocol_bytes_up"], marker="^", ms=4, label="protocol up (client → server)")
    ax.plot(r["round"], r["protocol_bytes_down"], marker="v", ms=4,
            label="protocol down (server → client)")
    ax.plot(r["round"], r["measured_bytes_sent"], marker=".", ls="--",
            label="measured: sent by all ranks")
    ax.yaxis.set_major_formatter(EngFormatter(unit="B"))
    ax.set_ylim(bottom=0)
    ax.set_ylabel("bytes per round")
    ax.set_title(f"Bytes per round — {_title(run)}")
    ax.legend(fontsize="small")
    _round_axis(ax)
    return save(fig, path)


# -- several runs ------------------------------------------------------------------------------
def plot_curves(curves, path, ylabel: str, title: str, ylim=None, logy=False) -> Path:
    """Overlaid curves: ``curves`` is a list of (label, x, mean, low, high); a band is drawn
    between low and high where they differ (several seeds)."""
    fig = new_figure()
    ax = fig.subplots()
    for i, (label, x, mean, low, high) in enumerate(curves):
        colour = f"C{i % 10}"
        ax.plot(x, mean, color=colour, marker="." if len(x) < 60 else None, label=label)
        if low is not None and high is not None and np.any(np.asarray(high) > np.asarray(low)):
            ax.fill_between(x, low, high, color=colour, alpha=0.2)
    if ylim is not None:
        ax.set_ylim(*ylim)
    if logy:
        ax.set_yscale("log")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    if curves:
        ax.legend(fontsize="small", ncol=1 if len(curves) <= 8 else 2)
    _round_axis(ax)
    return save(fig, path)


def plot_scaling(series, path, xlabel: str, ylabel: str, title: str, ideal=None,
                 logy=False, ylim=None) -> Path:
    """Scaling curves: ``series`` is a list of (label, x, y); ``ideal`` a list of (label, x, y)
    drawn dotted."""
    fig = new_figure()
    ax = fig.subplots()
    xs = set()
    for i, (label, x, y) in enumerate(series):
        ax.plot(x, y, marker="o", color=f"C{i % 10}", label=label,
                ls="--" if str(label).startswith("weak") else "-")
        xs.update(np.asarray(x).tolist())
    for label, x, y in ideal or []:
        ax.plot(x, y, ls=":", color="grey", label=label)
    if xs and max(xs) / max(min(xs), 1e-12) >= 4:
        ax.set_xscale("log", base=2)
    ticks = sorted(xs)
    ax.set_xticks(ticks)
    ax.set_xticklabels([f"{t:g}" for t in ticks])
    ax.minorticks_off()
    if logy:
        ax.set_yscale("log")
    if ylim is not None:
        ax.set_ylim(*ylim)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(True, alpha=0.3)
    if series:
        ax.legend(fontsize="small")
    return save(fig, path)
