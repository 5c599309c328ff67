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

from .errors import AnalysisError
from .reading import (SUPPORTED_MAJOR, AnalysisWarning, Run, find_runs, flatten_config, load_run,
                      load_runs)
from .summary import format_summary, summary_table

# The rest is imported on first use (PEP 562): compare, report and scaling pull in matplotlib,
# whose import takes longer than summarising a 100,000-client run file (bench/analysis_scale.sh).
_LAZY = {
    "group_runs": "compare", "group_table": "compare", "write_compare": "compare",
    "write_report": "report",
    "run_metrics": "scaling", "scaling_table": "scaling", "write_scaling": "scaling",
}
#: Submodules reachable as attributes of the package without importing them first.
_SUBMODULES = ("cli", "compare", "plots", "report", "scaling")


def __getattr__(name):
    from importlib import import_module
    if name in _SUBMODULES:
        return import_module(f".{name}", __name__)
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_LAZY) | set(_SUBMODULES))


__version__ = "0.1.0"

__all__ = [
    "AnalysisError", "AnalysisWarning", "Run", "SUPPORTED_MAJOR", "find_runs", "flatten_config",
    "format_summary", "group_runs", "group_table", "load_run", "load_runs", "run_metrics",
    "scaling_table", "summary_table", "write_compare", "write_report", "write_scaling",
]
