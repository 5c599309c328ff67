"""The command line: ``python3 -m fedsaf_analysis {summary,report,compare,scaling} ...``."""

from __future__ import annotations

import argparse
import sys
import warnings

PROG = "fedsaf-analysis"


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog=PROG, description="Post-hoc analysis of fedsaf HDF5 run files (io/SCHEMA.md).")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    fmt = dict(choices=["table", "markdown", "csv"], default="table",
               help="output format of the table on stdout (default: table)")

    s = sub.add_parser("summary", help="one row per run: accuracy, time, bytes",
                       description="One row per run: algorithm, data set, partition, clients, "
                       "ranks, best / last / mean-of-last-10 accuracy, rounds, wall time, "
                       "client updates per second, bytes per round. Folders are searched "
                       "recursively for run.h5.")
    s.add_argument("runs", nargs="+", metavar="RUN.h5")
    s.add_argument("--format", **fmt)

    r = sub.add_parser("report", help="PNG plots and report.md of one run",
                       description="Accuracy / loss, per-client accuracy, attention heat maps, "
                       "Fisher magnitude, time per round per rank and bytes per round as PNGs, "
                       "and a report.md with the summary table.")
    r.add_argument("run", metavar="RUN.h5")
    r.add_argument("-o", "--out", required=True, metavar="DIR", help="output folder")
    r.add_argument("--attention-rounds", metavar="R,R,...",
                   help="round numbers whose attention matrix to draw, counted as fedsaf prints "
                   "them (the first round is 1; the file's xi_round + 1) (default: first, middle "
                   "and last stored)")

    c = sub.add_parser("compare", help="several runs overlaid, grouped and averaged over seeds",
                       description="Accuracy, per-client accuracy, loss, training loss and time "
                       "per round of several runs overlaid; runs are grouped by --by keys (default: "
                       "every config key that differs except run.seed) and averaged within a "
                       "group with a min-max band.")
    c.add_argument("runs", nargs="+", metavar="RUN.h5")
    c.add_argument("--by", action="append", metavar="KEY",
                   help="config key to group by, e.g. run.algorithm, partition.alpha, ranks "
                   "(repeatable)")
    c.add_argument("-o", "--out", default="compare", metavar="DIR",
                   help="output folder for plots and tables (default: ./compare)")
    c.add_argument("--target", type=float, metavar="ACC",
                   help="pooled accuracy of the rounds-to-target column (default: 90%% of the "
                   "highest group-mean best accuracy, rounded down to 0.01)")
    c.add_argument("--format", **fmt)

    g = sub.add_parser("scaling", help="speed-up, efficiency, throughput, communication share",
                       description="Finds every run.h5 below DIR; strong scaling (same clients "
                       "at several rank counts) and weak scaling (clients grow with the ranks): "
                       "speed-up, parallel efficiency, client updates per second and the "
                       "communication share, as plots and a table.")
    g.add_argument("dir", metavar="DIR")
    g.add_argument("-o", "--out", default="scaling", metavar="DIR",
                   help="output folder for plots and tables (default: ./scaling)")
    g.add_argument("--ranks-per-node", type=int, metavar="K",
                   help="also give nodes = ranks / K (the run files do not record nodes)")
    g.add_argument("--format", **fmt)
    return p


def _rounds(text: str | None):
    if text is None:
        return None
    from .errors import AnalysisError
    try:
        return [int(x) for x in text.replace(" ", "").split(",") if x]
    except ValueError:
        raise AnalysisError(f"--attention-rounds: expected comma-separated round numbers "
                            f"(the first round is 1), got {text!r}") from None


def _run(args) -> int:
    # Each command imports what it uses: summary never imports matplotlib, whose import alone
    # takes longer than summarising a 100,000-client run file.
    out = sys.stdout
    if args.command != "summary":  # the plotting commands
        import matplotlib
        matplotlib.use("Agg")
    if args.command == "summary":
        from .summary import format_summary
        out.write(format_summary(args.runs, args.format))
    elif args.command == "report":
        from .reading import load_run
        from .report import write_report
        result = write_report(load_run(args.run), args.out, _rounds(args.attention_rounds))
        out.write(f"wrote {result['report']} and {len(result['plots'])} plots\n")
    elif args.command == "compare":
        from .compare import format_groups, write_compare
        result = write_compare(args.runs, args.out, args.by, args.target)
        if args.format == "csv":
            out.write(result["summary"].to_csv(index=False))
        else:
            from .summary import format_frame
            out.write(format_groups(result["table"], args.format))
            out.write("\n")
            out.write(format_frame(result["summary"], args.format))
            out.write(f"\nwrote {result['report']} and {len(result['plots'])} plots\n")
    elif args.command == "scaling":
        from .scaling import format_scaling, write_scaling
        if args.ranks_per_node is not None and args.ranks_per_node < 1:
            from .errors import AnalysisError
            raise AnalysisError("--ranks-per-node must be at least 1")
        result = write_scaling([args.dir], args.out, args.ranks_per_node)
        out.write(format_scaling(result["table"], args.format))
        if args.format != "csv":
            out.write(f"\nwrote {result['report']} and {len(result['plots'])} plots\n")
    return 0


def main(argv=None) -> int:
    args = _parser().parse_args(argv)

    def one_line_warning(message, category, filename, lineno, file=None, line=None):
        print(f"{PROG}: warning: {message}", file=sys.stderr)
    with warnings.catch_warnings():
        warnings.showwarning = one_line_warning
        return _guarded(args)


def _guarded(args) -> int:
    from .errors import AnalysisError
    try:
        return _run(args)
    except AnalysisError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 1
    except BrokenPipeError:  # e.g. `summary ... | head`
        return 1
    except OSError as exc:  # writing outputs
        where = f"{exc.filename}: " if getattr(exc, "filename", None) else ""
        print(f"{PROG}: error: {where}{exc.strerror or exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
