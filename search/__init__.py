"""derf-search's driver side, in rooms: ``cli`` (the `derf-search` command line), ``driver``
(settings, run directory, Optuna study, Ray workers, the loop), ``reports`` (leaderboards,
plots, study reports, export), ``studies`` (the paper's ablations, the sanity panel) and
``bench`` (benchmarks). docs/architecture.md maps them.

The public names are imported on first use, so that `derf-search --help` (which imports this
package) does not pay for torch, optuna and ray.

Example:
    >>> from search import RunSettings
    >>> RunSettings(catalog="paper", tasks=("mnist1d",)).study_for("mnist1d")
    'run:mnist1d'
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._lazy import lazy_attributes

if TYPE_CHECKING:
    from .driver import RunSettings, RunSummary, load_trials, run_search
    from .reports import export_module, leaderboard, load_leaderboard, write_outputs

_WHERE = {
    "RunSettings": ".driver",
    "RunSummary": ".driver",
    "export_module": ".reports",
    "leaderboard": ".reports",
    "load_leaderboard": ".reports",
    "load_trials": ".driver",
    "run_search": ".driver",
    "write_outputs": ".reports",
}

__all__ = [
    "RunSettings",
    "RunSummary",
    "export_module",
    "leaderboard",
    "load_leaderboard",
    "load_trials",
    "run_search",
    "write_outputs",
]

__getattr__ = lazy_attributes(__name__, _WHERE)
