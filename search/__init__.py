"""derf-search's driver side: the `derf-search` command line, candidate generation runs, the
Optuna/Ray search, leaderboards, plots and export.

Example:
    >>> from search import RunSettings
    >>> RunSettings(catalog="paper", tasks=("mnist1d",)).study_for("mnist1d")
    'run:mnist1d'
"""

from __future__ import annotations

from ._export import export_module
from ._leaderboard import leaderboard, load_leaderboard, load_trials
from ._run import RunSummary, run_search
from ._settings import RunSettings

__all__ = [
    "RunSettings",
    "RunSummary",
    "export_module",
    "leaderboard",
    "load_leaderboard",
    "load_trials",
    "run_search",
]
