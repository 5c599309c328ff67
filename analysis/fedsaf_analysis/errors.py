"""The one exception type of fedsaf_analysis."""


class AnalysisError(Exception):
    """A run file (or a set of them) cannot be analysed.

    The message names the file and what is wrong; the command line prints it as one line
    ``fedsaf-analysis: error: MESSAGE`` and exits with status 1.
    """
