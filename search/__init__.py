"""derf-search's driver side: the `derf-search` command line, candidate generation runs, the
Optuna/Ray search, leaderboards, plots and export.

The public names are imported on first use, so that `derf-search --help` (which imports this
package) does not pay for torch, optuna and ray.

Example:
    >>> from search import RunSettings
    >>> RunSettings(catalog="paper", tasks=("mnist1d",)).study_for("mnist1d")
    'run:mnist1d'
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._export import export_module
    from ._leaderboard import leaderboard, load_leaderboard, load_trials
    from ._run import RunSummary, run_search
    from ._settings import RunSettings

_WHERE = {
    "RunSettings": "._settings",
    "RunSummary": "._run",
    "export_module": "._export",
    "leaderboard": "._leaderboard",
    "load_leaderboard": "._leaderboard",
    "load_trials": "._leaderboard",
    "run_search": "._run",
}

__all__ = [
    "RunSettings",
    "RunSummary",
    "export_module",
    "leaderboard",
    "load_leaderboard",
    "load_trials",
    "run_search",
]


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module 'search' has no attribute {name!r}")
    return getattr(importlib.import_module(_WHERE[name], __name__), name)
