#!/usr/bin/python3
"""Attention diagnostics of the FedSAF study's runs (issue 26, docs/results/fedsaf-study.md):
per fedsaf / fedamp run, how often the ξ guard fired, σ (= auto) in the first and last round
with attention, and the mean self-weight ξ_ii of the last stored ξ matrix. Markdown on stdout.

    /usr/bin/python3 docs/studies/fedsaf_study_attention.py runs/sweeps/NAME/points
"""
import sys
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "analysis"))
import numpy as np  # noqa: E402

from fedsaf_analysis import find_runs, load_run  # noqa: E402


def main(paths):
    rows = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        runs = [load_run(p) for p in find_runs(paths)]
    for run in runs:
        if run.algorithm not in ("fedsaf", "fedamp") or run.attention_stats is None:
            continue
        st = run.attention_stats
        st = st[st["rows"] > 0] if "rows" in st else st
        if st.empty:
            continue
        fired, total = int(st["guard_fired"].sum()), int(st["rows"].sum())
        xi_ii = "–"
        if len(run.attention_rounds):
            r = int(run.attention_rounds[-1])
            xi = run.attention(r)
            d = np.diag(xi)
            d = d[np.isfinite(d)]
            if len(d):
                xi_ii = f"{d.mean():.3f} (round {r}; min {d.min():.3f}, max {d.max():.3f})"
        cfg = run.config_flat
        label = (f"{run.algorithm} n_head={cfg.get('model.n_head')} α_K={cfg.get('attention.alpha_k'):g} "
                 f"kernel={cfg.get('attention.kernel')} fisher={cfg.get('fedsaf.fisher_mode')}"
                 if run.algorithm == "fedsaf" else f"fedamp α_K={cfg.get('attention.alpha_k'):g}")
        rows.append((label, cfg.get("run.seed"), len(run.rounds), f"{fired}/{total}",
                     f"{st['sigma'].iloc[0]:.3g}", f"{st['sigma'].iloc[-1]:.3g}", xi_ii,
                     str(run.attrs.get("status", "?"))))
    print("| run | seed | rounds | ξ guard fired / rows | σ first | σ last | mean ξ_ii of the last stored ξ | status |")
    print("|---|---:|---:|---:|---:|---:|---|---|")
    for r in sorted(rows):
        print("| " + " | ".join(str(c) for c in r) + " |")


if __name__ == "__main__":
    main(sys.argv[1:] or ["runs/sweeps"])
