"""The one exception type of fedsaf_analysis, and output folders that fail with it."""

from pathlib import Path


class AnalysisError(Exception):
    """A run file (or a set of them) cannot be analysed.

    The message names the file and what is wrong; the command line prints it as one line
    ``fedsaf-analysis: error: MESSAGE`` and exits with status 1.
    """


def make_output_dir(path) -> Path:
    """Creates ``path`` (and parents) or raises AnalysisError naming it."""
    out = Path(path)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise AnalysisError(f"{out}: cannot create the output folder ({exc.strerror})") from None
    return out
