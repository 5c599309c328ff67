"""fedsaf_analysis: post-hoc analysis of fedsaf HDF5 run files (io/SCHEMA.md, version 1.x).

Rounds are numbered as fedsaf prints them (the first round is round 1), not by the file's 0-based
index: every ``round`` column, ``best_round`` and ``attention(round)`` is index + 1.

Notebook use::

    from fedsaf_analysis import load_run, load_runs, summary_table
    run = load_run("runs/default/run.h5")
    run.evals            # per-evaluation metrics (DataFrame)
    run.attention(10)    # N × N ξ of round 10, the 10th round (None for runs without attention)
    df = load_runs(["runs/a", "runs/b"])   # one row per (run, round), keyed by config values

Command line: ``python3 -m fedsaf_analysis {summary,report,compare,scaling} ...``.
"""

from .compare import group_runs, group_table, write_compare
from .errors import AnalysisError
from .reading import (SUPPORTED_MAJOR, AnalysisWarning, Run, find_runs, flatten_config, load_run,
                      load_runs)
from .report import write_report
from .scaling import run_metrics, scaling_table, write_scaling
from .summary import format_summary, summary_table

__version__ = "0.1.0"

__all__ = [
    "AnalysisError", "AnalysisWarning", "Run", "SUPPORTED_MAJOR", "find_runs", "flatten_config",
    "format_summary", "group_runs", "group_table", "load_run", "load_runs", "run_metrics",
    "scaling_table", "summary_table", "write_compare", "write_report", "write_scaling",
]
